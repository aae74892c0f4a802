package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/state"
)

// SessionSweep is the tightest of the timeouts of a config's session
// watchers (the state's sessions are one pool): what the app's sweep uses.
// The zero value is ready; it is safe for concurrent use.
type SessionSweep struct {
	mu                    sync.Mutex
	every, idle, absolute time.Duration
}

// tighter is the shorter of two durations, a duration <= 0 meaning none.
func tighter(a, b time.Duration) time.Duration {
	if a <= 0 || (b > 0 && b < a) {
		return b
	}
	return a
}

// Add takes a watcher's sweep interval and timeouts into account.
func (s *SessionSweep) Add(every, idle, absolute time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.every, s.idle, s.absolute = tighter(s.every, every), tighter(s.idle, idle), tighter(s.absolute, absolute)
}

// Every is the sweep's interval; 0 when no watcher sweeps.
func (s *SessionSweep) Every() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.every
}

// Run ends the sessions past a timeout every interval until ctx ends, and
// emits a SESSION_ENDED event for each; the state hands each end to one
// caller, so a fleet announces it once. stateError reports a failed call.
func (s *SessionSweep) Run(ctx context.Context, store state.Store, emit func(event.Event), stateError func(op string, err error)) {
	every := s.Every()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		idle, absolute := s.idle, s.absolute
		s.mu.Unlock()
		for range 100 { // a store may answer in batches
			cctx, cancel := context.WithTimeout(ctx, every)
			ended, err := store.ExpiredSessions(cctx, time.Time{}, idle, absolute)
			cancel()
			if err != nil {
				stateError("expired_sessions", err)
				break
			}
			for _, e := range ended {
				emit(SessionEvent(e.Hash, e.Session, event.SessionEnded, "Session ended: "+e.Status))
			}
			if len(ended) == 0 {
				break
			}
		}
	}
}
