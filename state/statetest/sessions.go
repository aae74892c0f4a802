package statetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/loginguard/loginguard/state"
)

// The session helpers fail the test on an error.

func (h *harness) putSession(hash string, s state.Session, ttl time.Duration) {
	h.t.Helper()
	if err := h.s.PutSession(h.ctx, hash, s, ttl); err != nil {
		h.t.Fatalf("PutSession(%q): %v", hash, err)
	}
}

func (h *harness) session(hash string) (state.Session, bool) {
	h.t.Helper()
	s, ok, err := h.s.Session(h.ctx, hash)
	if err != nil {
		h.t.Fatalf("Session(%q): %v", hash, err)
	}
	return s, ok
}

func (h *harness) touch(hash string, at time.Time, every time.Duration) (state.Session, bool) {
	h.t.Helper()
	s, ok, err := h.s.TouchSession(h.ctx, hash, at, every)
	if err != nil {
		h.t.Fatalf("TouchSession(%q, %v, %v): %v", hash, at, every, err)
	}
	return s, ok
}

func (h *harness) endSession(hash, status string, at time.Time) (state.Session, bool) {
	h.t.Helper()
	s, ok, err := h.s.EndSession(h.ctx, hash, status, at)
	if err != nil {
		h.t.Fatalf("EndSession(%q, %q): %v", hash, status, err)
	}
	return s, ok
}

// expiredSessions returns ExpiredSessions restricted to this subtest's
// hashes, after checking that the whole list is in order of the ends.
func (h *harness) expiredSessions(at time.Time, idle, absolute time.Duration) []state.EndedSession {
	h.t.Helper()
	all, err := h.s.ExpiredSessions(h.ctx, at, idle, absolute)
	if err != nil {
		h.t.Fatalf("ExpiredSessions(%v, %v, %v): %v", at, idle, absolute, err)
	}
	if !slices.IsSortedFunc(all, func(a, b state.EndedSession) int { return a.EndedAt.Compare(b.EndedAt) }) {
		h.t.Fatalf("ExpiredSessions not in order of the ends: %v", all)
	}
	var mine []state.EndedSession
	for _, e := range all {
		if strings.HasPrefix(e.Hash, h.prefix) {
			mine = append(mine, e)
		}
	}
	return mine
}

func (h *harness) accountSessions(account string) []string {
	h.t.Helper()
	hashes, err := h.s.AccountSessions(h.ctx, account)
	if err != nil {
		h.t.Fatalf("AccountSessions(%q): %v", account, err)
	}
	return hashes
}

// sameSession compares every field, times with Equal.
func sameSession(a, b state.Session) bool {
	return sameIdentity(a, b) && a.LoginAt.Equal(b.LoginAt) && a.LastSeen.Equal(b.LastSeen) &&
		a.Status == b.Status && a.EndedAt.Equal(b.EndedAt)
}

// sameIdentity compares what the login put, not the times nor the end.
func sameIdentity(a, b state.Session) bool {
	return a.Account == b.Account && a.Source == b.Source && a.Principal == b.Principal &&
		a.PortalID == b.PortalID && a.Prefix == b.Prefix && a.ASN == b.ASN && a.Method == b.Method
}

func (h *harness) wantSession(what string, got state.Session, gotOK bool, want state.Session, wantOK bool) {
	h.t.Helper()
	if gotOK != wantOK || !sameSession(got, want) {
		h.t.Fatalf("%s:\n got %+v, %v\nwant %+v, %v", what, got, gotOK, want, wantOK)
	}
}

// tracked is a session as a login route fills it in.
func tracked(account string) state.Session {
	return state.Session{
		Account: account, Source: "API_PORTAL", Principal: account + "@example.com", PortalID: "portal-1",
		Prefix: "203.0.113.0/24", ASN: 64500, Method: "form",
	}
}

// ended is s as its tombstone.
func ended(s state.Session, status string, at time.Time) state.Session {
	s.Status, s.EndedAt = status, at
	return s
}

// testSessionFields: every field of a session comes back as put; PutSession
// fills a zero LoginAt with the store's clock and a zero LastSeen with
// LoginAt, and ignores Status and EndedAt.
func testSessionFields(h *harness) {
	t0 := h.now()
	full := tracked("eu|tom")
	full.Principal = "Tom Ünïcode <tom@example.com>"
	full.Prefix, full.ASN, full.Method = "2001:db8:1:2::/64", 4294967295, "basic"
	full.LoginAt = t0.Add(-5 * time.Second)
	h.putSession(h.prefix+"given-login", full, time.Hour)
	want := full
	want.LastSeen = full.LoginAt
	got, ok := h.session(h.prefix + "given-login")
	h.wantSession("Session with LoginAt given", got, ok, want, true)

	bare := state.Session{Account: "uma", Source: "API_MANAGER", Principal: "uma"}
	h.putSession(h.prefix+"bare", bare, time.Hour)
	want = bare
	want.LoginAt, want.LastSeen = t0, t0
	got, ok = h.session(h.prefix + "bare")
	h.wantSession("Session without times", got, ok, want, true)

	seen := tracked("vic")
	seen.LoginAt, seen.LastSeen = t0.Add(-time.Hour), t0.Add(-time.Minute)
	seen.Status, seen.EndedAt = state.SessionCompleted, t0 // ignored by a put
	h.putSession(h.prefix+"seen", seen, time.Hour)
	want = seen
	want.Status, want.EndedAt = "", time.Time{}
	got, ok = h.session(h.prefix + "seen")
	h.wantSession("Session put with LastSeen, Status and EndedAt", got, ok, want, true)
	if got.Ended() {
		h.t.Fatal("a live session reports Ended")
	}
}

// testSessionTouch: TouchSession writes LastSeen only when the stored one is
// every or more older, never moves it back, and answers like Session for
// unknown and expired hashes.
func testSessionTouch(h *harness) {
	t0 := h.now()
	every := time.Minute
	s := tracked("wendy")
	s.LoginAt, s.LastSeen = t0, t0
	hash := h.prefix + "busy"
	h.putSession(hash, s, 10*time.Minute)

	step := func(what string, at, wantSeen time.Time) {
		h.t.Helper()
		want := s
		want.LastSeen = wantSeen
		got, ok := h.touch(hash, at, every)
		h.wantSession(what+": TouchSession", got, ok, want, true)
		got, ok = h.session(hash)
		h.wantSession(what+": Session after it", got, ok, want, true)
	}
	h.clock.Advance(30 * time.Second)
	step("30s after the login", h.now(), t0)
	h.clock.Advance(30 * time.Second)
	step("every after the login", h.now(), t0.Add(time.Minute))
	step("an earlier time", t0.Add(30*time.Second), t0.Add(time.Minute))
	h.clock.Advance(59 * time.Second)
	step("59s after the write", h.now(), t0.Add(time.Minute))
	h.clock.Advance(time.Second)
	step("every after the write", h.now(), t0.Add(2*time.Minute))
	h.clock.Advance(5 * time.Minute)
	step("a zero time (the store's clock)", time.Time{}, t0.Add(7*time.Minute))
	// every 0: any later time is written, the same time is not.
	h.clock.Advance(time.Second)
	every = 0
	step("every 0", time.Time{}, t0.Add(7*time.Minute+time.Second))
	step("every 0, later", t0.Add(7*time.Minute+2*time.Second), t0.Add(7*time.Minute+2*time.Second))
	step("every 0, the same time", t0.Add(7*time.Minute+2*time.Second), t0.Add(7*time.Minute+2*time.Second))

	got, ok := h.touch(h.prefix+"never-put", h.now(), time.Minute)
	h.wantSession("TouchSession of a hash never put", got, ok, state.Session{}, false)
	h.clock.Advance(10 * time.Minute) // past the ttl, whatever the touches
	got, ok = h.touch(hash, h.now(), time.Minute)
	h.wantSession("TouchSession after the ttl", got, ok, state.Session{}, false)
}

// testSessionEnd: EndSession turns a live session into a tombstone, once,
// which Session, TouchSession and EndSession report (found false) for the
// session's ttl after the end, and which tells an ended cookie from an
// unknown one; TakeSession is the end with SessionCompleted.
func testSessionEnd(h *harness) {
	t0 := h.now()
	s := tracked("xena")
	s.LoginAt, s.LastSeen = t0, t0
	hash := h.prefix + "stolen"
	h.putSession(hash, s, time.Hour)

	for _, bad := range []string{"", "ip|conflict", "ip conflict", "\"quoted\"", "état", strings.Repeat("x", 65)} {
		if got, ok, err := h.s.EndSession(h.ctx, hash, bad, h.now()); err == nil || ok {
			h.t.Fatalf("EndSession with status %q = %+v, %v, %v; want an error", bad, got, ok, err)
		}
	}
	got, ok := h.session(hash)
	h.wantSession("Session after refused ends", got, ok, s, true)

	h.clock.Advance(time.Minute)
	end := h.now()
	tomb := ended(s, state.SessionIPConflict, end)
	got, ok = h.endSession(hash, state.SessionIPConflict, end)
	h.wantSession("EndSession", got, ok, tomb, true)
	if !got.Ended() {
		h.t.Fatal("the ended session does not report Ended")
	}
	h.clock.Advance(time.Second)
	got, ok = h.endSession(hash, state.SessionCompleted, h.now())
	h.wantSession("a second EndSession (keeps the first end)", got, ok, tomb, false)
	got, ok = h.session(hash)
	h.wantSession("Session of the ended session", got, ok, tomb, false)
	got, ok = h.touch(hash, h.now(), 0)
	h.wantSession("TouchSession of the ended session", got, ok, tomb, false)
	if got, ok, err := h.s.TakeSession(h.ctx, hash); err != nil || ok || got != (state.Session{}) {
		h.t.Fatalf("TakeSession of the ended session = %+v, %v, %v; want nothing", got, ok, err)
	}

	unknown := h.prefix + "never-put"
	got, ok = h.session(unknown)
	h.wantSession("Session of a hash never put", got, ok, state.Session{}, false)
	if got.Ended() {
		h.t.Fatal("an unknown hash reports Ended")
	}
	got, ok = h.endSession(unknown, state.SessionCompleted, h.now())
	h.wantSession("EndSession of a hash never put", got, ok, state.Session{}, false)

	// The tombstone lasts the session's ttl (1h) from the end.
	h.clock.Advance(time.Hour - 2*time.Second) // end + 1h - 1s
	got, ok = h.session(hash)
	h.wantSession("Session 1s before the tombstone goes", got, ok, tomb, false)
	h.clock.Advance(time.Second)
	got, ok = h.session(hash)
	h.wantSession("Session when the tombstone went", got, ok, state.Session{}, false)
	got, ok = h.touch(hash, h.now(), 0)
	h.wantSession("TouchSession when the tombstone went", got, ok, state.Session{}, false)

	// TakeSession is the logout: the end with SessionCompleted, at the
	// store's clock, as EndSession with a zero time.
	out := h.prefix + "logout"
	s2 := tracked("yves")
	s2.LoginAt, s2.LastSeen = h.now(), h.now()
	h.putSession(out, s2, time.Hour)
	h.clock.Advance(time.Minute)
	tomb2 := ended(s2, state.SessionCompleted, h.now())
	if got, ok, err := h.s.TakeSession(h.ctx, out); err != nil || !ok || !sameSession(got, tomb2) {
		h.t.Fatalf("TakeSession = %+v, %v, %v; want %+v", got, ok, err, tomb2)
	}
	got, ok = h.session(out)
	h.wantSession("Session after TakeSession", got, ok, tomb2, false)
	zero := h.prefix + "zero-time"
	h.putSession(zero, s2, time.Hour)
	got, ok = h.endSession(zero, state.SessionNewLogin, time.Time{})
	h.wantSession("EndSession at a zero time (the store's clock)", got, ok, ended(s2, state.SessionNewLogin, h.now()), true)

	// A put replaces a tombstone; a put with ttl 0 leaves no trace.
	s2.LoginAt, s2.LastSeen = h.now(), h.now()
	h.putSession(out, s2, time.Hour)
	got, ok = h.session(out)
	h.wantSession("Session after a put over a tombstone", got, ok, s2, true)
	h.putSession(zero, s2, 0)
	got, ok = h.session(zero)
	h.wantSession("Session after a put with ttl 0 over a tombstone", got, ok, state.Session{}, false)
}

// testSessionTimeouts: ExpiredSessions ends the sessions idle for idle (by
// their LastSeen as TouchSession wrote it) or logged in absolute ago, at
// their deadline, the earlier of the two (absolute on a tie), each once;
// not the sessions ended before or whose ttl ran out; a timeout that is not
// positive is off.
func testSessionTimeouts(h *harness) {
	const idle, absolute, every = 10 * time.Minute, time.Hour, time.Minute
	t0 := h.now()
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	to := func(m int) {
		h.t.Helper()
		if d := at(m).Sub(h.now()); d > 0 {
			h.clock.Advance(d)
		}
	}
	put := func(name string, login, seen time.Time, ttl time.Duration) (string, state.Session) {
		s := tracked(name)
		s.LoginAt, s.LastSeen = login, seen
		h.putSession(h.prefix+name, s, ttl)
		return h.prefix + name, s
	}
	want := func(what string, want ...state.EndedSession) {
		h.t.Helper()
		got := h.expiredSessions(h.now(), idle, absolute)
		if len(got) != len(want) {
			h.t.Fatalf("%s: ExpiredSessions = %+v, want %+v", what, got, want)
		}
		for i := range want {
			if got[i].Hash != want[i].Hash || !sameSession(got[i].Session, want[i].Session) {
				h.t.Fatalf("%s: ExpiredSessions = %+v, want %+v", what, got, want)
			}
		}
	}
	endedAs := func(hash string, s state.Session, status string, end time.Time) state.EndedSession {
		return state.EndedSession{Hash: hash, Session: ended(s, status, end)}
	}
	busy, busyS := put("busy", t0, t0, 2*time.Hour)
	idleH, idleS := put("idle", t0, t0, 2*time.Hour)
	slow, slowS := put("slow", t0, t0, 2*time.Hour)
	short, _ := put("short", t0, t0, 5*time.Minute)
	out, _ := put("logged-out", t0, t0, 2*time.Hour)
	touch := func(hash string) {
		h.t.Helper()
		if _, ok := h.touch(hash, h.now(), every); !ok {
			h.t.Fatalf("TouchSession(%s) at %v: not found", hash, h.now().Sub(t0))
		}
	}

	to(1)
	h.endSession(out, state.SessionCompleted, h.now())
	to(5)
	touch(busy)
	touch(slow) // its idle deadline: t0+15m
	to(9)
	touch(busy)
	want("t0+9m")
	to(10) // the idle session's deadline; the short one's ttl ran out at t0+5m
	if got := h.expiredSessions(h.now(), 0, 0); len(got) != 0 {
		h.t.Fatalf("ExpiredSessions with both timeouts off = %+v", got)
	}
	if got := h.expiredSessions(h.now(), 0, absolute); len(got) != 0 {
		h.t.Fatalf("ExpiredSessions with the idle timeout off = %+v", got)
	}
	want("t0+10m", endedAs(idleH, idleS, state.SessionIdleTimeout, at(10)))
	want("t0+10m again")
	got, ok := h.session(idleH)
	h.wantSession("Session of the idle session", got, ok, ended(idleS, state.SessionIdleTimeout, at(10)), false)
	got, ok = h.session(short)
	h.wantSession("Session of the session whose ttl ran out", got, ok, state.Session{}, false)

	for m := 14; m <= 49; m += 5 {
		to(m)
		touch(busy)
	}
	// Swept late: the slow session ended at its deadline, t0+15m.
	slowS.LastSeen = at(5)
	if got := h.expiredSessions(time.Time{}, idle, absolute); len(got) != 1 || got[0].Hash != slow ||
		!sameSession(got[0].Session, ended(slowS, state.SessionIdleTimeout, at(15))) {
		h.t.Fatalf("ExpiredSessions at t0+49m, at the store's clock = %+v; want the slow session, ended at t0+15m", got)
	}
	to(50)
	// Logged in 50m ago, seen now: both deadlines at t0+60m.
	tie, tieS := put("tie", t0, at(50), 2*time.Hour)
	touch(busy)
	to(59)
	touch(busy)
	want("t0+59m")
	to(60)
	touch(busy)
	busyS.LastSeen = at(60)
	want("t0+60m",
		endedAs(busy, busyS, state.SessionAbsoluteTimeout, at(60)),
		endedAs(tie, tieS, state.SessionAbsoluteTimeout, at(60)))
	got, ok = h.touch(busy, h.now(), every)
	h.wantSession("TouchSession of the session ended by the absolute timeout", got, ok,
		ended(busyS, state.SessionAbsoluteTimeout, at(60)), false)
	to(120)
	want("t0+2h")
}

// testSessionEndsOnce: ExpiredSessions from many goroutines, racing
// EndSession on the same sessions, reports each end once: to one of the
// ExpiredSessions calls or as the one EndSession that returned true.
func testSessionEndsOnce(h *harness) {
	const n, sweepers = 60, 4
	t0 := h.now()
	for i := range n {
		s := tracked(fmt.Sprintf("zoe-%d", i%7))
		s.LoginAt, s.LastSeen = t0, t0
		h.putSession(fmt.Sprintf("%ssession-%02d", h.prefix, i), s, time.Hour)
	}
	h.clock.Advance(10 * time.Minute)
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
		errs = make(chan error, sweepers+2)
	)
	count := func(hash string) {
		mu.Lock()
		seen[hash]++
		mu.Unlock()
	}
	gate := make(chan struct{})
	for range sweepers {
		wg.Go(func() {
			<-gate
			for range 3 {
				all, err := h.s.ExpiredSessions(h.ctx, h.now(), 10*time.Minute, 0)
				if err != nil {
					errs <- err
					return
				}
				for _, e := range all {
					if e.Status != state.SessionIdleTimeout {
						errs <- fmt.Errorf("%s ended as %q", e.Hash, e.Status)
					}
					count(e.Hash)
				}
			}
		})
	}
	for g := range 2 {
		wg.Go(func() {
			<-gate
			for i := g; i < n; i += 2 {
				hash := fmt.Sprintf("%ssession-%02d", h.prefix, i)
				_, ok, err := h.s.EndSession(h.ctx, hash, state.SessionNewLogin, h.now())
				if err != nil {
					errs <- err
					return
				}
				if ok {
					count(hash)
				}
			}
		})
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		h.t.Fatal(err)
	}
	// Whatever the calls left, one more sweep ends.
	for _, e := range h.expiredSessions(h.now(), 10*time.Minute, 0) {
		count(e.Hash)
	}
	for i := range n {
		hash := fmt.Sprintf("%ssession-%02d", h.prefix, i)
		if seen[hash] != 1 {
			h.t.Fatalf("%s reported ended %d times, want once", hash, seen[hash])
		}
		if s, ok := h.session(hash); ok || !s.Ended() {
			h.t.Fatalf("Session(%s) after the races = %+v, %v; want its tombstone", hash, s, ok)
		}
	}
}

// testAccountSessions: AccountSessions lists an account's live sessions,
// oldest login first, and drops them as they end, whichever way.
func testAccountSessions(h *harness) {
	t0 := h.now()
	x, y := h.acct("x"), h.acct("y")
	hash := func(name string) string { return h.prefix + name }
	put := func(name, account string, login time.Time, ttl time.Duration) {
		h.t.Helper()
		s := tracked(account)
		s.LoginAt = login
		h.putSession(hash(name), s, ttl)
	}
	want := func(what, account string, names ...string) {
		h.t.Helper()
		got := h.accountSessions(account)
		w := make([]string, len(names))
		for i, n := range names {
			w[i] = hash(n)
		}
		if !slices.Equal(got, w) {
			h.t.Fatalf("%s: AccountSessions(%s) = %q, want %q", what, account, got, w)
		}
	}
	want("before any put", x)
	put("x-new", x, t0, time.Hour)
	put("x-old", x, t0.Add(-time.Hour), 2*time.Hour)
	put("x-mid", x, t0.Add(-time.Minute), time.Hour)
	put("x-short", x, t0.Add(-2*time.Hour), time.Minute)
	put("y-1", y, t0, time.Hour)
	want("after the puts", x, "x-short", "x-old", "x-mid", "x-new")
	want("after the puts", y, "y-1")

	h.clock.Advance(time.Minute)
	want("after the short ttl", x, "x-old", "x-mid", "x-new")
	h.endSession(hash("x-mid"), state.SessionNewLogin, h.now())
	want("after EndSession", x, "x-old", "x-new")
	if _, ok, err := h.s.TakeSession(h.ctx, hash("x-old")); err != nil || !ok {
		h.t.Fatalf("TakeSession(x-old) = %v, %v", ok, err)
	}
	want("after TakeSession", x, "x-new")
	put("x-new", y, t0, time.Hour) // the hash now belongs to y
	want("after a put for another account", x)
	want("after a put for another account", y, "x-new", "y-1")
	put("x-new", y, t0, 0)
	want("after a put with ttl 0", y, "y-1")

	put("x-idle", x, h.now(), time.Hour)
	want("a new session", x, "x-idle")
	h.clock.Advance(10 * time.Minute)
	if got := h.expiredSessions(h.now(), 10*time.Minute, 0); len(got) != 2 {
		h.t.Fatalf("ExpiredSessions = %+v, want x-idle and y-1", got)
	}
	want("after ExpiredSessions", x)
	want("after ExpiredSessions", y)
	want("an account never seen", h.acct("nobody"))
}
