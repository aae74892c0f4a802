package alerts

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

func fail(email, ip string) event.Event {
	return event.Event{EventType: event.LoginFailure, Source: event.SourcePortal, Email: event.Str(email), RemoteAddress: ip, Reason: event.BadCredentials}
}

func success(email, ip string) event.Event {
	return event.Event{EventType: event.LoginSuccess, Source: event.SourcePortal, Email: event.Str(email), RemoteAddress: ip}
}

// feed observes evs one second apart from start and returns the alerts by rule.
func feed(t *testing.T, e *Engine, start time.Time, evs []event.Event) map[string][]Alert {
	t.Helper()
	got := map[string][]Alert{}
	for i, ev := range evs {
		for _, a := range e.Observe(ev, start.Add(time.Duration(i)*time.Second)) {
			got[a.Rule] = append(got[a.Rule], a)
		}
	}
	return got
}

func engine(t *testing.T) *Engine {
	e, err := New(Defaults(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEachRuleFiresOnce: each simulated attack fires its rule once (the
// cooldown holds the rest back), with the subject and the count.
func TestEachRuleFiresOnce(t *testing.T) {
	for _, tc := range []struct {
		rule, subject string
		count         int
		evs           func() []event.Event
	}{
		{IPFailures, "203.0.113.9", 10, func() (evs []event.Event) {
			for i := range 200 {
				evs = append(evs, fail(fmt.Sprintf("u%d@x.com", i%3), "203.0.113.9"))
			}
			return
		}},
		{CredentialStuffing, "198.51.100.7", 5, func() (evs []event.Event) {
			for i := range 9 { // below ip_failures' 10
				evs = append(evs, fail(fmt.Sprintf("victim%d@x.com", i), "198.51.100.7"))
			}
			return
		}},
		{DistributedAttack, "target@x.com", 5, func() (evs []event.Event) {
			for i := range 100 {
				evs = append(evs, fail("target@x.com", fmt.Sprintf("192.0.2.%d", i)))
			}
			return
		}},
		{GuessedPassword, "guessed@x.com", 5, func() (evs []event.Event) {
			for i := range 6 {
				evs = append(evs, fail("guessed@x.com", fmt.Sprintf("192.0.2.%d", i%2)))
			}
			return append(evs, success("guessed@x.com", "192.0.2.1"), fail("guessed@x.com", "192.0.2.1"), success("guessed@x.com", "192.0.2.1"))
		}},
		{AccountLocked, "locked@x.com", 5, func() []event.Event {
			lock := event.Event{EventType: event.AccountLocked, Email: event.Str("locked@x.com"), RemoteAddress: "192.0.2.1", FailureCount: 5}
			return []event.Event{lock, lock, lock}
		}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			got := feed(t, engine(t), t0, tc.evs())
			as := got[tc.rule]
			if len(as) != 1 || as[0].Subject != tc.subject || as[0].Count != tc.count {
				t.Fatalf("%s alerts: %+v (all: %v)", tc.rule, as, got)
			}
			ev := as[0].Event()
			msg := event.Value(ev.Message)
			if ev.EventType != event.Alert || !strings.HasPrefix(msg, fmt.Sprintf("alert rule=%s subject=%s count=%d", tc.rule, tc.subject, tc.count)) {
				t.Fatalf("event %s %q", ev.EventType, msg)
			}
			if e := engine(t); e.Observe(ev, t0) != nil {
				t.Fatal("an ALERT event fired a rule")
			}
		})
	}
}

// TestNormalTrafficNoAlert: a day of ordinary logins: typos, a forgotten
// password then success, many users behind one office IP, one user on a few
// networks: no alert.
func TestNormalTrafficNoAlert(t *testing.T) {
	e := engine(t)
	var evs []event.Event
	for day := range 24 {
		for u := range 50 {
			email := fmt.Sprintf("user%d@corp.com", u)
			ip := "203.0.113.1" // the office NAT
			if u%5 == 0 {
				ip = fmt.Sprintf("198.51.100.%d", day%3) // home, phone, café
			}
			if (u+day)%17 == 0 {
				evs = append(evs, fail(email, ip), fail(email, ip)) // typos
			}
			evs = append(evs, success(email, ip))
		}
	}
	// About 1,300 events a minute apart: some 6 failures an hour from the
	// office NAT (a busier office needs a higher ip_failures threshold).
	got := map[string][]Alert{}
	for i, ev := range evs {
		for _, a := range e.Observe(ev, t0.Add(time.Duration(i)*time.Minute)) {
			got[a.Rule] = append(got[a.Rule], a)
		}
	}
	if len(got) != 0 {
		for r, as := range got {
			t.Errorf("%s fired: %s", r, as[0].Message())
		}
	}
}

// TestCooldownEnds: after the cooldown, a new attack alerts again; the window
// forgets old failures.
func TestCooldownEnds(t *testing.T) {
	e, err := New([]Rule{{Name: IPFailures, Threshold: 3, Window: time.Minute}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	burst := []event.Event{fail("a@x.com", "192.0.2.9"), fail("a@x.com", "192.0.2.9"), fail("a@x.com", "192.0.2.9")}
	if n := len(feed(t, e, t0, burst)[IPFailures]); n != 1 {
		t.Fatalf("first burst: %d alerts", n)
	}
	if n := len(feed(t, e, t0.Add(10*time.Second), burst)[IPFailures]); n != 0 {
		t.Fatalf("within the cooldown: %d alerts", n)
	}
	if n := len(feed(t, e, t0.Add(2*time.Minute), burst[:2])[IPFailures]); n != 0 {
		t.Fatalf("2 failures after the window: %d alerts", n)
	}
	if n := len(feed(t, e, t0.Add(2*time.Minute+5*time.Second), burst[:1])[IPFailures]); n != 1 {
		t.Fatalf("3 failures after the cooldown: %d alerts", n)
	}
}

// TestBoundedMemory: a flood of distinct IPs never holds more than maxKeys
// subjects per rule.
func TestBoundedMemory(t *testing.T) {
	e, err := New(Defaults(), 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10000 {
		e.Observe(fail(fmt.Sprintf("u%d@x.com", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)), t0.Add(time.Duration(i)*time.Millisecond))
	}
	for i, m := range e.seen {
		if len(m) > 100 {
			t.Fatalf("rule %s holds %d subjects", e.rules[i].Name, len(m))
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		r    Rule
		want string
	}{
		{Rule{Name: "bogus"}, `alert rule "bogus": want one of`},
		{Rule{Name: IPFailures, Window: time.Hour}, "threshold: want a positive integer"},
		{Rule{Name: IPFailures, Threshold: 3}, "window: want a positive duration"},
	} {
		if _, err := New([]Rule{tc.r}, 0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.r, err, tc.want)
		}
	}
}
