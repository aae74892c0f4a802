package connectors

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

// pipelineOf builds a pipeline over a store and three outputs: kafka and hook
// are selectable connectors (with "idle", configured but inactive), file is
// an output every event goes to.
func pipelineOf(t *testing.T, c PipelineConfig) (p *Pipeline, store, kafka, hook, file *recorder) {
	t.Helper()
	store, kafka, hook, file = &recorder{}, &recorder{}, &recorder{}, &recorder{}
	c.FlushInterval = time.Millisecond
	c.Store = store
	c.Outputs = []Named{{Name: "kafka", Connector: kafka}, {Name: "hook", Connector: hook}, {Name: "file#0", Connector: file}}
	c.Selectable = []string{"kafka", "hook", "idle"}
	p, err := NewPipeline(c)
	if err != nil {
		t.Fatal(err)
	}
	return p, store, kafka, hook, file
}

func closePipeline(t *testing.T, p *Pipeline) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func ids(r *recorder) []string {
	var s []string
	for _, e := range r.events() {
		s = append(s, e.ID)
	}
	slices.Sort(s)
	return s
}

// TestPipelineRoutes: a route's connector list and save_to_database choose
// among the outputs; outputs that are not selectable get every event.
func TestPipelineRoutes(t *testing.T) {
	p, store, kafka, hook, file := pipelineOf(t, PipelineConfig{})
	some := []string{"kafka", "idle"}
	none := []string{}
	for i, c := range []struct {
		names *[]string
		save  bool
		want  []string
	}{
		{nil, true, []string{"store", "kafka", "hook", "file#0"}},
		{nil, false, []string{"kafka", "hook", "file#0"}},
		{&some, true, []string{"store", "kafka", "file#0"}},
		{&some, false, []string{"kafka", "file#0"}},
		{&none, true, []string{"store", "file#0"}},
		{&none, false, []string{"file#0"}},
	} {
		r, err := p.Route("connectors", c.names, c.save)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Names(r); !sameSet(got, c.want) {
			t.Errorf("case %d: route chooses %v, want %v", i, got, c.want)
		}
		p.EmitTo(testEvent(i), r)
	}
	closePipeline(t, p)
	for name, c := range map[string]struct {
		r    *recorder
		want []string
	}{
		"store":  {store, []string{"ev-000000", "ev-000002", "ev-000004"}},
		"kafka":  {kafka, []string{"ev-000000", "ev-000001", "ev-000002", "ev-000003"}},
		"hook":   {hook, []string{"ev-000000", "ev-000001"}},
		"file#0": {file, []string{"ev-000000", "ev-000001", "ev-000002", "ev-000003", "ev-000004", "ev-000005"}},
	} {
		if got := ids(c.r); !slices.Equal(got, c.want) {
			t.Errorf("%s received %v, want %v", name, got, c.want)
		}
	}
	if store.closeCount() != 0 {
		t.Error("the pipeline closed the log store: its owner does")
	}
	if kafka.closeCount() != 1 || file.closeCount() != 1 {
		t.Error("the pipeline did not close its connectors")
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestPipelineRouteErrors: a name no connector has is an error naming the
// field and the defined connectors.
func TestPipelineRouteErrors(t *testing.T) {
	p, _, _, _, _ := pipelineOf(t, PipelineConfig{})
	defer closePipeline(t, p)
	bad := []string{"kafka", "kafak"}
	_, err := p.Route("route connectors", &bad, true)
	if err == nil || err.Error() != `route connectors: unknown connector "kafak": the loginguard app defines hook, idle, kafka` {
		t.Errorf("error %v", err)
	}
	q, err := NewPipeline(PipelineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer closePipeline(t, q)
	if _, err := q.Route("connectors", &bad, true); err == nil || !strings.Contains(err.Error(), "defines none") {
		t.Errorf("error %v", err)
	}
	// Without a store, a route that does not save is every output.
	if r, err := q.Route("connectors", nil, false); err != nil || r.to.chosen {
		t.Errorf("route %v, %v", r, err)
	}
}

// TestPipelineNameTwice: two outputs with one name, or one named like the log
// store, are refused, and the outputs are closed.
func TestPipelineNameTwice(t *testing.T) {
	a, b := &recorder{}, &recorder{}
	for _, c := range []PipelineConfig{
		{Outputs: []Named{{Name: "x", Connector: a}, {Name: "x", Connector: b}}},
		{Store: &recorder{}, Outputs: []Named{{Name: "store", Connector: a}, {Name: "y", Connector: b}}},
	} {
		a.closed, b.closed = 0, 0
		if _, err := NewPipeline(c); err == nil || !strings.Contains(err.Error(), "used twice") {
			t.Errorf("error %v", err)
		}
		if a.closeCount() != 1 || b.closeCount() != 1 {
			t.Error("outputs left open")
		}
	}
}

// ruleStage finds one alert per failure of user0.
type ruleStage struct{ seen atomic.Int64 }

func (s *ruleStage) Observe(ev event.Event, now time.Time) []Finding {
	s.seen.Add(1)
	if ev.Email == nil || *ev.Email != "user0@example.com" {
		return nil
	}
	al := ev
	al.ID = "alert-" + ev.ID
	al.EventType = event.Alert
	return []Finding{{Event: al, Kind: "rule_x", Message: "loginguard alert", Attrs: []slog.Attr{slog.String("rule", "rule_x")}}}
}

// TestPipelineStage: a stage sees every event; its findings go to the log
// store and its route's connectors, are logged and reported, and are not
// shown to the stages again.
func TestPipelineStage(t *testing.T) {
	var logged strings.Builder
	var found []string
	st := &ruleStage{}
	only := []string{"hook"}
	p, store, kafka, hook, file := pipelineOf(t, PipelineConfig{
		Options: Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))},
		Stages:  []StageConfig{{Stage: st, Field: "alerts connectors", Connectors: &only}},
		Found:   func(f Finding) { found = append(found, f.Kind) },
	})
	none := []string{}
	quiet, err := p.Route("connectors", &none, false)
	if err != nil {
		t.Fatal(err)
	}
	p.EmitTo(testEvent(0), quiet) // user0: one alert
	p.Emit(testEvent(1))
	closePipeline(t, p)
	if st.seen.Load() != 2 {
		t.Errorf("the stage saw %d events, want 2 (not its own findings)", st.seen.Load())
	}
	if !slices.Equal(found, []string{"rule_x"}) || !strings.Contains(logged.String(), `msg="loginguard alert" rule=rule_x`) {
		t.Errorf("found %v, logged %q", found, logged.String())
	}
	for name, c := range map[string]struct {
		r    *recorder
		want []string
	}{
		"store":  {store, []string{"alert-ev-000000", "ev-000001"}},
		"kafka":  {kafka, []string{"ev-000001"}},
		"hook":   {hook, []string{"alert-ev-000000", "ev-000001"}},
		"file#0": {file, []string{"alert-ev-000000", "ev-000000", "ev-000001"}},
	} {
		if got := ids(c.r); !slices.Equal(got, c.want) {
			t.Errorf("%s received %v, want %v", name, got, c.want)
		}
	}
}

// TestPipelineStoreLag: the store's write lag is told per event written.
func TestPipelineStoreLag(t *testing.T) {
	var n atomic.Int64
	var worst atomic.Int64
	p, _, _, _, _ := pipelineOf(t, PipelineConfig{StoreLag: func(d time.Duration) {
		n.Add(1)
		if int64(d) > worst.Load() {
			worst.Store(int64(d))
		}
	}})
	ev := testEvent(0)
	ev.EventDate = time.Now().Add(-time.Minute)
	p.Emit(ev)
	p.Emit(testEvent(1))
	closePipeline(t, p)
	if n.Load() != 2 || time.Duration(worst.Load()) < time.Minute {
		t.Errorf("lag told %d times, worst %v; want 2, ≥ 1m", n.Load(), time.Duration(worst.Load()))
	}
}

// lateStage reports one finding per event from a goroutine of its own.
type lateStage struct {
	report  func([]Finding)
	started chan struct{}
	in      chan event.Event
	done    chan struct{}
	closed  atomic.Bool
}

func (s *lateStage) Start(report func([]Finding)) {
	s.report = report
	go func() {
		defer close(s.done)
		for ev := range s.in {
			al := ev
			al.ID = "late-" + ev.ID
			s.report([]Finding{{Event: al, Kind: "late", Message: "late finding"}})
		}
	}()
	close(s.started)
}

func (s *lateStage) Observe(ev event.Event, now time.Time) []Finding {
	s.in <- ev
	return nil
}

func (s *lateStage) Close() error {
	s.closed.Store(true)
	close(s.in)
	<-s.done
	return nil
}

// TestPipelineAsyncStage: an asynchronous stage is started before it sees an
// event, its late findings are carried to its route, and it is closed before
// the outputs are, so what it reported while closing is delivered.
func TestPipelineAsyncStage(t *testing.T) {
	st := &lateStage{started: make(chan struct{}), in: make(chan event.Event, 10), done: make(chan struct{})}
	var kinds atomic.Int64
	p, store, _, _, _ := pipelineOf(t, PipelineConfig{
		Stages: []StageConfig{{Stage: st, Field: "x"}},
		Found:  func(f Finding) { kinds.Add(1) },
	})
	select {
	case <-st.started:
	default:
		t.Fatal("the stage was not started by NewPipeline")
	}
	p.Emit(testEvent(0))
	p.Emit(testEvent(1))
	closePipeline(t, p)
	if !st.closed.Load() {
		t.Fatal("the stage was not closed")
	}
	if got := ids(store); !slices.Equal(got, []string{"ev-000000", "ev-000001", "late-ev-000000", "late-ev-000001"}) || kinds.Load() != 2 {
		t.Errorf("store received %v, %d findings reported", got, kinds.Load())
	}
}
