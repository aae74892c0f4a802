package connectors

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/loginguard/loginguard/connectors/spool"
	"github.com/loginguard/loginguard/event"
)

// A connector with a spool has two goroutines. run fills batches from the
// queue, as without a spool, and appends each to the spool (one fsync per
// batch): an event counts as accepted once it is on disk. send reads the spool
// in order and delivers, one batch at a time, retrying a failed batch with
// doubling backoff until it is delivered, so that the events of one principal
// keep their order; a batch whose oldest event is older than the spool's max
// age, and every event refused with a Permanent error, goes to the spool's
// dead-letter file instead. A sink that is down only makes its own spool grow:
// the queue keeps draining into the spool, and when the spool is full (its max
// bytes) the newest events are dropped and counted, never waited for.
//
// At shutdown run drains the queue into the spool; send delivers what it can
// until the spool is empty, a delivery fails, or Close's context ends. What is
// left stays on disk and is delivered after the next start.

// spool appends batch to w's spool and counts what did not fit as dropped.
func (d *Dispatcher) spool(w *worker, batch []event.Event) {
	n := len(batch)
	took, err := w.sp.Append(batch)
	w.mu.Lock()
	w.held.Add(-int64(n))
	w.dropped.Add(uint64(n - took))
	w.mu.Unlock()
	if n > took {
		if d.obs != nil {
			d.obs.Dropped(w.name, n-took)
		}
		reason := "spool full (max_bytes), newest events dropped"
		if err != nil {
			reason = "spool write failed, events dropped"
		}
		if count, ok := w.spoolWarn.note(uint64(n-took), time.Now(), d.warnEvery); ok {
			attrs := []slog.Attr{slog.String("connector", w.name), slog.Uint64("dropped", count),
				slog.String("spool", w.sp.Dir())}
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()))
			}
			d.log.LogAttrs(context.Background(), slog.LevelWarn, reason, attrs...)
		}
	}
	if err != nil {
		w.setLastError(err, time.Now())
	}
}

// send is the delivery goroutine of a connector with a spool.
func (d *Dispatcher) send(w *worker) {
	defer close(w.done)
	defer func() {
		w.closeErr = errors.Join(d.closeConnector(w), w.sp.Close())
	}()
	// Another pipeline of this process may read the spool still (a config
	// reload): wait for its turn to end, unless this one ends first.
	locked := make(chan struct{})
	go func() { w.sp.LockReader(); close(locked) }()
	select {
	case <-locked:
	case <-w.spooled:
		select {
		case <-locked:
		default:
			// Never got its turn: leave the events to the other reader.
			go func() { <-locked; w.sp.UnlockReader() }()
			return
		}
	}
	defer w.sp.UnlockReader()
	draining := false
	for {
		b, err := w.sp.Next(d.batchSize)
		if err != nil {
			w.setLastError(err, time.Now())
			if !d.pause(w, time.Second) {
				w.interrupted = w.sp.Stats().Pending > 0
				return
			}
			continue
		}
		if len(b.Events) == 0 || (draining && w.sp.Shared()) {
			// At shutdown, with another pipeline on the spool, leave the
			// rest to it.
			if draining {
				return
			}
			select {
			case <-w.sp.Notify():
			case <-w.spooled:
				// The queue is drained into the spool: deliver what is left.
				draining = true
			case <-d.ctx.Done():
				w.interrupted = w.sp.Stats().Pending > 0
				return
			}
			continue
		}
		if !d.deliverSpooled(w, b) {
			w.interrupted = true
			return
		}
	}
}

// pause waits for dur; it reports false when the dispatcher is shutting down.
func (d *Dispatcher) pause(w *worker, dur time.Duration) bool {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.spooled:
		return false
	case <-d.ctx.Done():
		return false
	}
}

// deliverSpooled delivers b until every event is delivered or dead-lettered,
// then acknowledges it. It reports false, leaving b in the spool, when the
// dispatcher shuts down before.
func (d *Dispatcher) deliverSpooled(w *worker, b spool.Batch) bool {
	evs, at := b.Events, b.Appended
	total := len(evs)
	backoff := d.retryBackoff
	for attempt := 0; len(evs) > 0; attempt++ {
		var err error
		if w.disabled.Load() {
			err = errors.New("connector disabled after an earlier answer")
			err = Disabled(err)
		} else {
			err = d.attempt(w, evs)
		}
		if err == nil {
			w.sp.Failing(false)
			w.settleSpooled(len(evs), &w.delivered)
			if d.obs != nil {
				d.obs.Delivered(w.name, len(evs))
			}
			break
		}
		now := time.Now()
		w.setLastError(err, now)
		if IsDisabled(err) {
			w.disabled.Store(true)
		}
		var items ItemErrors
		if errors.As(err, &items) && len(items) > 0 && !IsPermanent(err) {
			// Some events were taken. Those before the first retryable
			// failure are settled (delivered, or dead-lettered when refused
			// for good); from there on the batch is tried again, less the
			// refused ones, so that a principal's later event is never
			// delivered only before its earlier one.
			retry := len(evs)
			for i, e := range items {
				if i >= 0 && i < len(evs) && !IsPermanent(e) {
					retry = min(retry, i)
				}
			}
			var dead []event.Event
			var keepE []event.Event
			var keepA []time.Time
			took := 0
			for i := range evs {
				e, failed := items[i]
				switch {
				case failed && IsPermanent(e):
					dead = append(dead, evs[i])
				case i < retry:
					took++
				default:
					keepE, keepA = append(keepE, evs[i]), append(keepA, at[i])
				}
			}
			if took > 0 {
				w.settleSpooled(took, &w.delivered)
				if d.obs != nil {
					d.obs.Delivered(w.name, took)
				}
			}
			d.deadLetter(w, dead, "permanent: "+err.Error())
			evs, at = keepE, keepA
			if len(evs) == 0 {
				break
			}
		} else if IsPermanent(err) {
			d.deadLetter(w, evs, "permanent: "+err.Error())
			break
		}
		// Too old: dead-letter the events past the max age (the oldest come first).
		cut := 0
		for cut < len(evs) && now.Sub(at[cut]) > w.sp.MaxAge() {
			cut++
		}
		if cut > 0 {
			d.deadLetter(w, evs[:cut], "max age: "+err.Error())
			evs, at = evs[cut:], at[cut:]
			if len(evs) == 0 {
				break
			}
		}
		d.log.LogAttrs(d.ctx, slog.LevelDebug, "event delivery failed, retrying",
			slog.String("connector", w.name), slog.Int("events", len(evs)),
			slog.Int("attempt", attempt+1), slog.Duration("backoff", backoff),
			slog.String("error", err.Error()))
		if _, ok := w.failWarn.note(0, now, d.warnEvery); ok {
			d.log.LogAttrs(context.Background(), slog.LevelWarn, "event delivery failing, events kept in the spool",
				slog.String("connector", w.name), slog.Int64("spooled", w.sp.Stats().Pending),
				slog.String("error", err.Error()))
		}
		w.sp.Failing(true)
		if !d.pause(w, retryWait(backoff, err)) {
			return false
		}
		backoff = min(2*backoff, d.maxBackoff)
	}
	if err := w.sp.Ack(b.End, total); err != nil {
		w.setLastError(err, time.Now())
	}
	return true
}

// settleSpooled counts n events of the spool as delivered or failed. The spool's
// pending count falls when the batch is acknowledged.
func (w *worker) settleSpooled(n int, c *atomic.Uint64) {
	c.Add(uint64(n))
	w.noteDelivered(c)
}

// deadLetter writes evs to w's dead-letter file and counts them failed.
func (d *Dispatcher) deadLetter(w *worker, evs []event.Event, reason string) {
	if len(evs) == 0 {
		return
	}
	if err := w.sp.DeadLetter(evs, reason); err != nil {
		w.setLastError(err, time.Now())
	}
	if d.obs != nil {
		d.obs.DeadLettered(w.name, len(evs))
		d.obs.Failed(w.name, len(evs))
	}
	if count, ok := w.failWarn.note(uint64(len(evs)), time.Now(), d.warnEvery); ok {
		d.log.LogAttrs(context.Background(), slog.LevelWarn, "events dead-lettered",
			slog.String("connector", w.name), slog.Uint64("dead_lettered", count),
			slog.String("file", w.sp.DeadLetterPath()), slog.String("reason", reason))
	}
	w.deadLettered.Add(uint64(len(evs)))
	w.failed.Add(uint64(len(evs)))
}
