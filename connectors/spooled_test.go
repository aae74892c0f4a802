package connectors

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors/spool"
	"github.com/loginguard/loginguard/event"
)

// switchable is a connector that fails every Deliver while down, and keeps
// what it is given while up. permanent names event ids it refuses for good.
type switchable struct {
	down      atomic.Bool
	permanent map[string]bool
	calls     atomic.Int64

	mu   sync.Mutex
	got  []event.Event
	seen map[string]int
}

func (s *switchable) Deliver(ctx context.Context, batch []event.Event) error {
	s.calls.Add(1)
	if s.down.Load() {
		return errors.New("sink down")
	}
	items := ItemErrors{}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]int{}
	}
	for i, ev := range batch {
		if s.permanent[ev.ID] {
			items[i] = Permanent(errors.New("400 bad event"))
			continue
		}
		s.got = append(s.got, ev)
		s.seen[ev.ID]++
	}
	if len(items) > 0 {
		return items
	}
	return nil
}

func (s *switchable) Close() error { return nil }

func (s *switchable) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

func (s *switchable) events() []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event.Event(nil), s.got...)
}

func openSpool(t *testing.T, o spool.Options) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

var quiet = slog.New(slog.DiscardHandler)

func spoolOpts() Options {
	return Options{Logger: quiet, FlushInterval: 5 * time.Millisecond, RetryBackoff: 5 * time.Millisecond,
		MaxRetryBackoff: 50 * time.Millisecond, QueueSize: 100000}
}

func statsOf(d *Dispatcher, name string) Stats {
	for _, s := range d.Stats() {
		if s.Name == name {
			return s
		}
	}
	return Stats{}
}

// TestSpoolRestartWhileSinkDown: events spooled while the sink is down are
// all delivered by the next process, after the spool is reopened.
func TestSpoolRestartWhileSinkDown(t *testing.T) {
	dir := t.TempDir()
	sink := &switchable{}
	sink.down.Store(true)
	d := NewDispatcher(spoolOpts(), Named{Name: "s", Connector: sink, Spool: openSpool(t, spool.Options{Dir: dir})})
	const n = 3000
	for i := range n {
		d.Emit(testEvent(i))
	}
	waitFor(t, "all events spooled", 60*time.Second, func() bool { return statsOf(d, "s").Spooled == n })
	waitFor(t, "a failed delivery", 60*time.Second, func() bool { return sink.calls.Load() > 0 })
	err := d.Close(context.Background()) // a down sink does not hold shutdown
	if err == nil || !strings.Contains(err.Error(), "undelivered") {
		t.Fatalf("Close with events left in the spool: %v", err)
	}
	if st := statsOf(d, "s"); st.Delivered != 0 || st.Dropped != 0 || st.Failed != 0 {
		t.Fatalf("stats after close: %+v", st)
	}

	up := &switchable{}
	d = NewDispatcher(spoolOpts(), Named{Name: "s", Connector: up, Spool: openSpool(t, spool.Options{Dir: dir})})
	waitFor(t, "redelivery after restart", 60*time.Second, func() bool { return up.distinct() == n })
	closeDispatcher(t, d)
	checkIDs(t, "after restart", up.events(), 0, n)
	if st := statsOf(d, "s"); st.Spooled != 0 || st.Queued != 0 {
		t.Fatalf("spool not empty after delivery: %+v", st)
	}
}

// TestSpoolPermanentDeadLetters: events refused with a Permanent error go to
// the dead-letter file, counted, after one attempt; the rest are delivered.
func TestSpoolPermanentDeadLetters(t *testing.T) {
	sink := &switchable{permanent: map[string]bool{"ev-000003": true, "ev-000007": true}}
	sp := openSpool(t, spool.Options{Dir: t.TempDir()})
	obs := newCountingObserver()
	opts := spoolOpts()
	opts.Observer = obs
	d := NewDispatcher(opts, Named{Name: "s", Connector: sink, Spool: sp})
	for i := range 10 {
		d.Emit(testEvent(i))
	}
	waitFor(t, "delivery", 60*time.Second, func() bool { return statsOf(d, "s").Queued == 0 })
	closeDispatcher(t, d)
	st := statsOf(d, "s")
	if st.DeadLettered != 2 || st.Failed != 2 || st.Delivered != 8 {
		t.Fatalf("stats %+v, want 2 dead-lettered, 8 delivered", st)
	}
	if dl, f := obs.get(obs.deadLettered, "s"), obs.get(obs.failed, "s"); dl != 2 || f != 2 {
		t.Errorf("observer saw %d dead-lettered and %d failed, want 2 and 2", dl, f)
	}
	// However the 10 events were batched, each is tried once, and the events
	// after a refused one once more: no endless retry.
	if calls := sink.calls.Load(); calls > 12 {
		t.Fatalf("%d Deliver calls for 10 events with 2 permanent failures: retried endlessly?", calls)
	}
	f, err := os.Open(sp.DeadLetterPath())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 2 || !strings.Contains(lines[0], "ev-000003") || !strings.Contains(lines[1], "ev-000007") ||
		!strings.Contains(lines[0], "400 bad event") {
		t.Fatalf("dead-letter file:\n%s", strings.Join(lines, "\n"))
	}
}

// TestSpoolWholeBatchPermanent: a Permanent error for the whole batch
// dead-letters it without a retry.
func TestSpoolWholeBatchPermanent(t *testing.T) {
	var calls atomic.Int64
	c := connectorFunc(func(ctx context.Context, b []event.Event) error {
		calls.Add(1)
		return Permanent(errors.New("401 unauthorized"))
	})
	d := NewDispatcher(spoolOpts(), Named{Name: "s", Connector: c, Spool: openSpool(t, spool.Options{Dir: t.TempDir()})})
	for i := range 5 {
		d.Emit(testEvent(i))
	}
	waitFor(t, "dead letters", 60*time.Second, func() bool { return statsOf(d, "s").DeadLettered == 5 })
	closeDispatcher(t, d)
	if got := calls.Load(); got > 5 {
		t.Fatalf("%d calls for 5 events refused for good", got)
	}
}

// TestSpoolMaxAge: a sink down longer than max age: its events are
// dead-lettered rather than retried forever.
func TestSpoolMaxAge(t *testing.T) {
	sink := &switchable{}
	sink.down.Store(true)
	sp := openSpool(t, spool.Options{Dir: t.TempDir(), MaxAge: 100 * time.Millisecond})
	d := NewDispatcher(spoolOpts(), Named{Name: "s", Connector: sink, Spool: sp})
	for i := range 50 {
		d.Emit(testEvent(i))
	}
	waitFor(t, "dead letters after max age", 60*time.Second, func() bool { return statsOf(d, "s").DeadLettered == 50 })
	closeDispatcher(t, d)
	if st := statsOf(d, "s"); st.Failed != 50 || st.Spooled != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSpoolFull: with the sink down and the spool at its max bytes, the
// newest events are dropped and counted; nothing blocks, nothing is lost
// unaccounted, and the spooled ones arrive once the sink is back.
func TestSpoolFull(t *testing.T) {
	sink := &switchable{}
	sink.down.Store(true)
	d := NewDispatcher(spoolOpts(), Named{Name: "s", Connector: sink,
		Spool: openSpool(t, spool.Options{Dir: t.TempDir(), MaxBytes: 32 << 10, SegmentBytes: 4 << 10})})
	const n = 2000
	for i := range n {
		d.Emit(testEvent(i))
	}
	waitFor(t, "every event spooled or dropped", 60*time.Second, func() bool {
		st := statsOf(d, "s")
		return st.Spooled+int64(st.Dropped) == n
	})
	st := statsOf(d, "s")
	if st.Dropped == 0 || st.Spooled == 0 || st.SpoolBytes > 32<<10 {
		t.Fatalf("full spool: %+v", st)
	}
	sink.down.Store(false)
	waitFor(t, "spooled events delivered", 60*time.Second, func() bool { return statsOf(d, "s").Queued == 0 })
	closeDispatcher(t, d)
	// The oldest were kept: the delivered ones are the first events, in order.
	checkIDs(t, "kept", sink.events(), 0, int(st.Spooled))
}

// TestSpoolDownUnderLoad: a sink down while several writers emit, then back:
// every event arrives, each principal's events in order, and another
// connector is served all the while.
func TestSpoolDownUnderLoad(t *testing.T) {
	down, healthy := &switchable{}, &recorder{}
	down.down.Store(true)
	sp := openSpool(t, spool.Options{Dir: t.TempDir(), SegmentBytes: 256 << 10})
	d := NewDispatcher(spoolOpts(),
		Named{Name: "down", Connector: down, Spool: sp},
		Named{Name: "healthy", Connector: healthy})
	const writers, per = 4, 5000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				ev := testEvent(w*per + i)
				ev.Principal = event.Str(fmt.Sprintf("p%d", w))
				ev.ID = fmt.Sprintf("p%d-%06d", w, i)
				d.Emit(ev)
			}
		})
	}
	wg.Wait()
	waitFor(t, "the healthy connector served while the other is down", 60*time.Second, func() bool {
		return len(healthy.events()) == writers*per
	})
	if st := statsOf(d, "down"); st.Delivered != 0 {
		t.Fatalf("the down sink delivered: %+v", st)
	}
	// The down sink's events are on disk only, not held on the heap as well.
	waitFor(t, "the down sink's spool keeps no events in memory", 60*time.Second, func() bool {
		st := sp.Stats()
		return st.Pending == writers*per && st.InMemory == 0
	})
	down.down.Store(false)
	waitFor(t, "every event delivered after the sink is back", 60*time.Second, func() bool {
		return down.distinct() == writers*per
	})
	closeDispatcher(t, d)
	st := statsOf(d, "down")
	if st.Dropped != 0 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	next := make([]int, writers)
	for _, ev := range down.events() {
		var w, i int
		fmt.Sscanf(ev.ID, "p%d-%d", &w, &i)
		if i != next[w] {
			t.Fatalf("principal p%d: event %d arrived when %d was due", w, i, next[w])
		}
		next[w]++
	}
}

// TestSpoolSlowSinkDoesNotSlowEmit: a sink that blocks does not hold Emit:
// the queue drains into the spool whatever the sink does.
func TestSpoolStuckSinkKeepsSpooling(t *testing.T) {
	b := newBlocker(t)
	d := NewDispatcher(spoolOpts(), Named{Name: "stuck", Connector: b,
		Spool: openSpool(t, spool.Options{Dir: t.TempDir()})})
	d.Emit(testEvent(0))
	<-b.entered
	for i := 1; i <= 20000; i++ {
		d.Emit(testEvent(i))
	}
	waitFor(t, "events spooled behind a stuck sink", 60*time.Second, func() bool {
		return statsOf(d, "stuck").Spooled == 20001
	})
	if st := statsOf(d, "stuck"); st.Dropped != 0 {
		t.Fatalf("dropped %d with room in the spool", st.Dropped)
	}
	closeQuietly(d, 100*time.Millisecond)
}

type connectorFunc func(ctx context.Context, b []event.Event) error

func (f connectorFunc) Deliver(ctx context.Context, b []event.Event) error { return f(ctx, b) }
func (connectorFunc) Close() error                                         { return nil }

// TestSpoolHandover: a second pipeline opening the same spool while the first
// still runs (a config reload) shares it; after the first closes, the second
// delivers what the first left, and every event arrives.
func TestSpoolHandover(t *testing.T) {
	dir := t.TempDir()
	old := &switchable{}
	old.down.Store(true)
	d1 := NewDispatcher(spoolOpts(), Named{Name: "s", Connector: old, Spool: openSpool(t, spool.Options{Dir: dir})})
	for i := range 500 {
		d1.Emit(testEvent(i))
	}
	waitFor(t, "spooled", 60*time.Second, func() bool { return statsOf(d1, "s").Spooled == 500 })
	next := &switchable{}
	d2 := NewDispatcher(spoolOpts(), Named{Name: "s", Connector: next, Spool: openSpool(t, spool.Options{Dir: dir})})
	for i := 500; i < 1000; i++ {
		d2.Emit(testEvent(i))
	}
	closeQuietly(d1, 5*time.Second)
	waitFor(t, "the new pipeline delivers everything", 60*time.Second, func() bool { return next.distinct() == 1000 })
	closeDispatcher(t, d2)
	checkIDs(t, "handover", next.events(), 0, 1000)
}

// TestPermanentNotRetriedWithoutSpool: without a spool, a Permanent error
// fails the batch at once, with no retry.
func TestPermanentNotRetriedWithoutSpool(t *testing.T) {
	var calls atomic.Int64
	c := connectorFunc(func(ctx context.Context, b []event.Event) error {
		calls.Add(1)
		return Permanent(errors.New("400"))
	})
	d := NewDispatcher(Options{Logger: quiet, FlushInterval: time.Millisecond, RetryBackoff: time.Millisecond,
		MaxRetries: 5, BatchSize: 10}, Named{Name: "p", Connector: c})
	for i := range 10 {
		d.Emit(testEvent(i))
	}
	waitFor(t, "failed", 60*time.Second, func() bool { return statsOf(d, "p").Failed == 10 })
	closeDispatcher(t, d)
	if n := calls.Load(); n > 10 {
		t.Fatalf("%d calls: a Permanent error was retried", n)
	}
}

// TestSpoolPartialFailure: in one batch, an event refused for good is
// dead-lettered and one failing for now is retried with the events after it
// (a sink that took those saw them once before: it ends with them in order);
// the events before it are not sent again.
func TestSpoolPartialFailure(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	failedOnce := false
	c := connectorFunc(func(ctx context.Context, b []event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		items := ItemErrors{}
		for i, ev := range b {
			switch {
			case ev.ID == "ev-000002":
				items[i] = Permanent(errors.New("400"))
			case ev.ID == "ev-000005" && !failedOnce:
				failedOnce = true
				items[i] = errors.New("503")
			default:
				seen = append(seen, ev.ID)
			}
		}
		if len(items) > 0 {
			return items
		}
		return nil
	})
	d := NewDispatcher(spoolOpts(), Named{Name: "s", Connector: c, Spool: openSpool(t, spool.Options{Dir: t.TempDir()})})
	for i := range 10 {
		d.Emit(testEvent(i))
	}
	waitFor(t, "settled", 60*time.Second, func() bool { return statsOf(d, "s").Queued == 0 })
	closeDispatcher(t, d)
	if st := statsOf(d, "s"); st.DeadLettered != 1 || st.Delivered != 9 {
		t.Fatalf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	count := map[string]int{}
	last := map[string]int{}
	for i, id := range seen {
		count[id]++
		last[id] = i
	}
	want := strings.Fields("ev-000000 ev-000001 ev-000003 ev-000004 ev-000005 ev-000006 ev-000007 ev-000008 ev-000009")
	if len(last) != len(want) {
		t.Fatalf("delivered %v", seen)
	}
	for i := 1; i < len(want); i++ {
		if last[want[i-1]] > last[want[i]] {
			t.Fatalf("last seen out of order: %v", seen)
		}
	}
	for _, id := range []string{"ev-000000", "ev-000001", "ev-000003", "ev-000004"} {
		if count[id] != 1 {
			t.Errorf("%s sent %d times; it was taken before the failure", id, count[id])
		}
	}
}
