package geoalerts

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// Stage is the geo alerts as a stage of the event pipeline (a
// connectors.AsyncStage). Observe is safe for concurrent use.
type Stage struct {
	store logstore.Store
	cfg   Config
	q     chan event.Event
	log   *slog.Logger

	// now is the wall clock, for the cache's TTL and the error warnings.
	now func() time.Time

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	startOnce sync.Once
	closeOnce sync.Once
	closed    atomic.Bool
	report    func([]connectors.Finding)

	dropped, processed, storeErrors, alerts atomic.Int64

	// Only the stage's goroutine uses these.
	cache    *cache
	warnedAt time.Time
	unwarned int
}

// Stats counts what the stage did since New.
type Stats struct {
	// Queued is how many events wait in the queue now.
	Queued int
	// Dropped is how many events were not judged: the queue was full, or
	// they were still queued at Close.
	Dropped int64
	// Processed is how many events were judged.
	Processed int64
	// StoreErrors is how many reads of the store failed (the event was then
	// not judged by the rules that needed them).
	StoreErrors int64
	// Alerts is how many alerts were reported.
	Alerts int64
}

// New returns the stage, reading history from store. The pipeline starts it
// (Start) and closes it (Close); the store stays open.
func New(store logstore.Store, cfg Config, logger *slog.Logger) (*Stage, error) {
	if store == nil {
		return nil, errors.New("geo alerts: a log store is required (the history is the store's)")
	}
	if logger != nil {
		cfg.Logger = logger
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Stage{store: store, cfg: cfg, q: make(chan event.Event, cfg.QueueSize), log: cfg.Logger,
		now: time.Now, ctx: ctx, cancel: cancel, cache: newCache(cfg.CacheSize)}, nil
}

// Stats returns the stage's counters.
func (s *Stage) Stats() Stats {
	return Stats{Queued: len(s.q), Dropped: s.dropped.Load(), Processed: s.processed.Load(),
		StoreErrors: s.storeErrors.Load(), Alerts: s.alerts.Load()}
}

// Observe queues ev when a rule may judge it (a successful login, or a
// guessing failure with a known ASN, of a known account) and returns nil: the
// findings come later, through Start's report. It never waits: when the queue
// is full the event is dropped and counted. ALERT events are ignored. An
// event without a date is dated now.
func (s *Stage) Observe(ev event.Event, now time.Time) []connectors.Finding {
	if !s.wants(&ev) || s.closed.Load() {
		return nil
	}
	if ev.EventDate.IsZero() {
		ev.EventDate = now
	}
	select {
	case s.q <- ev:
	default:
		s.dropped.Add(1)
	}
	return nil
}

// wants reports whether a rule judges ev.
func (s *Stage) wants(ev *event.Event) bool {
	switch ev.EventType {
	case event.LoginSuccess:
		if s.cfg.NewCountry.Off && s.cfg.NewDevice.Off && s.cfg.ImpossibleTravel.Off {
			return false
		}
	case event.LoginFailure:
		if s.cfg.ManyASNs.Off || ev.ASN == 0 || !slices.Contains(logstore.GuessingReasons, ev.Reason) {
			return false
		}
	default:
		return false
	}
	if ev.Principal != nil {
		return *ev.Principal != "" // as accountKey
	}
	return ev.Email != nil && *ev.Email != ""
}

// Start starts the stage's goroutine, which reports its findings through
// report. Only the first call counts.
func (s *Stage) Start(report func([]connectors.Finding)) {
	s.startOnce.Do(func() {
		s.report = report
		s.wg.Add(1)
		go s.run()
	})
}

// Close stops the stage's goroutine, cancelling its read of the store, and
// waits for it; events still queued are counted as dropped. Observe then
// ignores every event. Close may be called more than once.
func (s *Stage) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.cancel()
		s.wg.Wait()
		for {
			select {
			case <-s.q:
				s.dropped.Add(1)
			default:
				return
			}
		}
	})
	return nil
}

func (s *Stage) run() {
	defer s.wg.Done()
	for s.ctx.Err() == nil { // select picks at random when both are ready
		select {
		case <-s.ctx.Done():
			return
		case ev := <-s.q:
			fs := s.judge(&ev)
			if len(fs) > 0 && s.ctx.Err() == nil {
				s.alerts.Add(int64(len(fs)))
				s.report(fs)
			}
			s.processed.Add(1)
		}
	}
}

// judge runs the rules on one event and returns the findings.
func (s *Stage) judge(ev *event.Event) []connectors.Finding {
	at := ev.EventDate.UTC().Truncate(time.Millisecond)
	h := s.cache.get(accountKey(ev))
	var found []alert
	if ev.EventType == event.LoginSuccess {
		found = s.success(h, ev, at)
	} else {
		found = s.failure(h, ev, at)
	}
	var fs []connectors.Finding
	for _, a := range found {
		if s.cooling(h, ev, a.rule, at) {
			continue
		}
		h.fired[a.rule] = at
		fs = append(fs, a.finding(ev, at))
	}
	return fs
}

// success judges a successful login dated at and records it.
func (s *Stage) success(h *summary, ev *event.Event, at time.Time) []alert {
	defer h.addSuccess(ev, at)
	fresh := false
	if h.loaded.IsZero() || s.now().Sub(h.loaded) >= s.cfg.CacheTTL {
		if !s.loadSuccesses(h, ev, at) {
			return nil
		}
		fresh = true
	}
	found := s.successRules(h, ev, at)
	if len(found) > 0 && !fresh {
		// Another instance may have seen what this one has not: ask the
		// store before alerting.
		if !s.loadSuccesses(h, ev, at) {
			return nil
		}
		found = s.successRules(h, ev, at)
	}
	return found
}

// failure judges a failed login dated at and records it. The store is read
// when the summary is older than CacheTTL and whenever the ASN is new to it
// (so at most ASNThreshold times per account and window, and never during
// the cooldown): the ASNs other instances saw count at once.
func (s *Stage) failure(h *summary, ev *event.Event, at time.Time) []alert {
	defer h.addFailure(ev.ASN, at)
	if last, ok := h.fired[ManyASNs]; ok && at.Sub(last) < s.cfg.ManyASNs.Cooldown {
		return nil // no need to read the store
	}
	seen, known := h.asns[ev.ASN]
	known = known && !seen.Before(at.Add(-s.cfg.ASNWindow))
	if !known || h.failsLoaded.IsZero() || s.now().Sub(h.failsLoaded) >= s.cfg.CacheTTL {
		if !s.loadFailures(h, ev, at) {
			return nil
		}
	}
	a, ok := s.manyASNs(h, ev, at)
	if !ok {
		return nil
	}
	return []alert{a}
}

// errEnough stops a walk of the store.
var errEnough = errors.New("enough")

// filter selects the events of ev's account.
func filter(ev *event.Event) logstore.Filter {
	f := logstore.Filter{Source: ev.Source}
	if ev.Principal != nil {
		f.Principal = *ev.Principal
	} else {
		f.Email = event.Value(ev.Email)
	}
	return f
}

// walk reads the newest MaxHistory events of f strictly before at, except
// ev itself, into add. It reports whether the store answered.
func (s *Stage) walk(f logstore.Filter, ev *event.Event, at time.Time, add func(*event.Event)) bool {
	f.To = at
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.QueryTimeout)
	defer cancel()
	n := 0
	err := s.store.Each(ctx, f, false, func(e event.Event) error {
		if e.ID == ev.ID || !e.EventDate.Before(at) {
			return nil
		}
		add(&e)
		if n++; n >= s.cfg.MaxHistory {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		if s.ctx.Err() != nil {
			return false // closing
		}
		s.storeErrors.Add(1)
		s.warn(err)
		return false
	}
	return true
}

// loadSuccesses reads the account's successful logins within History before
// at from the store into h.
func (s *Stage) loadSuccesses(h *summary, ev *event.Event, at time.Time) bool {
	f := filter(ev)
	f.Status, f.From = logstore.StatusSuccess, at.Add(-s.cfg.History)
	ok := s.walk(f, ev, at, func(e *event.Event) { h.addSuccess(e, e.EventDate.UTC()) })
	if ok {
		h.loaded = s.now()
	}
	return ok
}

// loadFailures reads the account's guessing failures with an ASN within
// ASNWindow before at from the store into h.
func (s *Stage) loadFailures(h *summary, ev *event.Event, at time.Time) bool {
	f := filter(ev)
	f.Status, f.From = logstore.StatusFailure, at.Add(-s.cfg.ASNWindow)
	ok := s.walk(f, ev, at, func(e *event.Event) {
		if e.ASN != 0 && slices.Contains(logstore.GuessingReasons, e.Reason) {
			h.addFailure(e.ASN, e.EventDate.UTC())
		}
	})
	if ok {
		h.failsLoaded = s.now()
	}
	return ok
}

// cooling reports whether rule fired for h's account within its cooldown
// before at: by this instance, or by another whose ALERT is in the store.
func (s *Stage) cooling(h *summary, ev *event.Event, rule string, at time.Time) bool {
	cool := s.cfg.rule(rule).Cooldown
	if last, ok := h.fired[rule]; ok && at.Sub(last) < cool {
		return true
	}
	f := filter(ev)
	f.EventTypes, f.From = []event.Type{event.Alert}, at.Add(-cool)
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.QueryTimeout)
	defer cancel()
	prefix := "alert rule=" + rule + " "
	err := s.store.Each(ctx, f, false, func(e event.Event) error {
		if m := event.Value(e.Message); len(m) >= len(prefix) && m[:len(prefix)] == prefix {
			return errEnough
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		h.fired[rule] = at
		return true
	}
	if err != nil {
		// Alerting twice is better than not at all.
		s.storeErrors.Add(1)
		s.warn(err)
	}
	return false
}

// warn logs a store error, at most once per 10 s, with the number of errors
// not logged since the last warning.
func (s *Stage) warn(err error) {
	now := s.now()
	if now.Sub(s.warnedAt) < 10*time.Second {
		s.unwarned++
		return
	}
	s.log.Warn("geo alerts: reading the log store failed; events were not judged",
		slog.String("error", err.Error()), slog.Int("more_errors", s.unwarned))
	s.warnedAt, s.unwarned = now, 0
}

// Interface guard.
var _ connectors.AsyncStage = (*Stage)(nil)
