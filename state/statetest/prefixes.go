package statetest

import (
	"fmt"
	"sync"
	"time"

	"github.com/loginguard/loginguard/state"
)

// The suite's prefixes: documentation ranges, and one "home" prefix for the
// account's owner.
const (
	prefixA    = "203.0.113.0/24"
	prefixB    = "198.51.100.0/24"
	prefixC    = "192.0.2.0/24"
	prefixD    = "2001:db8:1:2::/64"
	prefixHome = "100.64.1.0/24"
)

// prefixPolicy: pairs lock at 2 failures, the account at 5, for 15m.
func prefixPolicy() state.Policy {
	p := policy()
	p.MaxFailures = 5
	p.PerPrefixMaxFailures = 2
	return p
}

// knownPolicy adds known prefixes remembered for 30 days to prefixPolicy.
func knownPolicy() state.Policy {
	p := prefixPolicy()
	p.KnownPrefixTTL = 30 * 24 * time.Hour
	return p
}

func from(account, prefix string) state.Attempt {
	return state.Attempt{Account: account, Prefix: prefix}
}

// failFrom admits an attempt from prefix, which must be allowed, and fails it.
func (h *harness) failFrom(account, prefix string, p state.Policy) state.Result {
	h.t.Helper()
	return h.attemptFrom(from(account, prefix), state.CountedFailure, p)
}

// wantRefused checks that an attempt is refused as locked: by the pair's lock
// when pair is set, else by the account's.
func (h *harness) wantRefused(at state.Attempt, p state.Policy, pair bool, until time.Time) state.Admission {
	h.t.Helper()
	adm := h.admitFrom(at, p)
	if adm.Allowed || adm.Slot != "" || !adm.Locked || adm.Busy() || adm.PrefixLocked != pair ||
		!adm.LockedUntil.Equal(until) {
		h.t.Fatalf("Admit(%+v) = %+v, want refused as locked (pair lock: %v) until %v", at, adm, pair, until)
	}
	return adm
}

// Without PerPrefixMaxFailures and KnownPrefixTTL, prefixes change nothing.
func testPrefixesOff(h *harness) {
	p := policy() // MaxFailures 3, no pairs
	a := h.acct("off")
	for i, pfx := range []string{prefixA, prefixA, prefixB} {
		adm := h.mustAdmitFrom(from(a, pfx), p)
		if adm.PrefixFailures != 0 || adm.PrefixInFlight != 0 || adm.KnownPrefix {
			h.t.Fatalf("Admit %d with pairs off = %+v, want no prefix counts", i+1, adm)
		}
		r := h.finishFrom(from(a, pfx), adm.Slot, state.CountedFailure, p)
		if r.Failures != i+1 || r.PrefixFailures != 0 || r.PrefixLocked || r.PrefixNewlyLocked {
			h.t.Fatalf("failure %d with pairs off = %+v, want %d account failures, no pair", i+1, r, i+1)
		}
	}
	until := h.now().Add(p.LockDuration)
	h.wantRefused(from(a, prefixC), p, false, until)
	h.wantStatus(h.status(a), state.AccountStatus{
		Account: a, Failures: 3, Locked: true, LockedUntil: until, LockLevel: 1,
	})
	// A success records no known prefix either.
	b := h.acct("off-ok")
	h.attemptFrom(from(b, prefixHome), state.Success, p)
	h.wantStatus(h.status(b), state.AccountStatus{Account: b})
}

// A pair locks at PerPrefixMaxFailures; the account and other prefixes go on.
func testPairLock(h *harness) {
	p := prefixPolicy()
	a := h.acct("pair")
	if r := h.failFrom(a, prefixA, p); r.Failures != 1 || r.PrefixFailures != 1 || r.PrefixLocked || r.Locked {
		h.t.Fatalf("first failure from A = %+v, want 1 and 1, no lock", r)
	}
	adm := h.mustAdmitFrom(from(a, prefixA), p)
	if adm.Failures != 1 || adm.PrefixFailures != 1 || adm.PrefixInFlight != 0 {
		h.t.Fatalf("Admit from A = %+v, want 1 failure, 1 from A", adm)
	}
	until := h.now().Add(p.LockDuration)
	r := h.finishFrom(from(a, prefixA), adm.Slot, state.CountedFailure, p)
	if r.Failures != 2 || r.Locked || r.NewlyLocked || r.PrefixFailures != 2 || !r.PrefixLocked ||
		!r.PrefixNewlyLocked || !r.PrefixLockedUntil.Equal(until) {
		h.t.Fatalf("second failure from A = %+v, want the pair newly locked until %v, the account not", r, until)
	}
	adm = h.wantRefused(from(a, prefixA), p, true, until)
	if adm.PrefixFailures != 2 || adm.Failures != 2 {
		h.t.Fatalf("refused Admit from A = %+v, want 2 failures from A, 2 in all", adm)
	}
	// The same prefix however written.
	h.wantRefused(from(a, "203.0.113.77/24"), p, true, until)
	h.wantRefused(from(a, "::ffff:203.0.113.9/120"), p, true, until)
	// Other prefixes, a single address inside A, and no prefix at all get in.
	for _, pfx := range []string{prefixB, prefixD, "203.0.113.77", ""} {
		adm := h.mustAdmitFrom(from(a, pfx), p)
		if adm.PrefixFailures != 0 || adm.Failures != 2 || adm.KnownPrefix {
			h.t.Fatalf("Admit from %q = %+v, want 0 failures from it, 2 in all", pfx, adm)
		}
		h.finishFrom(from(a, pfx), adm.Slot, state.Uncounted, p)
	}
	h.wantStatus(h.status(a), state.AccountStatus{
		Account: a, Failures: 2,
		Prefixes: []state.PrefixStatus{{Prefix: prefixA, Failures: 2, Locked: true, LockedUntil: until}},
	})
	if got := h.lockedAccounts(); len(got) != 0 {
		h.t.Fatalf("LockedAccounts = %v, want none: a pair lock does not lock the account", names(got))
	}

	// In-flight slots count against their pair: two from B fill it.
	b1 := h.mustAdmitFrom(from(a, prefixB), p)
	b2 := h.mustAdmitFrom(from(a, prefixB), p)
	adm = h.admitFrom(from(a, prefixB), p)
	if !adm.Busy() || adm.PrefixInFlight != 2 || adm.InFlight != 2 {
		h.t.Fatalf("third Admit from B with 2 in flight = %+v, want busy", adm)
	}
	c := h.mustAdmitFrom(from(a, prefixC), p)
	if c.PrefixInFlight != 0 || c.InFlight != 2 {
		h.t.Fatalf("Admit from C = %+v, want 0 from C, 2 in flight", c)
	}
	h.wantStatus(h.status(a), state.AccountStatus{
		Account: a, Failures: 2, InFlight: 3,
		Prefixes: []state.PrefixStatus{{Prefix: prefixA, Failures: 2, Locked: true, LockedUntil: until}},
	})
	for _, s := range []string{b1.Slot, b2.Slot} {
		h.finishFrom(from(a, prefixB), s, state.Uncounted, p)
	}
	h.finishFrom(from(a, prefixC), c.Slot, state.Uncounted, p)

	// A success from a prefix clears that pair's count and the account's, not
	// another pair's lock.
	h.failFrom(a, prefixC, p)
	h.attemptFrom(from(a, prefixC), state.Success, p)
	h.wantStatus(h.status(a), state.AccountStatus{
		Account:  a,
		Prefixes: []state.PrefixStatus{{Prefix: prefixA, Failures: 2, Locked: true, LockedUntil: until}},
	})

	// The pair's lock ends after LockDuration, and its count with it.
	h.clock.Advance(p.LockDuration - time.Second)
	h.wantRefused(from(a, prefixA), p, true, until)
	h.clock.Advance(time.Second)
	adm = h.mustAdmitFrom(from(a, prefixA), p)
	if adm.PrefixFailures != 0 || adm.Failures != 0 {
		h.t.Fatalf("Admit from A after its lock = %+v, want 0 failures", adm)
	}
	r = h.finishFrom(from(a, prefixA), adm.Slot, state.CountedFailure, p)
	if r.PrefixFailures != 1 || r.PrefixLocked || r.Failures != 1 {
		h.t.Fatalf("failure from A after its lock = %+v, want 1 and 1", r)
	}
	// Pair failures leave the window like the account's.
	h.clock.Advance(p.Window)
	h.wantStatus(h.status(a), state.AccountStatus{Account: a})
}

// The account locks for every prefix at MaxFailures, the ceiling.
func testPrefixCeiling(h *harness) {
	p := prefixPolicy() // pairs 2, account 5
	a := h.acct("ceiling")
	h.failFrom(a, prefixA, p)
	h.failFrom(a, prefixA, p)
	pairUntil := h.now().Add(p.LockDuration)
	h.clock.Advance(time.Minute)
	h.failFrom(a, prefixB, p)
	h.failFrom(a, prefixB, p)
	bUntil := h.now().Add(p.LockDuration)
	adm := h.mustAdmitFrom(from(a, prefixC), p)
	if adm.Failures != 4 {
		h.t.Fatalf("Admit from C = %+v, want 4 failures", adm)
	}
	until := h.now().Add(p.LockDuration)
	r := h.finishFrom(from(a, prefixC), adm.Slot, state.CountedFailure, p)
	if !r.NewlyLocked || !r.Locked || r.Failures != 5 || !r.LockedUntil.Equal(until) ||
		r.PrefixFailures != 1 || r.PrefixLocked || r.PrefixNewlyLocked {
		h.t.Fatalf("fifth failure (from C) = %+v, want the account newly locked until %v, C not", r, until)
	}
	for _, pfx := range []string{prefixC, prefixD, ""} {
		h.wantRefused(from(a, pfx), p, false, until)
	}
	// An unknown prefix whose pair is locked is refused by the account's lock,
	// which covers everyone.
	h.wantRefused(from(a, prefixA), p, false, until)
	want := state.AccountStatus{
		Account: a, Failures: 5, Locked: true, LockedUntil: until, LockLevel: 1,
		Prefixes: []state.PrefixStatus{ // sorted as strings
			{Prefix: prefixC, Failures: 1},
			{Prefix: prefixB, Failures: 2, Locked: true, LockedUntil: bUntil},
			{Prefix: prefixA, Failures: 2, Locked: true, LockedUntil: pairUntil},
		},
	}
	h.wantStatus(h.status(a), want)
	if got := h.lockedAccounts(); len(got) != 1 {
		h.t.Fatalf("LockedAccounts = %v, want the account", names(got))
	} else {
		h.wantStatus(got[0], want)
	}

	// Unlock lifts the pairs' locks too.
	if !h.unlock(a) {
		h.t.Fatal("Unlock reported false")
	}
	h.wantStatus(h.status(a), state.AccountStatus{Account: a})
	h.attemptFrom(from(a, prefixA), state.Uncounted, p)

	// Reset clears the counts but not a pair's lock.
	h.failFrom(a, prefixA, p)
	h.failFrom(a, prefixB, p)
	h.failFrom(a, prefixB, p)
	bUntil = h.now().Add(p.LockDuration)
	if err := h.s.Reset(h.ctx, a); err != nil {
		h.t.Fatalf("Reset: %v", err)
	}
	h.wantStatus(h.status(a), state.AccountStatus{
		Account:  a,
		Prefixes: []state.PrefixStatus{{Prefix: prefixB, Locked: true, LockedUntil: bUntil}},
	})
	h.wantRefused(from(a, prefixB), p, true, bUntil)

	// The end of the account's lock clears every count, not the pairs' locks.
	c := h.acct("ceiling-end")
	p.LockDuration = 5 * time.Minute
	p.Window = time.Hour
	h.failFrom(c, prefixA, p)
	h.failFrom(c, prefixA, p)
	aUntil := h.now().Add(p.LockDuration)
	h.clock.Advance(time.Minute)
	h.failFrom(c, prefixB, p)
	h.failFrom(c, prefixC, p)
	r = h.failFrom(c, prefixD, p)
	if !r.NewlyLocked {
		h.t.Fatalf("fifth failure = %+v, want the account locked", r)
	}
	h.clock.Advance(p.LockDuration - time.Minute) // A's pair lock ends first
	h.wantStatus(h.status(c), state.AccountStatus{
		Account: c, Failures: 5, Locked: true, LockedUntil: r.LockedUntil, LockLevel: 1,
		Prefixes: []state.PrefixStatus{
			{Prefix: prefixC, Failures: 1}, {Prefix: prefixB, Failures: 1}, {Prefix: prefixD, Failures: 1},
		},
	})
	if !aUntil.Before(r.LockedUntil) {
		h.t.Fatalf("pair lock until %v, account lock until %v: want the pair's first", aUntil, r.LockedUntil)
	}
	h.clock.Advance(time.Minute) // the account's lock ends (LockMemory 0)
	h.wantStatus(h.status(c), state.AccountStatus{Account: c})
}

// A prefix with a success is known: it gets in during an automatic lock, within
// its own pair's limit.
func testKnownPrefix(h *harness) {
	p := knownPolicy() // pairs 2, account 5, known 30 days
	a := h.acct("known")
	known := h.now().Add(p.KnownPrefixTTL)
	r := h.attemptFrom(from(a, prefixHome), state.Success, p)
	if r != (state.Result{}) {
		h.t.Fatalf("Finish(Success) = %+v, want zero", r)
	}
	h.wantStatus(h.status(a), state.AccountStatus{
		Account: a, KnownPrefixes: []state.KnownPrefix{{Prefix: prefixHome, Until: known}},
	})
	adm := h.mustAdmitFrom(from(a, "100.64.1.200/24"), p)
	if !adm.KnownPrefix {
		h.t.Fatalf("Admit from the home prefix = %+v, want KnownPrefix", adm)
	}
	h.finishFrom(from(a, prefixHome), adm.Slot, state.Uncounted, p)
	if adm := h.mustAdmitFrom(from(a, prefixA), p); adm.KnownPrefix {
		h.t.Fatalf("Admit from A = %+v, want not known", adm)
	} else {
		h.finishFrom(from(a, prefixA), adm.Slot, state.Uncounted, p)
	}

	// An attack from elsewhere locks the account.
	for _, pfx := range []string{prefixA, prefixA, prefixB, prefixB, prefixC} {
		r = h.failFrom(a, pfx, p)
	}
	if !r.NewlyLocked {
		h.t.Fatalf("fifth failure = %+v, want the account locked", r)
	}
	until := r.LockedUntil
	h.wantRefused(from(a, prefixD), p, false, until)
	h.wantRefused(from(a, ""), p, false, until)

	// The owner still gets in, and logs in; the lock stays for the others.
	adm = h.mustAdmitFrom(from(a, prefixHome), p)
	if !adm.KnownPrefix || adm.Failures != 5 || adm.PrefixFailures != 0 {
		h.t.Fatalf("Admit from home during the lock = %+v, want known, 5 failures", adm)
	}
	r = h.finishFrom(from(a, prefixHome), adm.Slot, state.Success, p)
	if !r.Locked || r.NewlyLocked || !r.LockedUntil.Equal(until) || r.Failures != 0 {
		h.t.Fatalf("success from home during the lock = %+v, want still locked until %v", r, until)
	}
	h.wantRefused(from(a, prefixD), p, false, until)

	// Known prefixes are off when the policy says so, whatever is stored.
	off := p
	off.KnownPrefixTTL = 0
	if adm := h.wantRefused(from(a, prefixHome), off, false, until); adm.KnownPrefix {
		h.t.Fatalf("Admit with KnownPrefixTTL 0 = %+v, want KnownPrefix false", adm)
	}

	// The home pair has its own limit.
	h.failFrom(a, prefixHome, p)
	homeUntil := h.now().Add(p.LockDuration)
	r = h.failFrom(a, prefixHome, p)
	if !r.PrefixNewlyLocked || !r.Locked || r.NewlyLocked || r.PrefixFailures != 2 {
		h.t.Fatalf("second failure from home = %+v, want the pair newly locked", r)
	}
	adm = h.wantRefused(from(a, prefixHome), p, true, homeUntil)
	if !adm.KnownPrefix {
		h.t.Fatalf("refused Admit from home = %+v, want KnownPrefix", adm)
	}
	st := h.status(a)
	if !st.Locked || st.AdminLock || len(st.KnownPrefixes) != 1 || st.KnownPrefixes[0].Prefix != prefixHome {
		h.t.Fatalf("Status = %+v, want an automatic lock and the home prefix known", st)
	}

	// A known prefix also passes an account whose slots are full.
	b := h.acct("known-busy")
	h.attemptFrom(from(b, prefixHome), state.Success, p)
	for _, pfx := range []string{prefixA, prefixA, prefixB, prefixB, prefixC} {
		h.mustAdmitFrom(from(b, pfx), p)
	}
	if adm := h.admitFrom(from(b, prefixD), p); !adm.Busy() || adm.InFlight != 5 {
		h.t.Fatalf("Admit from D with 5 in flight = %+v, want busy", adm)
	}
	home := h.mustAdmitFrom(from(b, prefixHome), p)
	if !home.KnownPrefix || home.InFlight != 5 {
		h.t.Fatalf("Admit from home with 5 in flight = %+v, want allowed, known", home)
	}
	h.finishFrom(from(b, prefixHome), home.Slot, state.Uncounted, p)
	h.wantStatus(h.status(b), state.AccountStatus{
		Account: b, InFlight: 5,
		KnownPrefixes: []state.KnownPrefix{{Prefix: prefixHome, Until: h.now().Add(p.KnownPrefixTTL)}},
	})
}

// An admin lock applies to known prefixes too.
func testKnownPrefixAdminLock(h *harness) {
	p := knownPolicy()
	a := h.acct("admin")
	h.attemptFrom(from(a, prefixHome), state.Success, p)
	knownUntil := h.now().Add(p.KnownPrefixTTL)
	h.lock(a, time.Hour)
	until := h.now().Add(time.Hour)
	if adm := h.wantRefused(from(a, prefixHome), p, false, until); !adm.KnownPrefix {
		h.t.Fatalf("Admit from home during an admin lock = %+v, want KnownPrefix (and refused)", adm)
	}
	h.wantStatus(h.status(a), state.AccountStatus{
		Account: a, Locked: true, LockedUntil: until, AdminLock: true,
		KnownPrefixes: []state.KnownPrefix{{Prefix: prefixHome, Until: knownUntil}},
	})
	// Unlock keeps the known prefixes.
	if !h.unlock(a) {
		h.t.Fatal("Unlock reported false")
	}
	h.wantStatus(h.status(a), state.AccountStatus{
		Account: a, KnownPrefixes: []state.KnownPrefix{{Prefix: prefixHome, Until: knownUntil}},
	})

	// An admin lock on top of an automatic one stops the home prefix as well.
	for _, pfx := range []string{prefixA, prefixA, prefixB, prefixB, prefixC} {
		h.failFrom(a, pfx, p)
	}
	h.attemptFrom(from(a, prefixHome), state.Uncounted, p)
	h.lock(a, 0)
	h.wantRefused(from(a, prefixHome), p, false, time.Time{})
	st := h.status(a)
	if !st.Locked || !st.Permanent || !st.AdminLock || st.LockLevel != 1 {
		h.t.Fatalf("Status = %+v, want a permanent admin lock at level 1", st)
	}
	// When an admin lock ends, the next automatic lock is passed again.
	b := h.acct("admin-end")
	h.attemptFrom(from(b, prefixHome), state.Success, p)
	h.lock(b, time.Minute)
	h.clock.Advance(time.Minute)
	for _, pfx := range []string{prefixA, prefixA, prefixB, prefixB, prefixC} {
		h.failFrom(b, pfx, p)
	}
	if st := h.status(b); !st.Locked || st.AdminLock {
		h.t.Fatalf("Status = %+v, want an automatic lock", st)
	}
	h.attemptFrom(from(b, prefixHome), state.Uncounted, p)
}

// Known prefixes expire KnownPrefixTTL after their last success.
func testKnownPrefixExpiry(h *harness) {
	p := knownPolicy()
	p.KnownPrefixTTL = time.Hour
	p.LockDuration = 2 * time.Hour
	a := h.acct("expiry")
	t0 := h.now()
	h.attemptFrom(from(a, prefixHome), state.Success, p)
	h.clock.Advance(30 * time.Minute)
	h.attemptFrom(from(a, prefixHome), state.Success, p) // renews: known until t0+90m
	h.wantStatus(h.status(a), state.AccountStatus{
		Account: a, KnownPrefixes: []state.KnownPrefix{{Prefix: prefixHome, Until: t0.Add(90 * time.Minute)}},
	})
	h.clock.Advance(59 * time.Minute) // t0+89m
	var r state.Result
	for _, pfx := range []string{prefixA, prefixA, prefixB, prefixB, prefixC} {
		r = h.failFrom(a, pfx, p)
	}
	adm := h.mustAdmitFrom(from(a, prefixHome), p)
	if !adm.KnownPrefix {
		h.t.Fatalf("Admit from home 1m before it expires = %+v, want known", adm)
	}
	h.finishFrom(from(a, prefixHome), adm.Slot, state.Uncounted, p)
	h.clock.Advance(time.Minute) // t0+90m
	if adm := h.wantRefused(from(a, prefixHome), p, false, r.LockedUntil); adm.KnownPrefix {
		h.t.Fatalf("Admit from home once expired = %+v, want not known", adm)
	}
	if st := h.status(a); len(st.KnownPrefixes) != 0 {
		h.t.Fatalf("Status = %+v, want no known prefix", st)
	}
	// A known prefix alone keeps an account until it expires.
	b := h.acct("expiry-alone")
	h.attemptFrom(from(b, prefixHome), state.Success, p)
	h.clock.Advance(p.KnownPrefixTTL)
	h.wantStatus(h.status(b), state.AccountStatus{Account: b})
}

// An account keeps at most MaxKnownPrefixes known prefixes and
// MaxPrefixCounters pairs, dropping the oldest and keeping locked pairs.
func testPrefixBounds(h *harness) {
	p := knownPolicy()
	p.MaxFailures = 1000
	p.PerPrefixMaxFailures = 3
	p.Window = 24 * time.Hour
	p.LockDuration = 24 * time.Hour
	a := h.acct("bounds")
	const extra = 4
	for i := range state.MaxKnownPrefixes + extra {
		h.attemptFrom(from(a, fmt.Sprintf("10.0.%d.0/24", i)), state.Success, p)
		h.clock.Advance(time.Second)
	}
	st := h.status(a)
	if len(st.KnownPrefixes) != state.MaxKnownPrefixes {
		h.t.Fatalf("%d known prefixes kept, want %d", len(st.KnownPrefixes), state.MaxKnownPrefixes)
	}
	for _, k := range st.KnownPrefixes {
		var i int
		if _, err := fmt.Sscanf(k.Prefix, "10.0.%d.0/24", &i); err != nil || i < extra {
			h.t.Fatalf("known prefixes %+v: want the newest %d", st.KnownPrefixes, state.MaxKnownPrefixes)
		}
	}

	// One locked pair, then more pairs than the bound, each with one failure.
	for range p.PerPrefixMaxFailures {
		h.failFrom(a, prefixA, p)
	}
	aUntil := h.now().Add(p.LockDuration)
	for i := range state.MaxPrefixCounters + extra {
		h.clock.Advance(time.Second)
		h.failFrom(a, fmt.Sprintf("10.1.%d.0/24", i), p)
	}
	st = h.status(a)
	if len(st.Prefixes) != state.MaxPrefixCounters {
		h.t.Fatalf("%d pairs kept, want %d", len(st.Prefixes), state.MaxPrefixCounters)
	}
	lockedKept := false
	for _, ps := range st.Prefixes {
		if ps.Prefix == prefixA {
			lockedKept = ps.Locked
			continue
		}
		var i int
		if _, err := fmt.Sscanf(ps.Prefix, "10.1.%d.0/24", &i); err != nil || i <= extra || ps.Failures != 1 {
			h.t.Fatalf("pair %+v kept: want the newest %d and the locked one", ps, state.MaxPrefixCounters-1)
		}
	}
	if !lockedKept {
		h.t.Fatalf("the locked pair was dropped: %+v", st.Prefixes)
	}
	h.wantRefused(from(a, prefixA), p, true, aUntil)
}

// Concurrent attempts from two prefixes keep both limits exact, and known
// prefixes get exactly their pair's limit during a lock.
func testPrefixConcurrent(h *harness) {
	p := knownPolicy()
	p.MaxFailures = 5
	p.PerPrefixMaxFailures = 3
	a := h.acct("race")
	h.attemptFrom(from(a, prefixHome), state.Success, p)

	type tally struct {
		mu                         sync.Mutex
		admitted                   map[string]int
		newly, pairNewly, refusals int
	}
	race := func(prefixes []string, n int) *tally {
		t := &tally{admitted: map[string]int{}}
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range n {
			at := from(a, prefixes[i%len(prefixes)])
			wg.Go(func() {
				<-gate
				adm, err := h.s.Admit(h.ctx, at, p)
				if err != nil {
					h.t.Errorf("Admit: %v", err)
					return
				}
				if !adm.Allowed {
					t.mu.Lock()
					t.refusals++
					t.mu.Unlock()
					return
				}
				r, err := h.s.Finish(h.ctx, at, adm.Slot, state.CountedFailure, p)
				if err != nil {
					h.t.Errorf("Finish: %v", err)
					return
				}
				t.mu.Lock()
				defer t.mu.Unlock()
				t.admitted[at.Prefix]++
				if r.NewlyLocked {
					t.newly++
				}
				if r.PrefixNewlyLocked {
					t.pairNewly++
				}
			})
		}
		close(gate)
		wg.Wait()
		return t
	}

	const n = 200
	t := race([]string{prefixA, prefixB}, n)
	if h.t.Failed() {
		return
	}
	na, nb := t.admitted[prefixA], t.admitted[prefixB]
	if na+nb != p.MaxFailures || na > p.PerPrefixMaxFailures || nb > p.PerPrefixMaxFailures ||
		t.newly != 1 || t.pairNewly != 1 {
		h.t.Fatalf("%d attempts from A and B: %d and %d admitted, %d account locks, %d pair locks; "+
			"want %d in all, at most %d each, one of each lock", n, na, nb, t.newly, t.pairNewly,
			p.MaxFailures, p.PerPrefixMaxFailures)
	}
	st := h.status(a)
	if !st.Locked || st.Failures != p.MaxFailures || st.InFlight != 0 || len(st.Prefixes) != 2 ||
		st.Prefixes[0].Failures+st.Prefixes[1].Failures != p.MaxFailures {
		h.t.Fatalf("Status = %+v, want locked with %d failures over two pairs", st, p.MaxFailures)
	}

	// During the lock, the home prefix gets exactly its pair's limit, and an
	// unknown prefix nothing.
	t = race([]string{prefixHome, prefixC}, n)
	if h.t.Failed() {
		return
	}
	if t.admitted[prefixHome] != p.PerPrefixMaxFailures || t.admitted[prefixC] != 0 || t.pairNewly != 1 || t.newly != 0 {
		h.t.Fatalf("%d attempts from home and C during the lock: %v admitted, %d pair locks; want %d from home only, 1 pair lock",
			n, t.admitted, t.pairNewly, p.PerPrefixMaxFailures)
	}
	if st := h.status(a); st.InFlight != 0 || len(st.Prefixes) != 3 {
		h.t.Fatalf("Status = %+v, want three pairs, nothing in flight", st)
	}
}

// A prefix that is not an address or a CIDR prefix is an error.
func testPrefixInput(h *harness) {
	p := knownPolicy()
	a := h.acct("input")
	for _, bad := range []string{"not-an-ip", "10.0.0.1/33", "fe80::1%eth0", "10.0.0.0/8,1"} {
		if adm, err := h.s.Admit(h.ctx, from(a, bad), p); err == nil {
			h.t.Fatalf("Admit with prefix %q = %+v, want an error", bad, adm)
		}
		if r, err := h.s.Finish(h.ctx, from(a, bad), "x", state.CountedFailure, p); err == nil {
			h.t.Fatalf("Finish with prefix %q = %+v, want an error", bad, r)
		}
	}
	h.wantStatus(h.status(a), state.AccountStatus{Account: a})
	// Forms of one prefix share one pair, in canonical form.
	h.failFrom(a, "2001:DB8:1:2:aa::1/64", p)
	h.failFrom(a, prefixD, p)
	h.wantRefused(from(a, "2001:db8:1:2::/64"), p, true, h.now().Add(p.LockDuration))
	if st := h.status(a); len(st.Prefixes) != 1 || st.Prefixes[0].Prefix != prefixD {
		h.t.Fatalf("Status = %+v, want one pair %s", st, prefixD)
	}
}
