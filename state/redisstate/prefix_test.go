package redisstate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/state/redisstate"
	"github.com/loginguard/loginguard/state/redisstate/redistest"
)

// prefixPolicy is testPolicy with per-prefix counting and known prefixes on.
var prefixPolicy = func() state.Policy {
	p := testPolicy
	p.MaxFailures = 10
	p.PerPrefixMaxFailures = 5
	p.KnownPrefixTTL = 30 * 24 * time.Hour
	return p
}()

// attemptFrom admits one attempt on at and finishes it with o under p; it
// reports whether the attempt was admitted.
func attemptFrom(tb testing.TB, s state.Store, at state.Attempt, o state.Outcome, p state.Policy) bool {
	ctx := context.Background()
	adm, err := s.Admit(ctx, at, p)
	if err != nil {
		tb.Fatalf("Admit: %v", err)
	}
	if !adm.Allowed {
		return false
	}
	if _, err := s.Finish(ctx, at, adm.Slot, o, p); err != nil {
		tb.Fatalf("Finish: %v", err)
	}
	return true
}

// TestPrefixRoundTrips: with prefixes on, an attempt still costs one script
// call for Admit and one for Finish.
func TestPrefixRoundTrips(t *testing.T) {
	srv := redistest.StartServer(t)
	s := open(t, redisstate.Options{URL: "redis://" + srv.Addr})
	hook := &roundTrips{}
	s.AddHook(hook)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 1})
	defer c.Close()
	attemptFrom(t, s, state.Attempt{Account: "warm", Prefix: "10.0.0.0/24"}, state.Success, prefixPolicy)

	const n = 500
	outcomes := []state.Outcome{state.Success, state.CountedFailure, state.Uncounted, state.CountedFailure}
	hook.n.Store(0)
	before := commandStats(t, c)
	admitted := 0
	for i := range n {
		at := state.Attempt{Account: "user-" + strconv.Itoa(i%20), Prefix: fmt.Sprintf("10.%d.0.0/24", i%7)}
		if attemptFrom(t, s, at, outcomes[i%len(outcomes)], prefixPolicy) {
			admitted++
		}
	}
	after := commandStats(t, c)
	want := int64(n + admitted)
	if got := hook.n.Load(); got != want {
		t.Fatalf("%d attempts (%d admitted) took %d round trips, want %d", n, admitted, got, want)
	}
	if got := after["evalsha"].calls - before["evalsha"].calls; got != want {
		t.Fatalf("EVALSHA calls = %d, want %d", got, want)
	}
	usec := after["evalsha"].usec - before["evalsha"].usec
	t.Logf("%d attempts with prefixes, %d admitted: one script per call, %.1fµs of Redis time per call",
		n, admitted, float64(usec)/float64(want))
}

// TestPrefixValueBounded: however many prefixes attack an account, its value
// in Redis stays within the per-account bounds.
func TestPrefixValueBounded(t *testing.T) {
	requireShared(t)
	prefix := randomPrefix(t)
	dropPrefix(t, prefix)
	s := open(t, redisstate.Options{URL: "redis://" + sharedAddr, Prefix: prefix})
	p := prefixPolicy // account 10, pairs 5
	p.Window = 24 * time.Hour
	ctx := context.Background()
	account := "target"
	// Known prefixes from 100 IPv6 networks, then two failures from each of
	// 1,000 more: Finish counts them even once the account is locked.
	for i := range 100 {
		attemptFrom(t, s, state.Attempt{Account: account, Prefix: fmt.Sprintf("2001:db8:%x:%x::/64", i, i)}, state.Success, p)
	}
	for i := range 1000 {
		at := state.Attempt{Account: account, Prefix: fmt.Sprintf("2001:db8:ffff:%x::/64", i)}
		for range 2 {
			if _, err := s.Finish(ctx, at, "gone", state.CountedFailure, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, err := s.Status(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Prefixes) != state.MaxPrefixCounters || len(st.KnownPrefixes) != state.MaxKnownPrefixes {
		t.Fatalf("Status: %d pairs, %d known prefixes; want %d and %d",
			len(st.Prefixes), len(st.KnownPrefixes), state.MaxPrefixCounters, state.MaxKnownPrefixes)
	}
	c := redis.NewClient(&redis.Options{Addr: sharedAddr})
	defer c.Close()
	key, _ := s.Keys(account)
	v, err := c.Get(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	const limit = 8 << 10
	if len(v) > limit {
		t.Fatalf("account value is %d bytes, want at most %d", len(v), limit)
	}
	if strings.Count(v, "|") != 3*state.MaxPrefixCounters+state.MaxKnownPrefixes {
		t.Fatalf("account value holds the wrong number of entries: %q", v)
	}
	t.Logf("account value after 1,100 prefixes: %d bytes (%d pairs of 2 failures, %d known prefixes, %d failures)",
		len(v), state.MaxPrefixCounters, state.MaxKnownPrefixes, st.Failures)
}

// BenchmarkRedisAdmitFinishPrefixes is BenchmarkRedisAdmitFinish with
// per-prefix counting and known prefixes on, each attempt from one of 256
// prefixes.
func BenchmarkRedisAdmitFinishPrefixes(b *testing.B) {
	requireShared(b)
	prefix := randomPrefix(b)
	dropPrefix(b, prefix)
	s := open(b, redisstate.Options{URL: "redis://" + sharedAddr, Prefix: prefix})
	const accounts = 1 << 16
	names := make([]string, accounts)
	for i := range names {
		names[i] = "user-" + strconv.Itoa(i)
	}
	prefixes := make([]string, 256)
	for i := range prefixes {
		prefixes[i] = fmt.Sprintf("198.%d.%d.0/24", i%8, i)
	}
	attemptFrom(b, s, state.Attempt{Account: "warm"}, state.Success, prefixPolicy)
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 7))
		for pb.Next() {
			r := rng.Uint64()
			o := state.Success
			if r>>32%4 == 0 {
				o = state.CountedFailure
			}
			at := state.Attempt{Account: names[r%accounts], Prefix: prefixes[r>>16%uint64(len(prefixes))]}
			attemptFrom(b, s, at, o, prefixPolicy)
		}
	})
}
