package redisstate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/state/redisstate"
	"github.com/loginguard/loginguard/state/redisstate/redistest"
	"github.com/loginguard/loginguard/state/statetest"
)

// legacySession is a session value as the version before sessions were
// tracked wrote it, and read it.
type legacySession struct {
	Expires int64 `json:"exp"`
	Session struct {
		Account   string `json:"account"`
		Source    string `json:"source"`
		Principal string `json:"principal"`
		PortalID  string `json:"portalId,omitempty"`
	} `json:"s"`
}

// TestSessionLegacyValue: a session that the version before tracking wrote
// (its raw value, set here by hand) is found, touched without a write, taken
// or ended into a tombstone, which lasts until the old value's expiry; its
// times read as zero.
func TestSessionLegacyValue(t *testing.T) {
	requireShared(t)
	prefix := randomPrefix(t)
	dropPrefix(t, prefix)
	clock := statetest.NewClock(time.UnixMilli(1767225600000).UTC())
	s := open(t, redisstate.Options{URL: "redis://" + sharedAddr, Prefix: prefix, Options: state.Options{Now: clock.Now}})
	c := redis.NewClient(&redis.Options{Addr: sharedAddr})
	defer c.Close()
	ctx := t.Context()

	exp := clock.Now().Add(time.Hour).UnixMilli()
	raw := `{"exp":` + strconv.FormatInt(exp, 10) +
		`,"s":{"account":"eu|tom","source":"API_PORTAL","principal":"Tom \u003ctom@example.com\u003e","portalId":"portal-1"}}`
	for _, h := range []string{"old-1", "old-2"} {
		if err := c.Set(ctx, s.SessionKey(h), raw, time.Hour+time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	want := state.Session{Account: "eu|tom", Source: "API_PORTAL", Principal: "Tom <tom@example.com>", PortalID: "portal-1"}
	if got, ok, err := s.Session(ctx, "old-1"); err != nil || !ok || got != want {
		t.Fatalf("Session of a value of the previous version = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	clock.Advance(10 * time.Minute)
	if got, ok, err := s.TouchSession(ctx, "old-1", clock.Now(), time.Minute); err != nil || !ok || got != want {
		t.Fatalf("TouchSession of a value of the previous version = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	if v, err := c.Get(ctx, s.SessionKey("old-1")).Result(); err != nil || v != raw {
		t.Fatalf("after TouchSession the value is %q, %v; want it untouched", v, err)
	}
	if got, ok, err := s.TakeSession(ctx, "old-2"); err != nil || !ok || got.Account != want.Account || got.Status != state.SessionCompleted {
		t.Fatalf("TakeSession of a value of the previous version = %+v, %v, %v", got, ok, err)
	}

	end := clock.Now()
	tomb := want
	tomb.Status, tomb.EndedAt = state.SessionIPConflict, end
	if got, ok, err := s.EndSession(ctx, "old-1", state.SessionIPConflict, end); err != nil || !ok || got != tomb {
		t.Fatalf("EndSession of a value of the previous version = %+v, %v, %v; want %+v", got, ok, err, tomb)
	}
	clock.Advance(50*time.Minute - time.Second) // 1s before the old expiry
	if got, ok, err := s.Session(ctx, "old-1"); err != nil || ok || got != tomb {
		t.Fatalf("Session of its tombstone = %+v, %v, %v; want %+v", got, ok, err, tomb)
	}
	clock.Advance(time.Second)
	if got, ok, err := s.Session(ctx, "old-1"); err != nil || ok || got != (state.Session{}) {
		t.Fatalf("Session at the old expiry = %+v, %v, %v; want nothing", got, ok, err)
	}
}

// TestSessionValuesForThePreviousVersion: during a rolling upgrade an
// instance of the version before tracking reads the values this one writes:
// a live session as live, with its fields; a tombstone as expired.
func TestSessionValuesForThePreviousVersion(t *testing.T) {
	requireShared(t)
	prefix := randomPrefix(t)
	dropPrefix(t, prefix)
	clock := statetest.NewClock(time.UnixMilli(1767225600000).UTC())
	s := open(t, redisstate.Options{URL: "redis://" + sharedAddr, Prefix: prefix, Options: state.Options{Now: clock.Now}})
	c := redis.NewClient(&redis.Options{Addr: sharedAddr})
	defer c.Close()
	ctx := t.Context()
	read := func() legacySession {
		t.Helper()
		v, err := c.Get(ctx, s.SessionKey("h")).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		var old legacySession
		if err := json.Unmarshal(v, &old); err != nil {
			t.Fatalf("the previous version cannot read %s: %v", v, err)
		}
		return old
	}
	sess := state.Session{Account: "eu|tom", Source: "API_PORTAL", Principal: "tom@example.com", PortalID: "portal-1",
		Prefix: "203.0.113.0/24", ASN: 64500, Method: "form"}
	if err := s.PutSession(ctx, "h", sess, time.Hour); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	if _, ok, err := s.TouchSession(ctx, "h", clock.Now(), time.Minute); err != nil || !ok {
		t.Fatalf("TouchSession: %v, %v", ok, err)
	}
	old := read()
	now := clock.Now().UnixMilli()
	if now >= old.Expires || old.Session.Account != sess.Account || old.Session.Principal != sess.Principal ||
		old.Session.PortalID != sess.PortalID || old.Session.Source != sess.Source {
		t.Fatalf("the previous version reads the live session as %+v at %d", old, now)
	}
	if _, ok, err := s.EndSession(ctx, "h", state.SessionCompleted, clock.Now()); err != nil || !ok {
		t.Fatalf("EndSession: %v, %v", ok, err)
	}
	if old := read(); now < old.Expires {
		t.Fatalf("the previous version reads the tombstone as a live session: %+v at %d", old, now)
	}
}

// TestTouchSessionCost: TouchSession costs one round trip whatever the
// outcome (live, ended, unknown, a write or not), and a session touched once
// a second with every one minute is written once a minute (SET calls inside
// the script, counted by INFO commandstats on a server of the test's own).
func TestTouchSessionCost(t *testing.T) {
	srv := redistest.StartServer(t)
	clock := statetest.NewClock(time.UnixMilli(1767225600000).UTC())
	s := open(t, redisstate.Options{URL: "redis://" + srv.Addr, Options: state.Options{Now: clock.Now}})
	hook := &roundTrips{}
	s.AddHook(hook)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 1})
	defer c.Close()
	ctx := t.Context()
	sess := state.Session{Account: "a", Source: "API_PORTAL", Principal: "a@example.com"}
	for _, h := range []string{"live", "ended"} {
		if err := s.PutSession(ctx, h, sess, 2*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.EndSession(ctx, "ended", state.SessionCompleted, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TouchSession(ctx, "live", clock.Now(), time.Minute); err != nil { // loads the script
		t.Fatal(err)
	}
	for _, h := range []string{"live", "ended", "unknown"} {
		for _, every := range []time.Duration{time.Minute, 0} {
			clock.Advance(time.Second)
			hook.n.Store(0)
			if _, _, err := s.TouchSession(ctx, h, clock.Now(), every); err != nil {
				t.Fatal(err)
			}
			if n := hook.n.Load(); n != 1 {
				t.Fatalf("TouchSession(%s, every %v) took %d round trips", h, every, n)
			}
		}
	}

	before := commandStats(t, c)
	const touches = 300 // one a second: five minutes
	for range touches {
		clock.Advance(time.Second)
		if _, ok, err := s.TouchSession(ctx, "live", clock.Now(), time.Minute); err != nil || !ok {
			t.Fatalf("TouchSession: %v, %v", ok, err)
		}
	}
	after := commandStats(t, c)
	evalsha := after["evalsha"].calls - before["evalsha"].calls
	sets := after["set"].calls - before["set"].calls
	if evalsha != touches || sets != touches/60 {
		t.Fatalf("%d touches a second apart: %d EVALSHA and %d SET; want %d and %d", touches, evalsha, sets, touches, touches/60)
	}
	got, ok, err := s.Session(ctx, "live")
	if err != nil || !ok || clock.Now().Sub(got.LastSeen) >= time.Minute {
		t.Fatalf("Session after the touches = %+v, %v, %v; want LastSeen within a minute of %v", got, ok, err, clock.Now())
	}
}

// TestExpiredSessionsFleet: three instances sharing one Redis sweep for
// timeouts at once, over and over, right after the server forgot its
// scripts, while a fourth ends sessions by logout: every one of 600 sessions
// ends once, reported to one of them. Before anything is due, a sweep is one
// round trip.
func TestExpiredSessionsFleet(t *testing.T) {
	srv := redistest.StartServer(t) // its own: the test flushes the scripts
	clock := statetest.NewClock(time.UnixMilli(1767225600000).UTC())
	var stores []*redisstate.Store
	for range 4 {
		stores = append(stores, open(t, redisstate.Options{URL: "redis://" + srv.Addr, Options: state.Options{Now: clock.Now}}))
	}
	const n = 600
	const idle, absolute = 10 * time.Minute, time.Hour
	ctx := t.Context()
	hash := func(i int) string { return "session-" + strconv.Itoa(i) }
	for i := range n {
		sess := state.Session{Account: "user-" + strconv.Itoa(i%50), Source: "API_PORTAL", Principal: "p"}
		if err := stores[i%3].PutSession(ctx, hash(i), sess, 2*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	hook := &roundTrips{}
	stores[0].AddHook(hook)
	for i := range 2 { // the first call loads the script
		hook.n.Store(0)
		began := time.Now()
		if ends, err := stores[0].ExpiredSessions(ctx, clock.Now(), idle, absolute); err != nil || len(ends) != 0 {
			t.Fatalf("before any timeout: %v %v", ends, err)
		}
		t.Logf("ExpiredSessions #%d with %d sessions, none due: %d round trips, %v", i+1, n, hook.n.Load(), time.Since(began))
	}
	if got := hook.n.Load(); got != 1 {
		t.Fatalf("ExpiredSessions with nothing due took %d round trips, want 1", got)
	}
	// Half are seen again; all reach a timeout, idle or absolute.
	clock.Advance(5 * time.Minute)
	for i := 0; i < n; i += 2 {
		if _, ok, err := stores[i%3].TouchSession(ctx, hash(i), clock.Now(), time.Minute); err != nil || !ok {
			t.Fatalf("TouchSession: %v %v", ok, err)
		}
	}
	clock.Advance(time.Hour)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for _, s := range stores[:3] {
		wg.Go(func() {
			for range 5 {
				ends, err := s.ExpiredSessions(ctx, clock.Now(), idle, absolute)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, e := range ends {
					seen[e.Hash]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for i := 0; i < n; i += 7 {
			_, ok, err := stores[3].EndSession(ctx, hash(i), state.SessionCompleted, clock.Now())
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				seen[hash(i)]++
				mu.Unlock()
			}
		}
	})
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d sessions reported ended, want %d", len(seen), n)
	}
	for h, c := range seen {
		if c != 1 {
			t.Fatalf("%s reported ended %d times", h, c)
		}
	}
	for _, k := range []string{"seen", "login", "exp"} {
		if left, err := c.ZCard(ctx, redisstate.DefaultPrefix+"{sessions}:"+k).Result(); err != nil || left != 0 {
			t.Fatalf("index %s holds %d entries after every session ended (%v)", k, left, err)
		}
	}
}

// BenchmarkTouchSession measures TouchSession against Session, its
// baseline, on the shared Redis: the two calls alternate on the same
// sessions in one loop, so that both see the same load on a shared machine.
// "read": every one minute on a clock that does not move (what a busy
// session costs between writes); "write": every touch writes LastSeen.
// Reported: each call's time, their ratio, and round trips per touch.
func BenchmarkTouchSession(b *testing.B) {
	requireShared(b)
	for _, bc := range []struct {
		name        string
		write       bool
		parallelism int
	}{{"read", false, 0}, {"write", true, 0}, {"read-parallel", false, 16}, {"write-parallel", true, 16}} {
		b.Run(bc.name, func(b *testing.B) {
			prefix := randomPrefix(b)
			dropPrefix(b, prefix)
			clock := statetest.NewClock(time.Now().UTC().Truncate(time.Second))
			s := open(b, redisstate.Options{URL: "redis://" + sharedAddr, Prefix: prefix, Options: state.Options{Now: clock.Now}})
			hook := &roundTrips{}
			s.AddHook(hook)
			statetest.BenchTouchSession(b, s, clock, bc.write, bc.parallelism, hook.n.Load)
		})
	}
}

// BenchmarkExpiredSessionsNoneDue measures a sweep when nothing is due, with
// 10,000 sessions filed, on the shared Redis.
func BenchmarkExpiredSessionsNoneDue(b *testing.B) {
	requireShared(b)
	prefix := randomPrefix(b)
	dropPrefix(b, prefix)
	clock := statetest.NewClock(time.Now().UTC().Truncate(time.Second))
	s := open(b, redisstate.Options{URL: "redis://" + sharedAddr, Prefix: prefix, Options: state.Options{Now: clock.Now}})
	hook := &roundTrips{}
	s.AddHook(hook)
	ctx := context.Background()
	for i := range 10000 {
		if err := s.PutSession(ctx, fmt.Sprintf("%064x", i), state.Session{Account: "user-" + strconv.Itoa(i)}, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	hook.n.Store(0)
	b.ResetTimer()
	for b.Loop() {
		if ends, err := s.ExpiredSessions(ctx, clock.Now(), 10*time.Minute, 30*time.Minute); err != nil || len(ends) != 0 {
			b.Fatalf("ExpiredSessions = %v, %v", ends, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(hook.n.Load())/float64(b.N), "roundtrips/op")
}
