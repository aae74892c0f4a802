package connectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loginguard/loginguard/connectors/spool"
	"github.com/loginguard/loginguard/event"
)

// firstBatchCap is the least capacity a new batch starts with (more when events
// are queued already); it grows up to BatchSize.
const firstBatchCap = 16

// worker is one connector's queue, delivery goroutine and counters.
type worker struct {
	name string
	conn Connector
	ch   chan event.Event
	done chan struct{} // closed when the goroutine has closed the connector

	// sp is the connector's spool, nil without one. Then run appends the
	// batches to it and closes spooled when the queue is drained; send
	// delivers from it and closes done.
	sp           *spool.Spool
	spooled      chan struct{}
	deadLettered atomic.Uint64
	disabled     atomic.Bool
	spoolWarn    warnLimiter // drops for a full spool

	// held counts the events taken from ch and not yet delivered, failed or
	// dropped; settle moves a batch out of it.
	held      atomic.Int64
	delivered atomic.Uint64
	lastOK    atomic.Int64 // when events were last delivered, Unix ns; 0: never
	failed    atomic.Uint64
	dropped   atomic.Uint64

	// dropPending counts the drops for a full queue not yet logged;
	// lastDropWarn is when they last were (only the monitor touches it).
	dropPending  atomic.Uint64
	lastDropWarn time.Time

	closedWarn warnLimiter
	failWarn   warnLimiter
	panicWarn  warnLimiter

	mu        sync.Mutex // guards lastErr/lastErrAt; settle and stats hold it
	lastErr   string
	lastErrAt time.Time

	// Only run touches these until done is closed.
	abandoned   int   // events dropped at shutdown
	interrupted bool  // shutdown ran out of time while events remained
	closeErr    error // the connector's Close error
}

// stats reads w's counters under mu, which settle also holds, so a batch
// being counted is never seen both queued and counted, nor neither.
func (w *worker) stats() Stats {
	var sp spool.Stats
	if w.sp != nil {
		sp = w.sp.Stats()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stats{
		Name:                w.name,
		Queued:              len(w.ch) + int(w.held.Load()) + int(sp.Pending),
		Delivered:           w.delivered.Load(),
		Failed:              w.failed.Load(),
		Dropped:             w.dropped.Load(),
		LastError:           w.lastErr,
		LastErrorAt:         w.lastErrAt,
		LastDeliveredAt:     unixNano(w.lastOK.Load()),
		Spooled:             sp.Pending,
		SpoolBytes:          sp.Bytes,
		DeadLettered:        w.deadLettered.Load(),
		DeadLetterDiscarded: sp.DeadLetterDiscarded,
		Disabled:            w.disabled.Load(),
	}
}

// settle moves n held events to the outcome counter c.
func (w *worker) settle(n int, c *atomic.Uint64) {
	w.mu.Lock()
	w.held.Add(-int64(n))
	c.Add(uint64(n))
	w.noteDelivered(c)
	w.mu.Unlock()
}

// noteDelivered notes the time when c is the delivered counter.
func (w *worker) noteDelivered(c *atomic.Uint64) {
	if c == &w.delivered {
		w.lastOK.Store(time.Now().UnixNano())
	}
}

// unixNano is the time of ns Unix nanoseconds; zero for 0.
func unixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func (w *worker) lastError() (string, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr, w.lastErrAt
}

func (w *worker) setLastError(err error, at time.Time) {
	w.mu.Lock()
	w.lastErr, w.lastErrAt = err.Error(), at
	w.mu.Unlock()
}

// warnLimiter lets a warning through at most once per interval and counts what
// happened in between, so that the next warning can say how much.
type warnLimiter struct {
	last    atomic.Int64 // unix nanoseconds of the last warning; 0: none yet
	pending atomic.Uint64
}

// note adds n to the count and reports whether a warning is due now and, if so,
// the count to report (which it resets).
func (l *warnLimiter) note(n uint64, now time.Time, every time.Duration) (uint64, bool) {
	l.pending.Add(n)
	t := now.UnixNano()
	last := l.last.Load()
	if last != 0 && t-last < int64(every) {
		return 0, false
	}
	if !l.last.CompareAndSwap(last, t) {
		return 0, false
	}
	return l.pending.Swap(0), true
}

// maxPoll is the longest the delivery goroutine sleeps between two looks at its
// queue while a batch fills.
const maxPoll = 25 * time.Millisecond

// run is w's delivery goroutine: it fills a batch until BatchSize events or
// FlushInterval after the batch's first event, delivers it, and repeats until
// the queue is closed and empty; then it closes the connector.
//
// It parks on the queue only while it has no batch: a goroutine parked on a
// channel must be woken by the sender, which would cost Emit a wake-up per
// event. While a batch fills it sleeps and drains the queue without blocking,
// so Emit wakes it once per batch.
func (d *Dispatcher) run(w *worker) {
	if w.sp != nil {
		defer close(w.spooled)
	} else {
		defer close(w.done)
	}
	poll := max(min(d.flush/8, maxPoll), min(d.flush, time.Millisecond))
	timer := time.NewTimer(poll)
	timer.Stop()
	open := true
	var batch []event.Event
	for open {
		ev, ok := <-w.ch
		if !ok {
			break
		}
		// A fresh slice per batch for Deliver: a connector may keep it after
		// Deliver returns. A spooled connector's is reused: Append copies it.
		if w.sp == nil || batch == nil {
			batch = make([]event.Event, 0, min(max(firstBatchCap, 1+len(w.ch)), d.batchSize))
		}
		batch = append(batch[:0], ev)
		w.held.Add(1)
		deadline := time.Now().Add(d.flush)
		for {
			batch, open = d.take(w, batch)
			if !open || len(batch) >= d.batchSize {
				break
			}
			wait := time.Until(deadline)
			if wait <= 0 {
				break
			}
			timer.Reset(min(wait, poll))
			<-timer.C
		}
		if w.sp != nil {
			d.spool(w, batch)
			clear(batch) // let the events' strings go
			continue
		}
		d.deliver(w, batch)
	}
	if w.sp != nil {
		return
	}
	if w.abandoned > 0 {
		d.log.LogAttrs(context.Background(), slog.LevelWarn, "events not delivered before shutdown",
			slog.String("connector", w.name), slog.Int("dropped", w.abandoned))
	}
	w.closeErr = d.closeConnector(w)
}

// take moves queued events into batch, up to BatchSize, without blocking. It
// reports false when the queue is closed and empty.
func (d *Dispatcher) take(w *worker, batch []event.Event) ([]event.Event, bool) {
	n := len(batch)
	defer func() { w.held.Add(int64(len(batch) - n)) }()
	for len(batch) < d.batchSize {
		select {
		case ev, ok := <-w.ch:
			if !ok {
				return batch, false
			}
			batch = append(batch, ev)
		default:
			return batch, true
		}
	}
	return batch, true
}

// deliver hands batch to w's connector, retrying with doubling backoff, and
// counts the outcome. After shutdown has run out of time it only counts.
func (d *Dispatcher) deliver(w *worker, batch []event.Event) {
	n := len(batch)
	if d.ctx.Err() != nil {
		d.abandon(w, n)
		return
	}
	backoff := d.retryBackoff
	for attempt := 0; ; attempt++ {
		err := d.attempt(w, batch)
		if err == nil {
			w.settle(n, &w.delivered)
			if d.obs != nil {
				d.obs.Delivered(w.name, n)
			}
			return
		}
		now := time.Now()
		w.setLastError(err, now)
		if d.ctx.Err() != nil {
			w.interrupted = true
			d.fail(w, n, attempt+1, err, now)
			return
		}
		if IsDisabled(err) {
			w.disabled.Store(true)
		}
		if attempt >= d.maxRetries || IsPermanent(err) {
			d.fail(w, n, attempt+1, err, now)
			return
		}
		d.log.LogAttrs(d.ctx, slog.LevelDebug, "event delivery failed, retrying",
			slog.String("connector", w.name), slog.Int("events", n),
			slog.Int("attempt", attempt+1), slog.Duration("backoff", backoff),
			slog.String("error", err.Error()))
		t := time.NewTimer(retryWait(backoff, err))
		select {
		case <-t.C:
		case <-d.ctx.Done():
			t.Stop()
			w.interrupted = true
			d.fail(w, n, attempt+1, err, now)
			return
		}
		backoff = min(2*backoff, d.maxBackoff)
	}
}

// attempt calls Deliver once, turning a panic into an error.
func (d *Dispatcher) attempt(w *worker, batch []event.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("connector panicked: %v", r)
			if _, ok := w.panicWarn.note(1, time.Now(), d.warnEvery); ok {
				d.log.LogAttrs(context.Background(), slog.LevelError, "connector panicked",
					slog.String("connector", w.name), slog.Any("panic", r),
					slog.String("stack", string(debug.Stack())))
			}
		}
	}()
	if w.conn == nil {
		return errors.New("no connector")
	}
	return w.conn.Deliver(d.ctx, batch)
}

// fail counts n events given up after attempts tries and warns when due. The
// observer and the warning come before the stats, so that whoever sees the
// events counted as failed also finds them reported.
func (d *Dispatcher) fail(w *worker, n, attempts int, err error, now time.Time) {
	if d.obs != nil {
		d.obs.Failed(w.name, n)
	}
	if count, ok := w.failWarn.note(uint64(n), now, d.warnEvery); ok {
		d.log.LogAttrs(context.Background(), slog.LevelWarn, "event delivery failed",
			slog.String("connector", w.name), slog.Uint64("failed", count),
			slog.Int("attempts", attempts), slog.String("error", err.Error()))
	}
	w.settle(n, &w.failed)
}

// abandon counts n events that shutdown had no time left to deliver; run logs
// their total once.
func (d *Dispatcher) abandon(w *worker, n int) {
	w.settle(n, &w.dropped)
	w.abandoned += n
	w.interrupted = true
	if d.obs != nil {
		d.obs.Dropped(w.name, n)
	}
}

// closeConnector closes w's connector, turning a panic into an error.
func (d *Dispatcher) closeConnector(w *worker) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("connector panicked: %v", r)
			d.log.LogAttrs(context.Background(), slog.LevelError, "connector panicked",
				slog.String("connector", w.name), slog.Any("panic", r),
				slog.String("stack", string(debug.Stack())))
		}
	}()
	if w.conn == nil {
		return nil
	}
	return w.conn.Close()
}
