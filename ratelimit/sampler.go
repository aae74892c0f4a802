package ratelimit

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Defaults of NewSampler.
const (
	DefaultSampleInterval = 10 * time.Second
	DefaultSampleKeys     = 10000
)

// Sampler thins out the events of refused attempts so that a flood cannot
// flood the event sinks. Per key (use Decision.Key: the exceeded limit and
// its subject), the first attempt in an interval is emitted and the others
// are suppressed and counted; the next emitted event for that key carries the
// count suppressed since the previous one (e.g. in its message or a
// "suppressed" field). So each key yields at most one event per interval,
// and a route-wide flood (key "route:") one event per interval in all.
//
// Memory is bounded: at most maxKeys keys are remembered, in the order of
// their last emitted event; a new key beyond the bound evicts the oldest.
// An evicted key's suppressed count is never carried by an event (it is
// counted in Stats().Unreported), and the key's next attempt is emitted at
// once. Stats().Suppressed counts every suppressed attempt, for an exact
// metric whatever the sampling dropped.
//
// With a Claimer (WithClaimer), the budget is the fleet's: see WithClaimer.
//
// A Sampler is safe for concurrent use. Its zero value is not usable; make
// one with NewSampler.
type Sampler struct {
	interval time.Duration
	maxKeys  int
	budget   int // events per key and interval, ≥ 1 (see WithBudget)

	claimer      Claimer       // nil: the budget is this Sampler's alone
	claimTimeout time.Duration // of one Claim

	mu         sync.Mutex
	keys       map[string]*list.Element // of *sampleEntry
	order      list.List                // oldest emitted first
	suppressed uint64
	unreported uint64
}

// sampleEntry is what a Sampler remembers of one key.
type sampleEntry struct {
	key        string
	emitted    time.Time // of the first emitted event of the current interval
	count      int       // events emitted in the current interval
	suppressed int       // since the last emitted event
	last       any       // of the latest suppressed attempt (AllowWith)
}

// Pending is what a key had suppressed, and no event carried, when Due or
// Drain took it: the count and the value given with the latest suppressed
// attempt (nil when it came through Allow).
type Pending struct {
	Key        string
	Suppressed int
	Last       any
}

// SamplerStats are a Sampler's counters.
type SamplerStats struct {
	// Keys remembered now.
	Keys int
	// Suppressed attempts since the Sampler was made.
	Suppressed uint64
	// Unreported suppressed attempts: counted in Suppressed but carried by no
	// event because their key was evicted.
	Unreported uint64
}

// NewSampler returns a Sampler that emits one event per key and interval
// (default 10 s when interval ≤ 0) and remembers at most maxKeys keys
// (default 10,000 when maxKeys ≤ 0).
func NewSampler(interval time.Duration, maxKeys int) *Sampler {
	if interval <= 0 {
		interval = DefaultSampleInterval
	}
	if maxKeys <= 0 {
		maxKeys = DefaultSampleKeys
	}
	return &Sampler{interval: interval, maxKeys: maxKeys, budget: 1, keys: make(map[string]*list.Element)}
}

// WithBudget makes the Sampler emit the first n attempts of each key in each
// interval, one event each, instead of only the first; past those n, attempts
// are suppressed and counted as usual, and the first event of a later interval
// carries the count. n ≤ 0 means 1. It returns s and must be called before s
// is used.
func (s *Sampler) WithBudget(n int) *Sampler {
	s.budget = max(1, n)
	return s
}

// Allow reports whether the refused attempt with key at now should emit an
// event. When it should, suppressed is how many attempts with key were
// suppressed since the previous emitted event (0 for the first). When it
// should not, suppressed is the running count that the next emitted event
// will carry, this attempt included.
func (s *Sampler) Allow(key string, now time.Time) (emit bool, suppressed int) {
	return s.AllowWith(key, now, nil)
}

// AllowWith is Allow that, when the attempt is suppressed, keeps last as the
// key's latest suppressed attempt for Due and Drain (e.g. the event it would
// have emitted). last is dropped when a later event carries the count.
func (s *Sampler) AllowWith(key string, now time.Time, last any) (emit bool, suppressed int) {
	s.mu.Lock()
	emit, suppressed, el := s.allow(key, now, last)
	s.mu.Unlock()
	if !emit || s.claimer == nil {
		return emit, suppressed
	}
	// The Sampler would emit: ask the fleet, without holding the lock.
	won := []bool{false}
	ctx, cancel := context.WithTimeout(context.Background(), s.claimTimeout)
	err := s.claimer.Claim(ctx, []string{key}, s.budget, s.interval, won)
	cancel()
	if err != nil || won[0] {
		return true, suppressed // a failed claim emits, as without a Claimer
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return false, s.lost(key, el, suppressed, last)
}

// allow is AllowWith of this Sampler alone; el is key's entry when it emits.
func (s *Sampler) allow(key string, now time.Time, last any) (emit bool, suppressed int, el *list.Element) {
	if el, ok := s.keys[key]; ok {
		e := el.Value.(*sampleEntry)
		if since := now.Sub(e.emitted); since >= 0 && since < s.interval {
			if e.count < s.budget {
				e.count++
				return true, 0, el
			}
			e.suppressed++
			e.last = last
			s.suppressed++
			return false, e.suppressed, nil
		}
		n := e.suppressed
		e.suppressed = 0
		e.last = nil
		e.emitted = now
		e.count = 1
		s.order.MoveToBack(el)
		return true, n, el
	}
	s.prune(now)
	for s.order.Len() >= s.maxKeys {
		s.evict(s.order.Front())
	}
	el = s.order.PushBack(&sampleEntry{key: key, emitted: now, count: 1})
	s.keys[key] = el
	return true, 0, el
}

// lost turns an attempt that allow let through into a suppressed one because
// the fleet's budget of key was used up by other instances: the attempt and
// the carried count are suppressed again, and key emits nothing more this
// interval. It returns key's suppressed count. s.mu is held.
func (s *Sampler) lost(key string, el *list.Element, carried int, last any) int {
	s.suppressed++
	if cur, ok := s.keys[key]; !ok || cur != el {
		// Evicted meanwhile: nothing will carry the count.
		s.unreported += uint64(carried + 1)
		return carried + 1
	}
	e := el.Value.(*sampleEntry)
	e.count = s.budget
	e.suppressed += carried + 1
	e.last = last
	return e.suppressed
}

// prune drops a few of the oldest keys whose interval is over and that have
// nothing to report, so that the map shrinks when a flood ends. A few per
// call keep Allow's cost constant.
func (s *Sampler) prune(now time.Time) {
	for range 2 {
		el := s.order.Front()
		if el == nil {
			return
		}
		e := el.Value.(*sampleEntry)
		if e.suppressed > 0 || now.Sub(e.emitted) < s.interval {
			return
		}
		s.evict(el)
	}
}

// evict forgets the key of el.
func (s *Sampler) evict(el *list.Element) {
	e := s.order.Remove(el).(*sampleEntry)
	delete(s.keys, e.key)
	s.unreported += uint64(e.suppressed)
}

// Due forgets every key whose interval ended at now and returns those that
// had suppressed attempts, so that the caller can emit one event carrying each
// count when a flood stops, instead of waiting for an attempt that may never
// come. A key's next attempt after Due is emitted at once, as for a new key.
// Call it about every interval; its cost is the number of expired keys.
//
// With a Claimer, each count is returned only if its key's claim is won (one
// Claim for all of them); a key whose claim is lost keeps its count for a
// later event and starts a new interval in which it emits nothing, and a
// failed Claim returns every count, as without a Claimer.
func (s *Sampler) Due(now time.Time) []Pending {
	s.mu.Lock()
	var out []Pending
	for el := s.order.Front(); el != nil; el = s.order.Front() {
		e := el.Value.(*sampleEntry)
		if now.Sub(e.emitted) < s.interval {
			break
		}
		if e.suppressed > 0 {
			out = append(out, Pending{Key: e.key, Suppressed: e.suppressed, Last: e.last})
			e.suppressed = 0
		}
		s.evict(el)
	}
	s.mu.Unlock()
	if len(out) == 0 || s.claimer == nil {
		return out
	}
	keys := make([]string, len(out))
	for i, p := range out {
		keys[i] = p.Key
	}
	won := make([]bool, len(out))
	ctx, cancel := context.WithTimeout(context.Background(), s.claimTimeout)
	err := s.claimer.Claim(ctx, keys, s.budget, s.interval, won)
	cancel()
	if err != nil {
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := out[:0]
	for i, p := range out {
		if won[i] {
			kept = append(kept, p)
			continue
		}
		s.keep(p, now)
	}
	return kept
}

// keep gives p's count back to its key, for a later event, with a new
// interval in which the key emits nothing. s.mu is held.
func (s *Sampler) keep(p Pending, now time.Time) {
	if el, ok := s.keys[p.Key]; ok {
		// An attempt came since Due took the key.
		e := el.Value.(*sampleEntry)
		e.suppressed += p.Suppressed
		if e.last == nil {
			e.last = p.Last
		}
		return
	}
	for s.order.Len() >= s.maxKeys {
		s.evict(s.order.Front())
	}
	s.keys[p.Key] = s.order.PushBack(&sampleEntry{key: p.Key, emitted: now, count: s.budget, suppressed: p.Suppressed, last: p.Last})
}

// Drain returns every key's suppressed count whatever its interval, and
// forgets the keys: for a last report when the Sampler's owner stops. It
// claims nothing: each instance reports its own counts when it stops.
func (s *Sampler) Drain() []Pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Pending
	for el := s.order.Front(); el != nil; el = s.order.Front() {
		e := el.Value.(*sampleEntry)
		if e.suppressed > 0 {
			out = append(out, Pending{Key: e.key, Suppressed: e.suppressed, Last: e.last})
			e.suppressed = 0
		}
		s.evict(el)
	}
	return out
}

// Interval returns the Sampler's interval.
func (s *Sampler) Interval() time.Duration { return s.interval }

// Stats returns the Sampler's counters.
func (s *Sampler) Stats() SamplerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SamplerStats{Keys: s.order.Len(), Suppressed: s.suppressed, Unreported: s.unreported}
}
