package statetest

import (
	"time"

	"github.com/loginguard/loginguard/state"
)

// testSessionLookup: Session finds what PutSession put, as often as asked,
// until TakeSession takes it or its ttl runs out; a Put with a ttl that is
// not positive forgets it.
func testSessionLookup(h *harness) {
	lookup := func(hash string) (state.Session, bool) {
		h.t.Helper()
		s, ok, err := h.s.Session(h.ctx, hash)
		if err != nil {
			h.t.Fatalf("Session(%q): %v", hash, err)
		}
		return s, ok
	}
	put := func(hash string, s state.Session, ttl time.Duration) {
		h.t.Helper()
		if err := h.s.PutSession(h.ctx, hash, s, ttl); err != nil {
			h.t.Fatalf("PutSession(%q): %v", hash, err)
		}
	}
	s1 := state.Session{Account: "eu|tom", Source: "API_PORTAL", Principal: "tom@example.com", PortalID: "portal-1"}
	s2 := state.Session{Account: "uma", Source: "API_MANAGER", Principal: "uma"}

	h1, h2 := h.prefix+"hash-1", h.prefix+"hash-2"
	if got, ok := lookup(h1); ok {
		h.t.Fatalf("Session of a hash never put = %+v", got)
	}
	put(h1, s1, time.Minute)
	put(h2, s2, time.Hour)
	for i := range 2 {
		if got, ok := lookup(h1); !ok || !sameIdentity(got, s1) {
			h.t.Fatalf("Session #%d = %+v, %v; want %+v, true", i+1, got, ok, s1)
		}
	}
	if got, _, err := h.s.TakeSession(h.ctx, h1); err != nil || !sameIdentity(got, s1) {
		h.t.Fatalf("TakeSession after Session = %+v, %v; want %+v", got, err, s1)
	}
	if got, ok := lookup(h1); ok {
		h.t.Fatalf("Session after TakeSession = %+v; want nothing (logged out)", got)
	}

	h.clock.Advance(time.Hour - time.Second)
	if got, ok := lookup(h2); !ok || !sameIdentity(got, s2) {
		h.t.Fatalf("Session 1s before its ttl = %+v, %v; want %+v", got, ok, s2)
	}
	h.clock.Advance(time.Second)
	if got, ok := lookup(h2); ok {
		h.t.Fatalf("Session at its ttl = %+v; want nothing", got)
	}

	put(h1, s1, time.Hour)
	put(h1, s1, 0)
	if got, ok := lookup(h1); ok {
		h.t.Fatalf("Session after a Put with ttl 0 = %+v; want nothing", got)
	}
}
