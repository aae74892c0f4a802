package state_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/state/statetest"
)

func TestMemoryConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T, opts state.Options) state.Store {
		m := state.NewMemory(state.MemoryOptions{Options: opts})
		t.Cleanup(func() {
			if err := m.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return m
	})
}

var testPolicy = state.Policy{
	MaxFailures:  5,
	Window:       15 * time.Minute,
	LockDuration: 15 * time.Minute,
	SlotTTL:      time.Minute,
}

func newTestMemory(t testing.TB, o state.MemoryOptions) (*state.Memory, *statetest.Clock) {
	clock := statetest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	o.Now = clock.Now
	m := state.NewMemory(o)
	t.Cleanup(func() { m.Close() })
	return m, clock
}

// fail admits and fails one attempt; it reports whether the attempt was admitted.
func fail(t testing.TB, m *state.Memory, account string, p state.Policy) (state.Result, bool) {
	t.Helper()
	ctx := context.Background()
	adm, err := m.Admit(ctx, state.Attempt{Account: account}, p)
	if err != nil {
		t.Fatalf("Admit(%q): %v", account, err)
	}
	if !adm.Allowed {
		return state.Result{}, false
	}
	r, err := m.Finish(ctx, state.Attempt{Account: account}, adm.Slot, state.CountedFailure, p)
	if err != nil {
		t.Fatalf("Finish(%q): %v", account, err)
	}
	return r, true
}

func lockVictim(t *testing.T, m *state.Memory, victim string) {
	t.Helper()
	for range testPolicy.MaxFailures {
		fail(t, m, victim, testPolicy)
	}
	if st, _ := m.Status(context.Background(), victim); !st.Locked {
		t.Fatalf("victim not locked: %+v", st)
	}
}

// A flood of random names keeps the store within MaxAccounts and never unlocks a
// locked account.
func TestMemoryFloodKeepsLocks(t *testing.T) {
	const maxAccounts, flood = 10000, 1000000
	m, clock := newTestMemory(t, state.MemoryOptions{MaxAccounts: maxAccounts})
	ctx := context.Background()
	lockVictim(t, m, "victim")
	// An account with failures but no lock, last active long before the flood: it
	// is among the first to go.
	fail(t, m, "bystander", testPolicy)

	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 0, 32)
	for i := range flood {
		buf = strconv.AppendUint(append(buf[:0], "flood-"...), rng.Uint64(), 36)
		fail(t, m, string(buf), testPolicy)
		if i%100000 == 0 {
			clock.Advance(time.Second)
			if n, _ := m.Len(); n > maxAccounts {
				t.Fatalf("after %d names: %d accounts tracked, more than %d", i+1, n, maxAccounts)
			}
		}
	}
	if n, _ := m.Len(); n > maxAccounts || n < maxAccounts/2 {
		t.Fatalf("after the flood: %d accounts tracked, want at most %d (and the table in use)", n, maxAccounts)
	}
	st, err := m.Status(ctx, "victim")
	if err != nil || !st.Locked || st.Failures != testPolicy.MaxFailures {
		t.Fatalf("victim after the flood: %+v, %v; want still locked with its failures", st, err)
	}
	if adm, _ := m.Admit(ctx, state.Attempt{Account: "victim"}, testPolicy); !adm.Locked {
		t.Fatalf("Admit(victim) after the flood = %+v, want locked", adm)
	}
	if st, _ := m.Status(ctx, "bystander"); st.Failures != 0 {
		t.Fatalf("bystander after the flood: %+v, want evicted", st)
	}
	locked, _ := m.LockedAccounts(ctx)
	if len(locked) != 1 || locked[0].Account != "victim" {
		t.Fatalf("LockedAccounts after the flood has %d entries, want only the victim", len(locked))
	}
}

// When every tracked account is locked, new accounts are let through untracked and
// no lock is lost; once a lock ends its entry makes room again.
func TestMemoryFullOfLocks(t *testing.T) {
	const maxAccounts = 10
	m, clock := newTestMemory(t, state.MemoryOptions{MaxAccounts: maxAccounts})
	ctx := context.Background()
	for i := range maxAccounts {
		lockVictim(t, m, fmt.Sprintf("locked-%d", i))
	}
	if err := m.Lock(ctx, "locked-0", 0); err != nil { // permanent from now on
		t.Fatalf("Lock of a tracked account: %v", err)
	}
	for i := range 2 * testPolicy.MaxFailures {
		r, ok := fail(t, m, "newcomer", testPolicy)
		if !ok || r.Locked || r.Failures != 0 {
			t.Fatalf("attempt %d of an untracked account: admitted %v, %+v; want admitted, uncounted", i+1, ok, r)
		}
	}
	if n, _ := m.Len(); n != maxAccounts {
		t.Fatalf("Len = %d, want %d", n, maxAccounts)
	}
	if err := m.Lock(ctx, "newcomer", time.Hour); err == nil {
		t.Fatal("Lock of a new account in a table full of locks succeeded")
	}
	locked, _ := m.LockedAccounts(ctx)
	if len(locked) != maxAccounts {
		t.Fatalf("LockedAccounts has %d entries, want %d", len(locked), maxAccounts)
	}

	clock.Advance(testPolicy.LockDuration) // every lock but locked-0's ends
	if r, ok := fail(t, m, "newcomer", testPolicy); !ok || r.Failures != 1 {
		t.Fatalf("newcomer after the locks ended: %+v, want its failure counted", r)
	}
	if st, _ := m.Status(ctx, "locked-0"); !st.Locked || !st.Permanent {
		t.Fatalf("permanent lock lost: %+v", st)
	}
	if n, _ := m.Len(); n > maxAccounts {
		t.Fatalf("Len = %d, want at most %d", n, maxAccounts)
	}
}

// Accounts and sessions that hold nothing any more are dropped.
func TestMemoryDropsIdleEntries(t *testing.T) {
	m, clock := newTestMemory(t, state.MemoryOptions{})
	ctx := context.Background()
	p := testPolicy

	adm, _ := m.Admit(ctx, state.Attempt{Account: "alice"}, p)
	if n, _ := m.Len(); n != 1 {
		t.Fatalf("Len with one attempt in flight = %d, want 1", n)
	}
	m.Finish(ctx, state.Attempt{Account: "alice"}, adm.Slot, state.Success, p)
	if n, _ := m.Len(); n != 0 {
		t.Fatalf("Len after a success = %d, want 0", n)
	}

	// Failures that leave the window and slots that expire are purged as new
	// accounts arrive.
	for i := range 100 {
		fail(t, m, fmt.Sprintf("old-%d", i), p)
		m.Admit(ctx, state.Attempt{Account: fmt.Sprintf("hung-%d", i)}, p)
	}
	clock.Advance(p.Window)
	for i := range 100 {
		adm, _ := m.Admit(ctx, state.Attempt{Account: fmt.Sprintf("new-%d", i)}, p)
		m.Finish(ctx, state.Attempt{Account: fmt.Sprintf("new-%d", i)}, adm.Slot, state.Uncounted, p)
	}
	if n, _ := m.Len(); n != 0 {
		t.Fatalf("Len after everything ran out = %d, want 0", n)
	}

	// Unlock and the end of a lock (with no backoff memory) leave nothing behind.
	lockVictim(t, m, "bob")
	lockVictim(t, m, "carol")
	if ok, _ := m.Unlock(ctx, "bob"); !ok {
		t.Fatal("Unlock(bob) = false")
	}
	clock.Advance(p.LockDuration)
	if locked, _ := m.LockedAccounts(ctx); len(locked) != 0 {
		t.Fatalf("LockedAccounts = %v, want none", locked)
	}
	if n, _ := m.Len(); n != 0 {
		t.Fatalf("Len after the locks ended = %d, want 0", n)
	}

	// Expired sessions go as new ones arrive; taken ones at once.
	for i := range 50 {
		m.PutSession(ctx, fmt.Sprintf("s-%d", i), state.Session{Account: "a"}, time.Minute)
	}
	m.TakeSession(ctx, "s-0")
	if _, s := m.Len(); s != 49 {
		t.Fatalf("sessions = %d, want 49", s)
	}
	clock.Advance(time.Minute)
	m.PutSession(ctx, "fresh", state.Session{Account: "b"}, time.Minute)
	if _, s := m.Len(); s != 1 {
		t.Fatalf("sessions after the others expired = %d, want 1", s)
	}
	if err := m.PutSession(ctx, "fresh", state.Session{}, 0); err != nil {
		t.Fatalf("PutSession with ttl 0: %v", err)
	}
	if _, ok, _ := m.TakeSession(ctx, "fresh"); ok {
		t.Fatal("PutSession with ttl 0 did not forget the session")
	}
}

// A full session table drops the session that would expire first.
func TestMemorySessionCap(t *testing.T) {
	m, _ := newTestMemory(t, state.MemoryOptions{MaxSessions: 3})
	ctx := context.Background()
	ttls := []time.Duration{time.Hour, time.Minute, 2 * time.Hour, 3 * time.Hour, 30 * time.Minute}
	for i, ttl := range ttls {
		m.PutSession(ctx, strconv.Itoa(i), state.Session{Account: strconv.Itoa(i)}, ttl)
		if _, s := m.Len(); s > 3 {
			t.Fatalf("%d sessions, want at most 3", s)
		}
	}
	for i, want := range []bool{false, false, true, true, true} {
		s, ok, err := m.TakeSession(ctx, strconv.Itoa(i))
		if err != nil || ok != want || (ok && s.Account != strconv.Itoa(i)) {
			t.Fatalf("session %d: %+v, %v, %v; want found=%v", i, s, ok, err, want)
		}
	}
}

// However many failures an account collects (while locked, from expired slots),
// no more than MaxFailures times are kept.
func TestMemoryFailuresBounded(t *testing.T) {
	m, _ := newTestMemory(t, state.MemoryOptions{})
	ctx := context.Background()
	p := testPolicy
	p.Window = 0 // never age out
	if err := m.Lock(ctx, "eve", time.Hour); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		r, err := m.Finish(ctx, state.Attempt{Account: "eve"}, "gone", state.CountedFailure, p)
		if err != nil || r.Failures > p.MaxFailures || !r.Locked || r.NewlyLocked {
			t.Fatalf("Finish = %+v, %v", r, err)
		}
	}
	if n := m.StoredFailures("eve"); n != p.MaxFailures {
		t.Fatalf("%d failure times stored, want %d", n, p.MaxFailures)
	}
	// MaxFailures below 1 is taken as 1.
	p.MaxFailures = 0
	if r, _ := fail(t, m, "zero", p); !r.NewlyLocked {
		t.Fatalf("first failure with MaxFailures 0 = %+v, want locked", r)
	}
}

// With Backoff and no cap, the lock length saturates instead of overflowing.
func TestMemoryBackoffSaturates(t *testing.T) {
	m, clock := newTestMemory(t, state.MemoryOptions{})
	p := state.Policy{MaxFailures: 1, Window: time.Hour, LockDuration: time.Hour, Backoff: true, LockMemory: time.Hour, SlotTTL: time.Minute}
	var last time.Duration
	// Build the level by letting each lock end.
	for i := range 70 {
		r, ok := fail(t, m, "trent", p)
		if !ok || !r.NewlyLocked {
			t.Fatalf("lock %d: %+v, admitted %v", i+1, r, ok)
		}
		d := r.LockedUntil.Sub(clock.Now())
		if d < last || d <= 0 {
			t.Fatalf("lock %d lasts %v, after %v", i+1, d, last)
		}
		last = d
		clock.Advance(d)
	}
	if st, _ := m.Status(context.Background(), "trent"); st.LockLevel != 70 {
		t.Fatalf("LockLevel = %d, want 70", st.LockLevel)
	}
}

func TestMemoryClose(t *testing.T) {
	m := state.NewMemory(state.MemoryOptions{})
	ctx := context.Background()
	fail(t, m, "a", testPolicy)
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := m.Admit(ctx, state.Attempt{Account: "a"}, testPolicy); err == nil {
		t.Fatal("Admit after Close succeeded")
	}
	if _, _, err := m.TakeSession(ctx, "x"); err == nil {
		t.Fatal("TakeSession after Close succeeded")
	}
	if n, s := m.Len(); n != 0 || s != 0 {
		t.Fatalf("Len after Close = %d, %d", n, s)
	}
}

func BenchmarkMemoryAdmitFinish(b *testing.B) {
	const accounts = 1 << 16
	m := state.NewMemory(state.MemoryOptions{})
	b.Cleanup(func() { m.Close() })
	names := make([]string, accounts)
	for i := range names {
		names[i] = "user-" + strconv.Itoa(i)
	}
	ctx := context.Background()
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 7))
		for pb.Next() {
			n := rng.Uint64()
			account := names[n%accounts]
			adm, err := m.Admit(ctx, state.Attempt{Account: account}, testPolicy)
			if err != nil {
				b.Error(err)
				return
			}
			if !adm.Allowed {
				continue
			}
			o := state.Success
			if n>>32%4 == 0 {
				o = state.CountedFailure
			}
			if _, err := m.Finish(ctx, state.Attempt{Account: account}, adm.Slot, o, testPolicy); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMemoryAdmitFinishPrefixes is BenchmarkMemoryAdmitFinish with
// per-prefix counting and known prefixes on, each attempt from one of 256
// prefixes.
func BenchmarkMemoryAdmitFinishPrefixes(b *testing.B) {
	const accounts = 1 << 16
	m := state.NewMemory(state.MemoryOptions{})
	b.Cleanup(func() { m.Close() })
	names := make([]string, accounts)
	for i := range names {
		names[i] = "user-" + strconv.Itoa(i)
	}
	prefixes := make([]string, 256)
	for i := range prefixes {
		prefixes[i] = fmt.Sprintf("198.%d.%d.0/24", i%8, i)
	}
	p := testPolicy
	p.MaxFailures = 10
	p.PerPrefixMaxFailures = 5
	p.KnownPrefixTTL = 30 * 24 * time.Hour
	ctx := context.Background()
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 7))
		for pb.Next() {
			n := rng.Uint64()
			at := state.Attempt{Account: names[n%accounts], Prefix: prefixes[n>>16%uint64(len(prefixes))]}
			adm, err := m.Admit(ctx, at, p)
			if err != nil {
				b.Error(err)
				return
			}
			if !adm.Allowed {
				continue
			}
			o := state.Success
			if n>>32%4 == 0 {
				o = state.CountedFailure
			}
			if _, err := m.Finish(ctx, at, adm.Slot, o, p); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
