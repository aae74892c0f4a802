package gateway

import (
	"strconv"
	"sync"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/ratelimit"
)

// refusal is a suppressed refused attempt, kept by a sampler (AllowWith) so
// that its count can be reported when the flood stops.
type refusal struct {
	a        attempt
	reason   event.Reason
	failures int
	scope    string // of a rate limit: "ip", "account", ...; "" for a locked account
}

// sampledFlush reports the counts of the route's samplers whose interval is
// over, one event each, until stop is closed; then it reports what is left.
type sampledFlush struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// startFlush starts the route's reporter of sampled refusals, and registers its
// last report with the app so that it runs before the event queues close.
func (h *Route) startFlush() {
	f := &sampledFlush{stop: make(chan struct{}), done: make(chan struct{})}
	h.flush = f
	every := h.sampler.Interval() / 4
	if h.lockEvents != nil {
		every = min(every, h.lockEvents.Interval()/4)
	}
	every = max(every, 50*time.Millisecond)
	go func() {
		defer close(f.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-f.stop:
				return
			case now := <-t.C:
				h.report(h.sampler.Due(now))
				if h.lockEvents != nil {
					h.report(h.lockEvents.Due(now))
				}
			}
		}
	}()
	h.app.OnCleanup(h.stopFlush)
}

// stopFlush stops the reporter and emits every count still held. It may be
// called more than once (by the app and by the route's Close).
func (h *Route) stopFlush() {
	f := h.flush
	if f == nil {
		return
	}
	f.once.Do(func() {
		close(f.stop)
		<-f.done
		h.report(h.sampler.Drain())
		if h.lockEvents != nil {
			h.report(h.lockEvents.Drain())
		}
	})
}

// report emits one event per pending count: the latest suppressed attempt,
// whose message says how many more were refused since the previous event.
func (h *Route) report(ps []ratelimit.Pending) {
	for _, p := range ps {
		r, ok := p.Last.(*refusal)
		if !ok {
			continue
		}
		h.fail(&r.a, r.reason, r.failures)
		if r.reason == event.Locked {
			r.a.ev.FailureCount = r.failures
		}
		r.a.ev.Message = withCount(*r.a.ev.Message, p.Suppressed-1, r.scope)
		r.a.ev.Count = p.Suppressed // this attempt and the p.Suppressed-1 more the message names
		h.emitRefusal(&r.a)
	}
}

// withCount appends to msg how many more attempts were refused since the
// previous event (nothing for none): under the rate limit scope, or on the
// locked account when scope is "".
func withCount(msg string, n int, scope string) *string {
	if n > 0 {
		if scope == "" {
			msg += " (" + strconv.Itoa(n) + " more refused on this account since the last event)"
		} else {
			msg += " (" + strconv.Itoa(n) + " more refused under " + scope + " since the last event)"
		}
	}
	return &msg
}
