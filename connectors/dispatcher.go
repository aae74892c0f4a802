package connectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loginguard/loginguard/connectors/spool"
	"github.com/loginguard/loginguard/event"
)

// Defaults of Options.
const (
	DefaultQueueSize     = 10000
	DefaultBatchSize     = 500
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultMaxRetries    = 3
	DefaultRetryBackoff  = 100 * time.Millisecond
)

// maxRetryBackoff caps the doubling backoff between two attempts of one batch.
const maxRetryBackoff = time.Minute

// retryWait is the wait before a retry: a jittered backoff, drawn uniformly
// between half of it and the whole, and never before a Retry-After the sink
// gave (which is not jittered: the sink asked for at least that).
func retryWait(backoff time.Duration, err error) time.Duration {
	if backoff > 1 {
		backoff = backoff/2 + rand.N(backoff-backoff/2+1)
	}
	return max(backoff, retryAfterOf(err))
}

// warnEvery is the least time between two warnings of one kind for one connector.
const warnEvery = 10 * time.Second

// warnCheck is how often the drop counters are looked at, so that Emit never logs.
const warnCheck = time.Second

// Options configures a Dispatcher. A zero field takes its default.
type Options struct {
	// QueueSize is how many events wait for each connector before new ones are
	// dropped for that connector. Default: 10000.
	QueueSize int
	// BatchSize is the most events handed to one Deliver call. Default: 500.
	BatchSize int
	// FlushInterval is the longest an event waits for its batch to fill before
	// the batch is delivered anyway. Default: 200ms.
	FlushInterval time.Duration
	// MaxRetries is how many times a failed batch is tried again before its
	// events are counted failed. Default: 3; a negative value means no retry.
	// An error marked Permanent is not retried. A connector with a spool
	// retries until delivery or the spool's max age instead.
	MaxRetries int
	// RetryBackoff is the wait before the first retry; it doubles for each
	// further retry, up to one minute. Default: 100ms. Each wait is jittered:
	// drawn between half the backoff and the whole, so that instances and
	// connectors failing together do not retry in step.
	RetryBackoff time.Duration
	// MaxRetryBackoff caps the doubling wait between two attempts of one
	// batch. With a spool the batch is retried until it is delivered or older
	// than the spool's max age, not MaxRetries times. Default: 1m.
	MaxRetryBackoff time.Duration
	// Logger receives the pipeline's warnings. Default: slog.Default().
	Logger *slog.Logger
	// Observer, when not nil, is told of every delivered, failed and dropped
	// event (for metrics). It is called from Emit and from the delivery
	// goroutines, so it must be safe for concurrent use and fast.
	Observer Observer

	// warnEvery and warnCheck override the 10 s between two warnings and the
	// 1 s between two looks at the drop counters, for tests.
	warnEvery, warnCheck time.Duration
}

// Observer counts what happens to events, per connector name. It lets the Caddy
// module feed its metrics without this package knowing about Prometheus.
type Observer interface {
	// Delivered reports n events accepted by the connector.
	Delivered(name string, n int)
	// Failed reports n events given up after the last retry.
	Failed(name string, n int)
	// Dropped reports n events never handed to the connector: its queue was
	// full, the dispatcher was closed, or shutdown ran out of time.
	Dropped(name string, n int)
	// DeadLettered reports n events written to the connector's dead-letter
	// file; they are reported as Failed too.
	DeadLettered(name string, n int)
}

// Named is a connector with the name it has in logs, statistics and metrics.
type Named struct {
	Name      string
	Connector Connector
	// Spool, when not nil, makes the connector's queue durable: events are
	// appended to it (one fsync per batch) before they count as accepted,
	// and delivered from it; see spooled.go. The dispatcher closes it.
	Spool *spool.Spool
}

// Stats is a snapshot of one connector's delivery counters.
type Stats struct {
	// Name is the connector's name as given to NewDispatcher.
	Name string
	// Queued counts the events waiting for the connector, including the batch
	// being delivered or retried.
	Queued int
	// Delivered counts the events the connector accepted.
	Delivered uint64
	// Failed counts the events given up after the last retry.
	Failed uint64
	// Dropped counts the events never handed to the connector.
	Dropped uint64
	// LastError is the error of the latest failed attempt, if any.
	LastError string
	// LastErrorAt is when LastError happened.
	LastErrorAt time.Time
	// LastDeliveredAt is when the connector last accepted events; after
	// LastErrorAt, the connector has recovered from that error.
	LastDeliveredAt time.Time
	// Spooled counts the events in the connector's spool not yet delivered
	// or dead-lettered (also counted in Queued); 0 without a spool.
	Spooled int64
	// SpoolBytes is the disk space of the connector's spool.
	SpoolBytes int64
	// DeadLettered counts the events written to the spool's dead-letter file
	// (a Permanent error, or older than the spool's max age); they are also
	// counted in Failed.
	DeadLettered uint64
	// DeadLetterDiscarded counts the dead letters removed with an old
	// dead-letter file (the spool's DeadLetterBytes) since the spool opened.
	DeadLetterDiscarded uint64
	// Disabled is set when the connector said it will take no more events
	// (an error marked Disabled, e.g. HTTP 410); its events are then
	// dead-lettered (with a spool) or failed.
	Disabled bool
}

// Dispatcher carries events from Emit to every connector. Each connector has a
// bounded queue and a goroutine of its own that batches, delivers and retries;
// Emit never waits, so a slow or stuck connector only loses its own events.
type Dispatcher struct {
	workers []*worker

	queueSize    int
	batchSize    int
	flush        time.Duration
	maxRetries   int
	retryBackoff time.Duration
	maxBackoff   time.Duration
	warnEvery    time.Duration
	warnCheck    time.Duration
	log          *slog.Logger
	obs          Observer

	// ctx is given to Deliver; cancel aborts delivery when Close runs out of time.
	ctx    context.Context
	cancel context.CancelFunc

	// mu guards closed and the closing of the queues: Emit holds it for
	// reading, so it never sends on a closed queue.
	mu     sync.RWMutex
	closed bool

	// stopMonitor ends the goroutine that logs drops; monitorDone says it has.
	stopMonitor chan struct{}
	monitorDone chan struct{}

	closeOnce sync.Once
	closeErr  error
	// monitorChecks counts the monitor's looks at the drop counters (tests
	// wait on it rather than on the clock).
	monitorChecks atomic.Int64
}

// NewDispatcher returns a dispatcher delivering to cs and starts one delivery
// goroutine per connector. Close stops them.
func NewDispatcher(o Options, cs ...Named) *Dispatcher {
	d := &Dispatcher{
		queueSize:    o.QueueSize,
		batchSize:    o.BatchSize,
		flush:        o.FlushInterval,
		maxRetries:   o.MaxRetries,
		retryBackoff: o.RetryBackoff,
		warnEvery:    o.warnEvery,
		warnCheck:    o.warnCheck,
		log:          o.Logger,
		obs:          o.Observer,
	}
	if d.queueSize <= 0 {
		d.queueSize = DefaultQueueSize
	}
	if d.batchSize <= 0 {
		d.batchSize = DefaultBatchSize
	}
	if d.flush <= 0 {
		d.flush = DefaultFlushInterval
	}
	switch {
	case d.maxRetries == 0:
		d.maxRetries = DefaultMaxRetries
	case d.maxRetries < 0:
		d.maxRetries = 0
	}
	if d.retryBackoff <= 0 {
		d.retryBackoff = DefaultRetryBackoff
	}
	d.maxBackoff = o.MaxRetryBackoff
	if d.maxBackoff <= 0 {
		d.maxBackoff = maxRetryBackoff
	}
	if d.warnEvery <= 0 {
		d.warnEvery = warnEvery
	}
	if d.warnCheck <= 0 {
		d.warnCheck = warnCheck
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.workers = make([]*worker, len(cs))
	for i, c := range cs {
		d.workers[i] = &worker{
			name: c.Name,
			conn: c.Connector,
			ch:   make(chan event.Event, d.queueSize),
			done: make(chan struct{}),
			sp:   c.Spool,
		}
	}
	for _, w := range d.workers {
		if w.sp != nil {
			w.spooled = make(chan struct{})
			go d.send(w)
		}
		go d.run(w)
	}
	d.stopMonitor = make(chan struct{})
	d.monitorDone = make(chan struct{})
	go d.monitor()
	return d
}

// Emit hands ev to every connector's queue without blocking or allocating. When
// a connector's queue is full the event is dropped for that connector only and
// counted; a background goroutine logs the drops, at most once per 10 seconds
// per connector, so that Emit does not log. After Close the event is counted as
// dropped (and Emit warns, at most once per 10 seconds). The pointers in ev are
// shared with the connectors: the caller must not change what they point to.
func (d *Dispatcher) Emit(ev event.Event) { d.EmitTo(ev, Targets{}) }

// Targets is a choice among a dispatcher's connectors, made by Select, for
// EmitTo. The zero value chooses every connector.
type Targets struct {
	chosen bool  // false: every connector
	idx    []int // the chosen workers, in order
}

// Select chooses the connectors whose name keep reports true.
func (d *Dispatcher) Select(keep func(name string) bool) Targets {
	t := Targets{chosen: true}
	for i, w := range d.workers {
		if keep(w.name) {
			t.idx = append(t.idx, i)
		}
	}
	return t
}

// Names lists the connectors t chooses among d's.
func (d *Dispatcher) Names(t Targets) []string {
	var names []string
	for i, w := range d.workers {
		if !t.chosen || slices.Contains(t.idx, i) {
			names = append(names, w.name)
		}
	}
	return names
}

// EmitTo is Emit for the connectors t chooses only; t comes from Select on d.
func (d *Dispatcher) EmitTo(ev event.Event, t Targets) {
	d.mu.RLock()
	closed := d.closed
	n := len(d.workers)
	if t.chosen {
		n = len(t.idx)
	}
	for i := range n {
		w := d.workers[i]
		if t.chosen {
			w = d.workers[t.idx[i]]
		}
		if !closed {
			select {
			case w.ch <- ev:
				continue
			default:
			}
		}
		d.drop(w, closed)
	}
	d.mu.RUnlock()
}

// drop counts one event Emit could not queue for w. After Close, when the
// monitor no longer runs, it warns itself, at most once per 10 seconds.
func (d *Dispatcher) drop(w *worker, closed bool) {
	w.dropped.Add(1)
	if d.obs != nil {
		d.obs.Dropped(w.name, 1)
	}
	if !closed {
		w.dropPending.Add(1)
		return
	}
	if n, ok := w.closedWarn.note(1, time.Now(), d.warnEvery); ok {
		d.log.LogAttrs(context.Background(), slog.LevelWarn, "event pipeline closed, events dropped",
			slog.String("connector", w.name), slog.Uint64("dropped", n))
	}
}

// monitor logs the events dropped for a full queue, at most once per warnEvery
// per connector, with the count dropped since the previous warning.
func (d *Dispatcher) monitor() {
	defer close(d.monitorDone)
	tick := time.NewTicker(d.warnCheck)
	defer tick.Stop()
	for {
		select {
		case <-d.stopMonitor:
			return
		case now := <-tick.C:
			d.monitorChecks.Add(1)
			for _, w := range d.workers {
				if w.dropPending.Load() == 0 ||
					(!w.lastDropWarn.IsZero() && now.Sub(w.lastDropWarn) < d.warnEvery) {
					continue
				}
				w.lastDropWarn = now
				d.warnDropped(w, w.dropPending.Swap(0))
			}
		}
	}
}

func (d *Dispatcher) warnDropped(w *worker, n uint64) {
	d.log.LogAttrs(context.Background(), slog.LevelWarn, "event queue full, events dropped",
		slog.String("connector", w.name), slog.Uint64("dropped", n))
}

// Stats returns each connector's counters, in the order given to NewDispatcher.
func (d *Dispatcher) Stats() []Stats {
	out := make([]Stats, len(d.workers))
	for i, w := range d.workers {
		out[i] = w.stats()
	}
	return out
}

// Close stops accepting events, delivers what is queued until ctx is done, then
// closes every connector, returning their Close errors. When ctx ends first,
// deliveries in progress are cancelled, the events still queued are counted as
// dropped, and Close returns an error wrapping ctx's and naming the connectors
// that had undelivered events; a connector whose Deliver ignores cancellation is
// closed as soon as that call returns. A connector with a spool writes its
// queue to the spool and delivers from it until the spool is empty, a delivery
// fails, or ctx ends; what is left stays on disk for the next start and is not
// counted as dropped. Close is idempotent: later calls wait for the first and
// return its result.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.closeOnce.Do(func() { d.closeErr = d.shutdown(ctx) })
	return d.closeErr
}

func (d *Dispatcher) shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	for _, w := range d.workers {
		close(w.ch)
	}
	d.mu.Unlock()

	stop := context.AfterFunc(ctx, d.cancel)
	defer stop()

	var errs []error
	var late []string
	for _, w := range d.workers {
		select {
		case <-w.done:
		case <-ctx.Done():
			// Deliveries are being cancelled; collect whoever is done already.
			select {
			case <-w.done:
			default:
				late = append(late, w.name)
				continue
			}
		}
		if w.interrupted {
			late = append(late, w.name)
		}
		if w.closeErr != nil {
			errs = append(errs, fmt.Errorf("closing connector %s: %w", w.name, w.closeErr))
		}
	}
	d.cancel()
	close(d.stopMonitor)
	<-d.monitorDone
	d.flushWarnings()
	if len(late) > 0 {
		errs = append(errs, fmt.Errorf("connectors %s had undelivered events at shutdown: %w",
			strings.Join(late, ", "), context.Cause(ctx)))
	}
	return errors.Join(errs...)
}

// flushWarnings logs the drops and failures counted since the last warnings, so
// that none goes unreported at shutdown.
func (d *Dispatcher) flushWarnings() {
	for _, w := range d.workers {
		if n := w.dropPending.Swap(0); n > 0 {
			d.warnDropped(w, n)
		}
		if n := w.failWarn.pending.Swap(0); n > 0 {
			last, _ := w.lastError()
			d.log.LogAttrs(context.Background(), slog.LevelWarn, "event delivery failed",
				slog.String("connector", w.name), slog.Uint64("failed", n), slog.String("error", last))
		}
	}
}
