package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

// recorder is a healthy connector that keeps every batch it is given.
type recorder struct {
	delay time.Duration

	mu      sync.Mutex
	batches [][]event.Event
	closed  int
}

func (r *recorder) Deliver(ctx context.Context, batch []event.Event) error {
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, append([]event.Event(nil), batch...))
	return nil
}

func (r *recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
	return nil
}

func (r *recorder) events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []event.Event
	for _, b := range r.batches {
		all = append(all, b...)
	}
	return all
}

func (r *recorder) batchSizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var sizes []int
	for _, b := range r.batches {
		sizes = append(sizes, len(b))
	}
	return sizes
}

func (r *recorder) closeCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// blocker is a connector whose Deliver blocks until release is closed, ignoring
// its context (the worst case). entered receives once per Deliver call.
type blocker struct {
	entered chan struct{}
	release chan struct{}
	closed  atomic.Int32
}

func newBlocker(t *testing.T) *blocker {
	b := &blocker{entered: make(chan struct{}, 1000), release: make(chan struct{})}
	t.Cleanup(func() { close(b.release) })
	return b
}

func (b *blocker) Deliver(ctx context.Context, batch []event.Event) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return nil
}

func (b *blocker) Close() error { b.closed.Add(1); return nil }

// flaky fails its first failures calls (all of them when failures < 0).
type flaky struct {
	failures int
	panics   bool

	mu     sync.Mutex
	calls  []time.Time
	events []event.Event
}

// nilMapWrite writes to a nil map: the runtime panics "assignment to entry in nil map".
func nilMapWrite() {
	var m map[string]int
	set := func(m map[string]int) { m["boom"]++ }
	set(m)
}

func (f *flaky) Deliver(ctx context.Context, batch []event.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, time.Now())
	if f.failures < 0 || len(f.calls) <= f.failures {
		if f.panics {
			nilMapWrite() // a real runtime panic, as a buggy connector would have
		}
		return fmt.Errorf("sink unavailable (call %d)", len(f.calls))
	}
	f.events = append(f.events, batch...)
	return nil
}

func (f *flaky) Close() error { return nil }

func (f *flaky) callTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.calls...)
}

// discard accepts and forgets every batch.
type discard struct{}

func (discard) Deliver(context.Context, []event.Event) error { return nil }
func (discard) Close() error                                 { return nil }

// logBuffer captures a JSON slog output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// records returns the captured records whose message is msg.
func (l *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// countingObserver sums what the dispatcher reports per connector.
type countingObserver struct {
	mu                                       sync.Mutex
	delivered, failed, dropped, deadLettered map[string]int
}

func newCountingObserver() *countingObserver {
	return &countingObserver{delivered: map[string]int{}, failed: map[string]int{}, dropped: map[string]int{}, deadLettered: map[string]int{}}
}

func (o *countingObserver) Delivered(name string, n int)    { o.add(o.delivered, name, n) }
func (o *countingObserver) Failed(name string, n int)       { o.add(o.failed, name, n) }
func (o *countingObserver) Dropped(name string, n int)      { o.add(o.dropped, name, n) }
func (o *countingObserver) DeadLettered(name string, n int) { o.add(o.deadLettered, name, n) }

func (o *countingObserver) add(m map[string]int, name string, n int) {
	o.mu.Lock()
	m[name] += n
	o.mu.Unlock()
}

func (o *countingObserver) get(m map[string]int, name string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return m[name]
}

func testEvent(i int) event.Event {
	return event.Event{
		ID:            fmt.Sprintf("ev-%06d", i),
		Source:        event.SourcePortal,
		Email:         event.Str(fmt.Sprintf("user%d@example.com", i)),
		EventDate:     time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond),
		EventType:     event.LoginFailure,
		RemoteAddress: "192.0.2.7",
		Reason:        event.BadCredentials,
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// closeQuietly closes d for a test that leaves a connector stuck.
func closeQuietly(d *Dispatcher, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = d.Close(ctx)
}

func closeDispatcher(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func checkIDs(t *testing.T, name string, got []event.Event, from, to int) {
	t.Helper()
	if len(got) != to-from {
		t.Fatalf("%s: got %d events, want %d", name, len(got), to-from)
	}
	for i, ev := range got {
		if want := testEvent(from + i).ID; ev.ID != want {
			t.Fatalf("%s: event %d is %s, want %s", name, i, ev.ID, want)
		}
	}
}

func TestDispatcherFanOut(t *testing.T) {
	a, b, c := &recorder{}, &recorder{}, &recorder{}
	obs := newCountingObserver()
	d := NewDispatcher(Options{Logger: slog.New(slog.DiscardHandler), Observer: obs},
		Named{Name: "a", Connector: a}, Named{Name: "b", Connector: b}, Named{Name: "c", Connector: c})
	for i := range 1000 {
		d.Emit(testEvent(i))
	}
	closeDispatcher(t, d)
	for name, r := range map[string]*recorder{"a": a, "b": b, "c": c} {
		checkIDs(t, name, r.events(), 0, 1000)
		if r.closeCount() != 1 {
			t.Errorf("%s closed %d times, want 1", name, r.closeCount())
		}
	}
	stats := d.Stats()
	for i, want := range []string{"a", "b", "c"} {
		s := stats[i]
		if s.Name != want || s.Delivered != 1000 || s.Failed != 0 || s.Dropped != 0 || s.Queued != 0 || s.LastError != "" {
			t.Errorf("stats[%d] = %+v, want %s with 1000 delivered and nothing else", i, s, want)
		}
		if n := obs.get(obs.delivered, want); n != 1000 {
			t.Errorf("observer saw %d delivered to %s, want 1000", n, want)
		}
	}
}

func TestDispatcherEmitTo(t *testing.T) {
	a, b, c := &recorder{}, &recorder{}, &recorder{}
	d := NewDispatcher(Options{Logger: slog.New(slog.DiscardHandler)},
		Named{Name: "a", Connector: a}, Named{Name: "b", Connector: b}, Named{Name: "c", Connector: c})
	ac := d.Select(func(name string) bool { return name != "b" })
	none := d.Select(func(string) bool { return false })
	if got := d.Names(ac); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("Names(a, c) = %v", got)
	}
	if got := d.Names(Targets{}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Names(zero Targets) = %v, want every connector", got)
	}
	if got := d.Names(none); len(got) != 0 {
		t.Errorf("Names(none) = %v", got)
	}
	for i := range 10 {
		d.EmitTo(testEvent(i), ac)
	}
	for i := 10; i < 20; i++ {
		d.EmitTo(testEvent(i), none)
	}
	for i := 20; i < 30; i++ {
		d.EmitTo(testEvent(i), Targets{})
	}
	closeDispatcher(t, d)
	for name, r := range map[string]*recorder{"a": a, "c": c} {
		got := r.events()
		if len(got) != 20 {
			t.Fatalf("%s: got %d events, want 20 (0-9 and 20-29)", name, len(got))
		}
		checkIDs(t, name, got[:10], 0, 10)
		checkIDs(t, name, got[10:], 20, 30)
	}
	checkIDs(t, "b", b.events(), 20, 30)
	for _, s := range d.Stats() {
		if s.Dropped != 0 {
			t.Errorf("%s: %d dropped; an event not chosen for a connector is not a drop", s.Name, s.Dropped)
		}
	}
}

func TestDispatcherBatchesBySize(t *testing.T) {
	r := &recorder{}
	// With an hour-long interval only a full batch is delivered before Close.
	d := NewDispatcher(Options{BatchSize: 10, FlushInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)},
		Named{Name: "rec", Connector: r})
	for i := range 95 {
		d.Emit(testEvent(i))
	}
	waitFor(t, "nine full batches", 5*time.Second, func() bool { return len(r.batchSizes()) >= 9 })
	time.Sleep(10 * time.Millisecond)
	sizes := r.batchSizes()
	if len(sizes) != 9 {
		t.Fatalf("got %d batches before Close, want 9 (sizes %v)", len(sizes), sizes)
	}
	for i, n := range sizes {
		if n != 10 {
			t.Fatalf("batch %d has %d events, want 10 (sizes %v)", i, n, sizes)
		}
	}
	closeDispatcher(t, d) // delivers the partial batch at once
	checkIDs(t, "rec", r.events(), 0, 95)
	if got := r.batchSizes(); len(got) != 10 || got[9] != 5 {
		t.Errorf("batch sizes after Close %v, want a tenth batch of 5", got)
	}
}

func TestDispatcherBatchesByInterval(t *testing.T) {
	r := &recorder{}
	d := NewDispatcher(Options{BatchSize: 500, FlushInterval: 30 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
		Named{Name: "rec", Connector: r})
	defer closeDispatcher(t, d)
	start := time.Now()
	for i := range 3 {
		d.Emit(testEvent(i))
	}
	waitFor(t, "the partial batch", 2*time.Second, func() bool { return len(r.events()) == 3 })
	if took := time.Since(start); took < 25*time.Millisecond {
		t.Errorf("partial batch delivered after %v, before the flush interval", took)
	}
	if sizes := r.batchSizes(); len(sizes) != 1 || sizes[0] != 3 {
		t.Errorf("batch sizes %v, want [3]", sizes)
	}
	checkIDs(t, "rec", r.events(), 0, 3)
}

func TestDispatcherStuckConnectorDoesNotSlowOthers(t *testing.T) {
	stuck := newBlocker(t)
	r := &recorder{}
	d := NewDispatcher(Options{QueueSize: 1000, FlushInterval: 5 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
		Named{Name: "stuck", Connector: stuck}, Named{Name: "rec", Connector: r})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := d.Close(ctx); err == nil || !strings.Contains(err.Error(), "stuck") {
			t.Errorf("Close with a stuck connector: got %v, want an error naming it", err)
		}
	}()

	const n = 100_000
	ev := testEvent(0)
	start := time.Now()
	for range n {
		d.Emit(ev)
	}
	took := time.Since(start)
	t.Logf("%d Emits with a stuck connector took %v", n, took)
	// About 10ms measured (about 400ms with -race on an idle machine, several
	// seconds on a loaded one): a blocking Emit would never return at all.
	limit := 500 * time.Millisecond
	if raceEnabled {
		limit = 10 * time.Second
	}
	if took > limit {
		t.Errorf("%d Emits took %v with a stuck connector, want under %v", n, took, limit)
	}
	<-stuck.entered

	// Every event reaches the healthy connector or is counted as dropped for it.
	waitFor(t, "the healthy connector to drain", 5*time.Second, func() bool {
		s := d.Stats()[1]
		return s.Queued == 0 && s.Delivered+s.Dropped == n
	})
	s := d.Stats()
	if s[1].Delivered == 0 || s[1].Delivered != uint64(len(r.events())) {
		t.Fatalf("healthy connector: stats %+v, recorded %d", s[1], len(r.events()))
	}
	if s[0].Delivered != 0 || s[0].Dropped+uint64(s[0].Queued) != n {
		t.Fatalf("stuck connector: stats %+v, want dropped+queued = %d", s[0], n)
	}

	// While the stuck connector stays stuck, new events still reach the other one promptly.
	before := s[1].Delivered
	for i := range 100 {
		d.Emit(testEvent(1 + i))
		time.Sleep(100 * time.Microsecond)
	}
	waitFor(t, "100 more events", time.Second, func() bool { return d.Stats()[1].Delivered == before+100 })
	got := r.events()
	checkIDs(t, "rec tail", got[len(got)-100:], 1, 101)
}

func TestDispatcherQueueFullWarnsOnce(t *testing.T) {
	var logs logBuffer
	obs := newCountingObserver()
	stuck := newBlocker(t)
	d := NewDispatcher(Options{QueueSize: 10, FlushInterval: time.Millisecond, Logger: logs.logger(), Observer: obs,
		warnCheck: 5 * time.Millisecond}, Named{Name: "stuck", Connector: stuck})
	d.Emit(testEvent(0))
	<-stuck.entered // the worker holds event 0 inside Deliver
	ev := testEvent(1)
	for range 1000 {
		d.Emit(ev)
	}
	s := d.Stats()[0]
	if s.Dropped != 990 || s.Queued != 11 {
		t.Fatalf("stats %+v, want 990 dropped and 11 queued (10 in the queue, 1 in Deliver)", s)
	}
	if got := obs.get(obs.dropped, "stuck"); got != 990 {
		t.Errorf("observer saw %d dropped, want 990", got)
	}
	const msg = "event queue full, events dropped"
	waitFor(t, "the warning", 2*time.Second, func() bool { return len(logs.records(t, msg)) > 0 })
	for range 1000 {
		d.Emit(ev)
	}
	looked := d.monitorChecks.Load()
	waitFor(t, "ten looks at the counters", 10*time.Second, func() bool { return d.monitorChecks.Load() >= looked+10 })
	warns := logs.records(t, msg)
	if len(warns) != 1 {
		t.Fatalf("got %d queue-full warnings for 1990 drops within 10 s, want 1", len(warns))
	}
	first, _ := warns[0]["dropped"].(float64)
	if warns[0]["connector"] != "stuck" || first < 1 || first > 1990 || warns[0]["level"] != "WARN" {
		t.Errorf("warning %v, want connector stuck, a drop count, level WARN", warns[0])
	}

	// Close (timing out on the stuck connector) reports the drops not yet warned about.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "stuck") {
		t.Errorf("Close: got %v, want a deadline error naming the stuck connector", err)
	}
	warns = logs.records(t, msg)
	if len(warns) != 2 || first+warns[1]["dropped"].(float64) != 1990 {
		t.Errorf("warnings after Close %v, want a second one with the drops since the first (1990 in all)", warns)
	}
}

func TestDispatcherQueueFullWarnsAgainAfterInterval(t *testing.T) {
	var logs logBuffer
	stuck := newBlocker(t)
	d := NewDispatcher(Options{QueueSize: 1, FlushInterval: time.Millisecond, Logger: logs.logger(),
		warnEvery: 100 * time.Millisecond, warnCheck: 5 * time.Millisecond}, Named{Name: "stuck", Connector: stuck})
	defer closeQuietly(d, 10*time.Millisecond)
	d.Emit(testEvent(0))
	<-stuck.entered
	d.Emit(testEvent(1)) // fills the queue
	const msg = "event queue full, events dropped"
	d.Emit(testEvent(2))
	waitFor(t, "the first warning", 2*time.Second, func() bool { return len(logs.records(t, msg)) == 1 })
	first := time.Now()
	for i := range 5 {
		d.Emit(testEvent(3 + i))
	}
	waitFor(t, "the second warning", 2*time.Second, func() bool { return len(logs.records(t, msg)) == 2 })
	if gap := time.Since(first); gap < 90*time.Millisecond {
		t.Errorf("second warning %v after the first, want the 100ms interval", gap)
	}
	warns := logs.records(t, msg)
	if warns[0]["dropped"] != 1.0 || warns[1]["dropped"] != 5.0 {
		t.Fatalf("warnings %v, want 1 dropped, then the 5 since", warns)
	}
}

func TestDispatcherRetriesThenFails(t *testing.T) {
	var logs logBuffer
	obs := newCountingObserver()
	f := &flaky{failures: -1}
	d := NewDispatcher(Options{BatchSize: 5, FlushInterval: time.Hour, MaxRetries: 3, RetryBackoff: 10 * time.Millisecond,
		Logger: logs.logger(), Observer: obs}, Named{Name: "down", Connector: f})
	defer closeDispatcher(t, d)
	for i := range 5 {
		d.Emit(testEvent(i))
	}
	waitFor(t, "the batch to fail", 5*time.Second, func() bool { return d.Stats()[0].Failed == 5 })
	s := d.Stats()[0]
	if s.Delivered != 0 || s.Queued != 0 || s.Dropped != 0 || !s.LastDeliveredAt.IsZero() {
		t.Errorf("stats %+v, want only 5 failed, nothing ever delivered", s)
	}
	if s.LastError != "sink unavailable (call 4)" || s.LastErrorAt.IsZero() || time.Since(s.LastErrorAt) > 5*time.Second {
		t.Errorf("last error %q at %v, want the fourth call's error, just now", s.LastError, s.LastErrorAt)
	}
	calls := f.callTimes()
	if len(calls) != 4 {
		t.Fatalf("Deliver called %d times, want 1 + 3 retries", len(calls))
	}
	// The backoff doubles, 10, 20 and 40 ms, each wait jittered down to half.
	for i, want := range []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond} {
		if gap := calls[i+1].Sub(calls[i]); gap < want {
			t.Errorf("retry %d came %v after the previous attempt, want at least %v (doubling backoff, jittered)", i+1, gap, want)
		}
	}
	if got := obs.get(obs.failed, "down"); got != 5 {
		t.Errorf("observer saw %d failed, want 5", got)
	}
	warns := logs.records(t, "event delivery failed")
	if len(warns) != 1 || warns[0]["failed"] != 5.0 || warns[0]["error"] != "sink unavailable (call 4)" {
		t.Errorf("failure warnings %v, want one for 5 events with the last error", warns)
	}
	if n := len(logs.records(t, "event delivery failed, retrying")); n != 3 {
		t.Errorf("%d retry debug records, want 3", n)
	}
}

func TestDispatcherRetrySucceeds(t *testing.T) {
	f := &flaky{failures: 2}
	d := NewDispatcher(Options{FlushInterval: time.Millisecond, RetryBackoff: time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
		Named{Name: "flaky", Connector: f})
	for i := range 3 {
		d.Emit(testEvent(i))
	}
	waitFor(t, "delivery", 5*time.Second, func() bool { return d.Stats()[0].Delivered > 0 })
	closeDispatcher(t, d)
	s := d.Stats()[0]
	if s.Delivered != 3 || s.Failed != 0 {
		t.Errorf("stats %+v, want 3 delivered after two failed attempts", s)
	}
	if s.LastError != "sink unavailable (call 2)" {
		t.Errorf("last error %q, want the second attempt's", s.LastError)
	}
	if !s.LastDeliveredAt.After(s.LastErrorAt) {
		t.Errorf("delivered at %v, last error at %v: want the delivery after the error (recovered)", s.LastDeliveredAt, s.LastErrorAt)
	}
	checkIDs(t, "flaky", f.events, 0, 3)
}

func TestDispatcherNoRetry(t *testing.T) {
	f := &flaky{failures: -1}
	d := NewDispatcher(Options{FlushInterval: time.Millisecond, MaxRetries: -1, Logger: slog.New(slog.DiscardHandler)},
		Named{Name: "down", Connector: f})
	d.Emit(testEvent(0))
	waitFor(t, "failure", 5*time.Second, func() bool { return d.Stats()[0].Failed == 1 })
	closeDispatcher(t, d)
	if n := len(f.callTimes()); n != 1 {
		t.Errorf("Deliver called %d times with MaxRetries -1, want 1", n)
	}
}

func TestDispatcherPanicRecovered(t *testing.T) {
	var logs logBuffer
	always := &flaky{failures: -1, panics: true}
	once := &flaky{failures: 1, panics: true}
	r := &recorder{}
	d := NewDispatcher(Options{FlushInterval: time.Millisecond, MaxRetries: 2, RetryBackoff: time.Millisecond, Logger: logs.logger()},
		Named{Name: "always", Connector: always}, Named{Name: "once", Connector: once}, Named{Name: "healthy", Connector: r})
	for i := range 3 {
		d.Emit(testEvent(i))
	}
	waitFor(t, "the panicking batch to fail", 5*time.Second, func() bool { return d.Stats()[0].Failed == 3 })
	closeDispatcher(t, d)
	s := d.Stats()
	if !strings.Contains(s[0].LastError, "connector panicked") || !strings.Contains(s[0].LastError, "nil map") {
		t.Errorf("last error %q, want the recovered panic", s[0].LastError)
	}
	if s[1].Delivered != 3 || s[1].Failed != 0 {
		t.Errorf("connector that panicked once: %+v, want delivered on retry", s[1])
	}
	if s[2].Delivered != 3 {
		t.Errorf("healthy connector: %+v", s[2])
	}
	panics := logs.records(t, "connector panicked")
	if len(panics) != 2 {
		t.Fatalf("%d panic records, want 2 (one per connector within 10 s)", len(panics))
	}
	for _, p := range panics {
		if p["level"] != "ERROR" || !strings.Contains(fmt.Sprint(p["stack"]), "dispatcher_test.go") {
			t.Errorf("panic record %v, want level ERROR with the stack", p)
		}
	}
}

// closePanicker panics in Close.
type closePanicker struct{ discard }

func (closePanicker) Close() error { panic("close exploded") }

// closeFailer fails in Close.
type closeFailer struct{ discard }

func (closeFailer) Close() error { return errors.New("flush failed") }

func TestDispatcherCloseErrors(t *testing.T) {
	d := NewDispatcher(Options{RetryBackoff: time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
		Named{Name: "p", Connector: closePanicker{}}, Named{Name: "f", Connector: closeFailer{}}, Named{Name: "nil", Connector: nil})
	d.Emit(testEvent(0))
	err := d.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "closing connector p: connector panicked: close exploded") ||
		!strings.Contains(err.Error(), "closing connector f: flush failed") {
		t.Fatalf("Close: %v, want both connectors' errors", err)
	}
	if s := d.Stats()[2]; s.Failed != 1 || s.LastError != "no connector" {
		t.Errorf("nil connector stats %+v, want its event failed", s)
	}
	if again := d.Close(context.Background()); again != err {
		t.Errorf("second Close returned %v, want the first result", again)
	}
}

func TestDispatcherCloseDrains(t *testing.T) {
	slow := &recorder{delay: time.Millisecond}
	fast := &recorder{}
	d := NewDispatcher(Options{BatchSize: 10, FlushInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)},
		Named{Name: "slow", Connector: slow}, Named{Name: "fast", Connector: fast})
	for i := range 5000 {
		d.Emit(testEvent(i))
	}
	if q := d.Stats()[0].Queued; q < 4000 {
		t.Fatalf("only %d events queued for the slow connector before Close; the test needs a backlog", q)
	}
	closeDispatcher(t, d)
	checkIDs(t, "slow", slow.events(), 0, 5000)
	checkIDs(t, "fast", fast.events(), 0, 5000)
	if slow.closeCount() != 1 || fast.closeCount() != 1 {
		t.Errorf("connectors closed %d and %d times, want once each", slow.closeCount(), fast.closeCount())
	}
	for _, s := range d.Stats() {
		if s.Delivered != 5000 || s.Queued != 0 {
			t.Errorf("stats after Close %+v", s)
		}
	}
}

// ctxBlocker blocks in Deliver until its context ends.
type ctxBlocker struct {
	entered chan struct{}
	closed  atomic.Int32
}

func (c *ctxBlocker) Deliver(ctx context.Context, batch []event.Event) error {
	select {
	case c.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func (c *ctxBlocker) Close() error { c.closed.Add(1); return nil }

func TestDispatcherCloseTimeout(t *testing.T) {
	var logs logBuffer
	obs := newCountingObserver()
	c := &ctxBlocker{entered: make(chan struct{}, 1)}
	d := NewDispatcher(Options{BatchSize: 10, FlushInterval: 50 * time.Millisecond, Logger: logs.logger(), Observer: obs},
		Named{Name: "hung", Connector: c})
	for i := range 100 {
		d.Emit(testEvent(i))
	}
	<-c.entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := d.Close(ctx)
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close took %v with a 50ms context", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "hung") {
		t.Errorf("Close: %v, want the deadline error naming the connector", err)
	}
	// The connector honours cancellation, so its worker finishes promptly and closes it.
	waitFor(t, "the connector to be closed", 2*time.Second, func() bool { return c.closed.Load() == 1 })
	waitFor(t, "the abandoned events to be counted", 2*time.Second, func() bool { return d.Stats()[0].Queued == 0 })
	s := d.Stats()[0]
	if s.Failed != 10 || s.Dropped != 90 || s.Delivered != 0 {
		t.Errorf("stats %+v, want the batch in Deliver failed and the 90 queued dropped", s)
	}
	if got := obs.get(obs.dropped, "hung"); got != 90 {
		t.Errorf("observer saw %d dropped, want 90", got)
	}
	waitFor(t, "the shutdown warning", 2*time.Second, func() bool {
		return len(logs.records(t, "events not delivered before shutdown")) == 1
	})
	if w := logs.records(t, "events not delivered before shutdown")[0]; w["dropped"] != 90.0 {
		t.Errorf("shutdown warning %v, want 90 dropped", w)
	}
}

func TestDispatcherEmitAfterClose(t *testing.T) {
	var logs logBuffer
	r := &recorder{}
	d := NewDispatcher(Options{Logger: logs.logger()}, Named{Name: "rec", Connector: r})
	d.Emit(testEvent(0))
	closeDispatcher(t, d)
	for i := range 10 {
		d.Emit(testEvent(1 + i))
	}
	closeDispatcher(t, d) // idempotent
	s := d.Stats()[0]
	if s.Delivered != 1 || s.Dropped != 10 {
		t.Errorf("stats %+v, want 1 delivered and 10 dropped after Close", s)
	}
	if n := len(logs.records(t, "event pipeline closed, events dropped")); n != 1 {
		t.Errorf("%d closed-pipeline warnings, want 1", n)
	}
	checkIDs(t, "rec", r.events(), 0, 1)
}

func TestDispatcherEmitDuringClose(t *testing.T) {
	r := &recorder{}
	d := NewDispatcher(Options{FlushInterval: time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, Named{Name: "rec", Connector: r})
	var wg sync.WaitGroup
	var emitted atomic.Int64
	stop := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				d.Emit(testEvent(g*1_000_000 + i))
				emitted.Add(1)
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	closeDispatcher(t, d)
	time.Sleep(5 * time.Millisecond)
	close(stop)
	wg.Wait()
	s := d.Stats()[0]
	if got := s.Delivered + s.Dropped; got != uint64(emitted.Load()) || s.Dropped == 0 {
		t.Errorf("delivered %d + dropped %d != %d emitted (or none dropped after Close)", s.Delivered, s.Dropped, emitted.Load())
	}
	if uint64(len(r.events())) != s.Delivered {
		t.Errorf("recorder holds %d events, stats say %d delivered", len(r.events()), s.Delivered)
	}
}

func TestDispatcherDefaults(t *testing.T) {
	d := NewDispatcher(Options{MaxRetries: 0})
	defer closeDispatcher(t, d)
	if d.queueSize != DefaultQueueSize || d.batchSize != DefaultBatchSize || d.flush != DefaultFlushInterval ||
		d.maxRetries != DefaultMaxRetries || d.retryBackoff != DefaultRetryBackoff || d.log != slog.Default() ||
		d.warnEvery != 10*time.Second {
		t.Errorf("defaults not applied: %+v", d)
	}
	d.Emit(testEvent(0)) // no connector: nothing to do, nothing to break
	if len(d.Stats()) != 0 {
		t.Errorf("stats for no connector: %v", d.Stats())
	}
}

func TestEmitDoesNotAllocate(t *testing.T) {
	d := NewDispatcher(Options{QueueSize: 100, Logger: slog.New(slog.DiscardHandler)},
		Named{Name: "a", Connector: discard{}}, Named{Name: "b", Connector: newBlocker(t)})
	defer closeQuietly(d, 10*time.Millisecond)
	ev := testEvent(1)
	// Both paths: queued (a) and, once b's queue is full, dropped (b).
	if allocs := testing.AllocsPerRun(1000, func() { d.Emit(ev) }); allocs != 0 {
		t.Errorf("Emit allocates %v times per call, want 0", allocs)
	}
	if d.Stats()[1].Dropped == 0 {
		t.Errorf("the drop path was not exercised")
	}
}

// BenchmarkEmitQueued measures the queueing path alone: one goroutine emits,
// and the timer stops every 5,000 events while the queue drains, so no event is
// dropped.
func BenchmarkEmitQueued(b *testing.B) {
	d := NewDispatcher(Options{Logger: slog.New(slog.DiscardHandler)}, Named{Name: "discard", Connector: discard{}})
	defer closeQuietly(d, time.Second)
	ev := testEvent(1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Emit(ev)
		if i++; i%5000 == 0 {
			b.StopTimer()
			for d.Stats()[0].Queued > 0 {
				time.Sleep(100 * time.Microsecond)
			}
			b.StartTimer()
		}
	}
	if s := d.Stats()[0]; s.Dropped > 0 {
		b.Fatalf("%d events dropped", s.Dropped)
	}
}

// BenchmarkEmit measures Emit from parallel goroutines; on a small machine the
// emitters outrun the delivery goroutine, so this is mostly the drop path.
func BenchmarkEmit(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("connectors=%d", n), func(b *testing.B) {
			cs := make([]Named, n)
			for i := range cs {
				cs[i] = Named{Name: fmt.Sprintf("discard%d", i), Connector: discard{}}
			}
			d := NewDispatcher(Options{Logger: slog.New(slog.DiscardHandler)}, cs...)
			ev := testEvent(1)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					d.Emit(ev)
				}
			})
			b.StopTimer()
			var dropped uint64
			for _, s := range d.Stats() {
				dropped += s.Dropped
			}
			b.ReportMetric(float64(dropped)/float64(b.N*n), "dropped/op")
			_ = d.Close(context.Background())
		})
	}
}

// statsObserver reads the dispatcher's Stats each time it is told of an
// outcome, which is just after the dispatcher counted it.
type statsObserver struct {
	d *Dispatcher

	mu   sync.Mutex
	seen []Stats
}

func (o *statsObserver) note(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.d.Stats() {
		if s.Name == name {
			o.seen = append(o.seen, s)
		}
	}
}

func (o *statsObserver) Delivered(name string, _ int) { o.note(name) }
func (o *statsObserver) Failed(name string, _ int)    { o.note(name) }
func (o *statsObserver) Dropped(name string, _ int)   { o.note(name) }
func (o *statsObserver) DeadLettered(string, int)     {}

// An event counted delivered or failed is no longer queued in the same Stats:
// a reader that waits for a count never sees the batch twice.
func TestDispatcherStatsNeverCountTwice(t *testing.T) {
	var logs logBuffer
	obs := &statsObserver{}
	d := NewDispatcher(Options{BatchSize: 5, FlushInterval: time.Hour, MaxRetries: -1, Observer: obs, Logger: logs.logger()},
		Named{Name: "ok", Connector: &recorder{}}, Named{Name: "down", Connector: &flaky{failures: -1}})
	obs.d = d
	for i := range 5 {
		d.Emit(testEvent(i))
	}
	closeDispatcher(t, d)
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.seen) != 2 {
		t.Fatalf("observer took %d snapshots, want one per outcome: a delivery and a failure", len(obs.seen))
	}
	for _, s := range obs.seen {
		if sum := s.Queued + int(s.Delivered+s.Failed+s.Dropped); sum != 5 {
			t.Errorf("stats %+v just after counting: queued + counted = %d, want the 5 emitted", s, sum)
		}
	}
}

// TestRetryWaitJittered: a retry waits between half the backoff and the whole,
// drawn anew each time, and never before the sink's Retry-After.
func TestRetryWaitJittered(t *testing.T) {
	const backoff = 100 * time.Millisecond
	seen := map[time.Duration]bool{}
	for range 1000 {
		w := retryWait(backoff, errors.New("down"))
		if w < backoff/2 || w > backoff {
			t.Fatalf("wait %v for backoff %v: want within [%v, %v]", w, backoff, backoff/2, backoff)
		}
		seen[w] = true
	}
	if len(seen) < 100 {
		t.Errorf("%d distinct waits in 1000: not jittered", len(seen))
	}
	if w := retryWait(backoff, RetryAfter(errors.New("busy"), 5*time.Second)); w != 5*time.Second {
		t.Errorf("wait %v with Retry-After 5s", w)
	}
}
