package alerts

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loginguard/loginguard/event"
)

// Defaults of FleetOptions.
const (
	DefaultFlushInterval = 20 * time.Millisecond
	DefaultBatchSize     = 512
	DefaultMaxPending    = 65536
	DefaultFlushTimeout  = 2 * time.Second
)

// FleetOptions tune how an Engine made by NewFleet batches its events.
type FleetOptions struct {
	// FlushInterval is the longest an event waits before its ops are
	// applied (so the usual delay of an alert). Default: 20ms.
	FlushInterval time.Duration
	// BatchSize starts a flush as soon as this many events wait, before the
	// interval is over, and bounds the events of one Windows.Apply (a flush
	// of more makes several). Default: 512.
	BatchSize int
	// MaxPending bounds the events waiting: while a flush is slow (the
	// windows' store is down or hung), later events beyond it are dropped
	// and counted in FleetStats.Dropped. Default: 65,536.
	MaxPending int
	// FlushTimeout bounds one Windows.Apply. Default: 2s.
	FlushTimeout time.Duration
	// Logger gets a warning when applying fails (once until it works again)
	// and a line when it works again. Default: slog.Default().
	Logger *slog.Logger
}

// FleetStats are the counters of an Engine made by NewFleet (all zero for
// one made by New).
type FleetStats struct {
	// Pending events wait for the next flush.
	Pending int
	// Applied events had their ops applied.
	Applied uint64
	// Failed events were in a flush that failed (their alerts, if any, are
	// lost; the windows did not count them, or only some of their ops).
	Failed uint64
	// Dropped events were never applied: MaxPending were waiting, or the
	// engine was closed.
	Dropped uint64
	// Flushes is the number of Windows.Apply calls (Redis: round trips).
	Flushes uint64
}

// NewFleet returns an Engine for rules (validated; one rule per name) that
// counts in w, typically windows in Redis shared by every instance of a
// fleet, so that the rules count the fleet's events and each rule fires once
// per subject and cooldown for the whole fleet, with the fleet's count.
//
// Observe never waits for w: it queues the event's ops (a few per event) and
// returns nil. A goroutine, started by Start, applies everything queued
// every o.FlushInterval, or as soon as o.BatchSize events wait, in one
// Windows.Apply per o.BatchSize events, and hands the alerts that fired to Start's function. Events observed
// before Start wait for it (up to o.MaxPending). Close applies what waits and
// stops the goroutine.
//
// When Apply fails (the store is down), the events of that flush are lost to
// the rules: they are counted in FleetStats.Failed, the failure is logged
// once, and the next flushes try again with the events that came since; no
// event is applied twice on purpose. While the store is slower than the
// events come, the queue fills up to o.MaxPending and later events are
// dropped (FleetStats.Dropped): memory stays bounded and Observe fast.
func NewFleet(rules []Rule, w Windows, o FleetOptions) (*Engine, error) {
	rs, err := prepare(rules)
	if err != nil {
		return nil, err
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.FlushTimeout <= 0 {
		o.FlushTimeout = DefaultFlushTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Engine{rules: rs, fleet: &fleet{
		w:    w,
		o:    o,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}}, nil
}

// fleet is the queue and the flusher of an Engine made by NewFleet.
type fleet struct {
	w Windows
	o FleetOptions

	mu      sync.Mutex
	events  []waiting // in the order observed
	ops     []Op      // the events' ops, one run per event, in the same order
	started bool
	closed  bool

	wake chan struct{} // a full batch waits
	stop chan struct{} // closed by Close
	done chan struct{} // closed when the flusher has exited

	flushMu sync.Mutex // one flush at a time; guards the fields below
	emit    func([]Alert)
	spare   []waiting // the previous flush's slices, reused
	spareOp []Op
	res     []Result
	down    bool // the last flush failed

	applied, failed, dropped, flushes atomic.Uint64
}

// waiting is an event queued with its ops.
type waiting struct {
	ev  event.Event
	ops int
}

// queue adds ev and its ops to the next flush, or drops them when the queue is
// full or closed. It never blocks on the windows.
func (f *fleet) queue(ev event.Event, ops []Op) {
	f.mu.Lock()
	if f.closed || len(f.events) >= f.o.MaxPending {
		f.mu.Unlock()
		f.dropped.Add(1)
		return
	}
	f.events = append(f.events, waiting{ev: ev, ops: len(ops)})
	f.ops = append(f.ops, ops...)
	full := len(f.events) == f.o.BatchSize
	f.mu.Unlock()
	if full {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// Start starts the flusher of an Engine made by NewFleet: from now on, the
// alerts of observed events are handed to emit, in batches, from the
// flusher's goroutine, in the order of their events on this instance. emit
// must not block for long (the pipeline's Emit does not). For an Engine made
// by New, Start does nothing: Observe returns its alerts. Start may be
// called once; later calls do nothing.
func (e *Engine) Start(emit func([]Alert)) {
	if e == nil || e.fleet == nil {
		return
	}
	f := e.fleet
	f.mu.Lock()
	if f.started || f.closed {
		f.mu.Unlock()
		return
	}
	f.started = true
	f.mu.Unlock()
	f.flushMu.Lock()
	f.emit = emit
	f.flushMu.Unlock()
	go f.loop()
}

// Flush applies the events waiting now and hands their alerts to Start's
// function before it returns. Before Start, and for an Engine made by New, it
// does nothing.
func (e *Engine) Flush() {
	if e == nil || e.fleet == nil {
		return
	}
	e.fleet.flush()
}

// Close applies the events waiting (bounded by FlushTimeout), hands their
// alerts to Start's function and stops the flusher. Events observed after
// Close are dropped. Close may be called more than once; it returns nil (the
// error is for io.Closer). It does not close the windows' store: its owner
// does. An Engine made by New has nothing to close.
func (e *Engine) Close() error {
	if e == nil || e.fleet == nil {
		return nil
	}
	f := e.fleet
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	started := f.started
	f.mu.Unlock()
	close(f.stop)
	if started {
		<-f.done
		return nil
	}
	// Never started: nobody takes the alerts of what waits.
	f.mu.Lock()
	f.dropped.Add(uint64(len(f.events)))
	f.events, f.ops = nil, nil
	f.mu.Unlock()
	return nil
}

// Stats returns the engine's counters (zero for an Engine made by New).
func (e *Engine) Stats() FleetStats {
	if e == nil || e.fleet == nil {
		return FleetStats{}
	}
	f := e.fleet
	f.mu.Lock()
	pending := len(f.events)
	f.mu.Unlock()
	return FleetStats{Pending: pending, Applied: f.applied.Load(), Failed: f.failed.Load(),
		Dropped: f.dropped.Load(), Flushes: f.flushes.Load()}
}

// loop flushes every FlushInterval, or when a batch is full, until Close.
func (f *fleet) loop() {
	defer close(f.done)
	t := time.NewTicker(f.o.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			f.flush()
			return
		case <-f.wake:
		case <-t.C:
		}
		f.flush()
	}
}

// flush applies what waits in one Windows.Apply and emits the alerts.
func (f *fleet) flush() {
	f.flushMu.Lock()
	defer f.flushMu.Unlock()
	if f.emit == nil {
		return // not started: the events wait for Start
	}
	f.mu.Lock()
	events, ops := f.events, f.ops
	f.events, f.ops = f.spare[:0], f.spareOp[:0]
	f.mu.Unlock()
	defer func() {
		clear(events) // let the events go
		f.spare, f.spareOp = events[:0], ops[:0]
	}()
	if len(events) == 0 {
		return
	}
	if cap(f.res) < len(ops) {
		f.res = make([]Result, len(ops))
	}
	res := f.res[:len(ops)]
	clear(res)
	// At most BatchSize events per Apply, so that one call stays within its
	// timeout; after a failure, the rest of the queue is not tried.
	var err error
	at := 0
	for from := 0; from < len(events); {
		to := min(from+f.o.BatchSize, len(events))
		n := 0
		for _, w := range events[from:to] {
			n += w.ops
		}
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), f.o.FlushTimeout)
			err = f.w.Apply(ctx, ops[at:at+n], res[at:at+n])
			cancel()
			f.flushes.Add(1)
			if err != nil {
				f.failed.Add(uint64(to - from))
			} else {
				f.applied.Add(uint64(to - from))
			}
		} else {
			f.failed.Add(uint64(to - from))
		}
		from, at = to, at+n
	}
	if err != nil {
		if !f.down {
			f.o.Logger.Warn("loginguard alerts: the shared alert windows failed; the events meanwhile count for no alert",
				slog.Int("events", len(events)), slog.String("error", err.Error()))
		}
		f.down = true
	} else {
		if f.down {
			f.o.Logger.Info("loginguard alerts: the shared alert windows work again", slog.Uint64("failed_events", f.failed.Load()))
		}
		f.down = false
	}
	var out []Alert
	at = 0
	for _, w := range events {
		out = fired(w.ev, ops[at:at+w.ops], res[at:at+w.ops], out)
		at += w.ops
	}
	if len(out) > 0 && f.emit != nil {
		f.emit(out)
	}
}
