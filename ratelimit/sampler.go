package ratelimit

import (
	"container/list"
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
// A Sampler is safe for concurrent use. Its zero value is not usable; make
// one with NewSampler.
type Sampler struct {
	interval time.Duration
	maxKeys  int

	mu         sync.Mutex
	keys       map[string]*list.Element // of *sampleEntry
	order      list.List                // oldest emitted first
	suppressed uint64
	unreported uint64
}

// sampleEntry is what a Sampler remembers of one key.
type sampleEntry struct {
	key        string
	emitted    time.Time // of the last emitted event
	suppressed int       // since then
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
	return &Sampler{interval: interval, maxKeys: maxKeys, keys: make(map[string]*list.Element)}
}

// Allow reports whether the refused attempt with key at now should emit an
// event. When it should, suppressed is how many attempts with key were
// suppressed since the previous emitted event (0 for the first). When it
// should not, suppressed is the running count that the next emitted event
// will carry, this attempt included.
func (s *Sampler) Allow(key string, now time.Time) (emit bool, suppressed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.keys[key]; ok {
		e := el.Value.(*sampleEntry)
		if since := now.Sub(e.emitted); since >= 0 && since < s.interval {
			e.suppressed++
			s.suppressed++
			return false, e.suppressed
		}
		n := e.suppressed
		e.suppressed = 0
		e.emitted = now
		s.order.MoveToBack(el)
		return true, n
	}
	s.prune(now)
	for s.order.Len() >= s.maxKeys {
		s.evict(s.order.Front())
	}
	s.keys[key] = s.order.PushBack(&sampleEntry{key: key, emitted: now})
	return true, 0
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

// Stats returns the Sampler's counters.
func (s *Sampler) Stats() SamplerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SamplerStats{Keys: s.order.Len(), Suppressed: s.suppressed, Unreported: s.unreported}
}
