package alerts_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/alerts"
	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

func failure(ip string) event.Event {
	return event.Event{EventType: event.LoginFailure, Email: event.Str("a@x.com"), RemoteAddress: ip}
}

// TestFleetLifecycle: an Engine made by NewFleet answers nothing from
// Observe; events observed before Start wait for it; the alerts come through
// Start's function at the latest one flush interval later; Close applies what
// waits; events after Close are dropped.
func TestFleetLifecycle(t *testing.T) {
	rules := []alerts.Rule{{Name: alerts.IPFailures, Threshold: 3, Window: time.Minute}}
	e, err := alerts.NewFleet(rules, alerts.NewMemory(0), alerts.FleetOptions{FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []alerts.Alert
	now := time.Now()
	for range 2 {
		if as := e.Observe(failure("192.0.2.1"), now); as != nil {
			t.Fatalf("Observe answered %v", as)
		}
	}
	if st := e.Stats(); st.Pending != 2 {
		t.Fatalf("before Start: %+v, want 2 pending", st)
	}
	e.Start(func(as []alerts.Alert) {
		mu.Lock()
		got = append(got, as...)
		mu.Unlock()
	})
	e.Observe(failure("192.0.2.1"), now)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert 5 s after the third failure: %+v", e.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for range 3 {
		e.Observe(failure("192.0.2.2"), now)
	}
	_ = e.Close()
	e.Observe(failure("192.0.2.3"), now)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].Subject != "192.0.2.1" || got[1].Subject != "192.0.2.2" || got[1].Count != 3 {
		t.Fatalf("alerts %+v", got)
	}
	if st := e.Stats(); st.Applied != 6 || st.Dropped != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v, want 6 applied, 1 dropped", st)
	}
}

// TestFleetCloseUnstarted: Close of an engine never started drops what waits.
func TestFleetCloseUnstarted(t *testing.T) {
	e, err := alerts.NewFleet(alerts.Defaults(), alerts.NewMemory(0), alerts.FleetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.Observe(failure("192.0.2.1"), time.Now())
	_ = e.Close()
	if st := e.Stats(); st.Dropped != 1 || st.Pending != 0 || st.Applied != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestFleetStage: the stage of a fleet engine answers nothing from Observe
// and hands its findings to the function given to its Start.
func TestFleetStage(t *testing.T) {
	rules := []alerts.Rule{{Name: alerts.IPFailures, Threshold: 2, Window: time.Minute}}
	e, err := alerts.NewFleet(rules, alerts.NewMemory(0), alerts.FleetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := e.Stage().(interface {
		connectors.Stage
		Start(func([]connectors.Finding))
		Close() error
	})
	found := make(chan connectors.Finding, 10)
	st.Start(func(fs []connectors.Finding) {
		for _, f := range fs {
			found <- f
		}
	})
	for range 2 {
		if fs := st.Observe(failure("192.0.2.1"), time.Now()); fs != nil {
			t.Fatalf("Observe answered %v", fs)
		}
	}
	_ = st.Close()
	select {
	case f := <-found:
		if f.Kind != alerts.IPFailures || f.Event.EventType != event.Alert || !strings.Contains(event.Value(f.Event.Message), "count=2") {
			t.Fatalf("finding %+v", f)
		}
	default:
		t.Fatal("no finding after Close")
	}
}

// TestRuleNamedTwice: one rule per name, since windows and cooldowns are
// per rule name.
func TestRuleNamedTwice(t *testing.T) {
	r := alerts.Rule{Name: alerts.IPFailures, Threshold: 3, Window: time.Minute}
	for _, mk := range []func([]alerts.Rule) error{
		func(rs []alerts.Rule) error { _, err := alerts.New(rs, 0); return err },
		func(rs []alerts.Rule) error {
			_, err := alerts.NewFleet(rs, alerts.NewMemory(0), alerts.FleetOptions{})
			return err
		},
	} {
		if err := mk([]alerts.Rule{r, r}); err == nil || !strings.Contains(err.Error(), "alert rule ip_failures: listed twice") {
			t.Fatalf("two ip_failures rules: %v", err)
		}
	}
}
