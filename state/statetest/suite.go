// Package statetest is the conformance suite that every state.Store runs. A store's
// own test calls Run with a Factory; the suite drives time through a fake Clock that
// it passes in state.Options.Now, so it never sleeps.
//
// Semantics the suite pins down beyond the doc comments of state.Store:
//   - A lock lasts while now < LockedUntil: at LockedUntil the account is admitted
//     again, and the end of a lock clears the failure count.
//   - A counted failure at time f stops counting once now-f >= Window.
//   - A slot taken at time s is gone once now-s >= SlotTTL.
//   - The backoff level (AccountStatus.LockLevel) is the number of automatic locks
//     remembered; an admin Lock neither raises nor clears it. With Backoff, lock n
//     lasts LockDuration doubled n-1 times, each doubling capped at MaxLockDuration.
//   - A session put with ttl is gone once ttl has passed on the store's clock,
//     without a trace. An ended session leaves a tombstone (Status, EndedAt)
//     for its ttl from the end: found false, Ended true; an unknown hash gives
//     a zero Session.
//   - TouchSession writes LastSeen when now-LastSeen >= every and now is after
//     it. A session is idle at LastSeen+idle and reaches the absolute timeout
//     at LoginAt+absolute: ExpiredSessions ends it at the earlier (absolute on
//     a tie), once, with that time as EndedAt however late it is called.
//   - During a lock, Status and Admission still report the failures in the window.
//   - An IP block lasts while now < Until; Block and Unblock take an address or a
//     CIDR prefix and work on its canonical form (state.ParseIPRange), so
//     "10.0.0.7/24" and "10.0.0.0/24" are one range; Unblock lifts only that exact
//     range, and reports false for a block that already ended.
//   - With PerPrefixMaxFailures (or KnownPrefixTTL) each (account, prefix) pair
//     counts its own failures and locks alone at its limit, for LockDuration
//     without backoff; MaxFailures stays the ceiling for the account. Attempts
//     without a prefix count against the account only. Prefixes are compared in
//     canonical form (state.CanonicalPrefix); anything else is an error.
//   - An account refuses an unknown prefix before its pair does: Admission
//     reports PrefixLocked only when the pair's lock is what refused it.
//   - The end of an account's lock clears every failure count, its pairs' too,
//     but not their locks; the end of a pair's lock clears that pair's count.
//     A success clears the account's count and its own pair's.
//   - EndedLocks reports a timed lock once it has run out, at its LockedUntil.
//   - A known prefix passes an automatic lock and a full account (not an admin
//     lock, not its own pair's limit); it is known while now < Until, and each
//     success renews it. Unlock keeps known prefixes; Reset keeps pair locks.
package statetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/state"
)

// Factory makes a fresh, empty store whose clock is opts.Now (the suite moves it by
// hand). The factory registers the store's Close with t.Cleanup.
type Factory func(t *testing.T, opts state.Options) state.Store

// Run runs the whole suite as subtests of t. Each subtest gets its own store, its own
// clock and its own account names (prefixed with a random run id and the subtest's
// name), so the suite also works against a shared server such as Redis.
func Run(t *testing.T, newStore Factory) {
	t.Helper()
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatalf("random run id: %v", err)
	}
	run := hex.EncodeToString(id[:])
	// Whole seconds, so that stores keeping millisecond times compare equal.
	start := time.Now().UTC().Truncate(time.Second)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewClock(start)
			s := newStore(t, state.Options{Now: clock.Now})
			if s == nil {
				t.Fatal("factory returned a nil store")
			}
			tc.fn(&harness{
				t:      t,
				ctx:    t.Context(),
				s:      s,
				clock:  clock,
				prefix: "lgtest:" + run + ":" + t.Name() + ":",
			})
		})
	}
}

var cases = []struct {
	name string
	fn   func(h *harness)
}{
	{"UnknownAccount", testUnknownAccount},
	{"LockAfterMaxFailures", testLockAfterMaxFailures},
	{"SlidingWindow", testSlidingWindow},
	{"SuccessResets", testSuccessResets},
	{"UncountedOnlyReleasesSlot", testUncounted},
	{"InFlightSlots", testInFlightSlots},
	{"SlotExpiry", testSlotExpiry},
	{"FinishUnknownSlot", testFinishUnknownSlot},
	{"ConcurrentAttempts", testConcurrentAttempts},
	{"ConcurrentAccounts", testConcurrentAccounts},
	{"PermanentLock", testPermanentLock},
	{"Backoff", testBackoff},
	{"NoBackoff", testNoBackoff},
	{"AdminLock", testAdminLock},
	{"StatusAndLockedAccounts", testStatusAndLockedAccounts},
	{"EndedLocks", testEndedLocks},
	{"Reset", testReset},
	{"Sessions", testSessions},
	{"SessionLookup", testSessionLookup},
	{"SessionFields", testSessionFields},
	{"SessionTouch", testSessionTouch},
	{"SessionEnd", testSessionEnd},
	{"SessionTimeouts", testSessionTimeouts},
	{"SessionEndsOnce", testSessionEndsOnce},
	{"AccountSessions", testAccountSessions},
	{"Aliases", testAliases},
	{"OpaqueAccounts", testOpaqueAccounts},
	{"IPBlocks", testIPBlocks},
	{"PrefixesOff", testPrefixesOff},
	{"PairLock", testPairLock},
	{"PrefixCeiling", testPrefixCeiling},
	{"KnownPrefix", testKnownPrefix},
	{"KnownPrefixAdminLock", testKnownPrefixAdminLock},
	{"KnownPrefixExpiry", testKnownPrefixExpiry},
	{"PrefixBounds", testPrefixBounds},
	{"PrefixConcurrent", testPrefixConcurrent},
	{"PrefixInput", testPrefixInput},
}

// policy is the suite's default: 3 failures in 10m lock for 15m.
func policy() state.Policy {
	return state.Policy{
		MaxFailures:  3,
		Window:       10 * time.Minute,
		LockDuration: 15 * time.Minute,
		SlotTTL:      time.Minute,
	}
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	s      state.Store
	clock  *Clock
	prefix string
}

func (h *harness) acct(name string) string { return h.prefix + name }

func (h *harness) now() time.Time { return h.clock.Now() }

func (h *harness) admit(account string, p state.Policy) state.Admission {
	h.t.Helper()
	return h.admitFrom(state.Attempt{Account: account}, p)
}

func (h *harness) admitFrom(at state.Attempt, p state.Policy) state.Admission {
	h.t.Helper()
	a, err := h.s.Admit(h.ctx, at, p)
	if err != nil {
		h.t.Fatalf("Admit(%+v): %v", at, err)
	}
	return a
}

// mustAdmit admits an attempt that must be allowed.
func (h *harness) mustAdmit(account string, p state.Policy) state.Admission {
	h.t.Helper()
	return h.mustAdmitFrom(state.Attempt{Account: account}, p)
}

func (h *harness) mustAdmitFrom(at state.Attempt, p state.Policy) state.Admission {
	h.t.Helper()
	a := h.admitFrom(at, p)
	if !a.Allowed || a.Locked || a.Slot == "" {
		h.t.Fatalf("Admit(%+v) = %+v, want allowed with a slot", at, a)
	}
	return a
}

func (h *harness) finish(account, slot string, o state.Outcome, p state.Policy) state.Result {
	h.t.Helper()
	return h.finishFrom(state.Attempt{Account: account}, slot, o, p)
}

func (h *harness) finishFrom(at state.Attempt, slot string, o state.Outcome, p state.Policy) state.Result {
	h.t.Helper()
	r, err := h.s.Finish(h.ctx, at, slot, o, p)
	if err != nil {
		h.t.Fatalf("Finish(%+v, %q, %v): %v", at, slot, o, err)
	}
	return r
}

// attempt admits one attempt, which must be allowed, and finishes it with o.
func (h *harness) attempt(account string, o state.Outcome, p state.Policy) state.Result {
	h.t.Helper()
	return h.attemptFrom(state.Attempt{Account: account}, o, p)
}

func (h *harness) attemptFrom(at state.Attempt, o state.Outcome, p state.Policy) state.Result {
	h.t.Helper()
	a := h.mustAdmitFrom(at, p)
	return h.finishFrom(at, a.Slot, o, p)
}

func (h *harness) status(account string) state.AccountStatus {
	h.t.Helper()
	st, err := h.s.Status(h.ctx, account)
	if err != nil {
		h.t.Fatalf("Status(%q): %v", account, err)
	}
	if st.Account != account {
		h.t.Fatalf("Status(%q).Account = %q", account, st.Account)
	}
	return st
}

func (h *harness) lock(account string, d time.Duration) {
	h.t.Helper()
	if err := h.s.Lock(h.ctx, account, d); err != nil {
		h.t.Fatalf("Lock(%q, %v): %v", account, d, err)
	}
}

func (h *harness) unlock(account string) bool {
	h.t.Helper()
	was, err := h.s.Unlock(h.ctx, account)
	if err != nil {
		h.t.Fatalf("Unlock(%q): %v", account, err)
	}
	return was
}

// lockedAccounts returns LockedAccounts restricted to this subtest's accounts, after
// checking that the whole list is sorted.
func (h *harness) lockedAccounts() []state.AccountStatus {
	h.t.Helper()
	all, err := h.s.LockedAccounts(h.ctx)
	if err != nil {
		h.t.Fatalf("LockedAccounts: %v", err)
	}
	if !slices.IsSortedFunc(all, func(a, b state.AccountStatus) int { return strings.Compare(a.Account, b.Account) }) {
		h.t.Fatalf("LockedAccounts not sorted by account: %v", names(all))
	}
	var mine []state.AccountStatus
	for _, st := range all {
		if strings.HasPrefix(st.Account, h.prefix) {
			mine = append(mine, st)
		}
	}
	return mine
}

func names(sts []state.AccountStatus) []string {
	out := make([]string, len(sts))
	for i, st := range sts {
		out[i] = st.Account
	}
	return out
}

// wantStatus compares the fields of a status that the suite checks (a nil and an
// empty list are the same).
func (h *harness) wantStatus(got, want state.AccountStatus) {
	h.t.Helper()
	if got.Account != want.Account || got.Failures != want.Failures || got.InFlight != want.InFlight ||
		got.Locked != want.Locked || got.Permanent != want.Permanent || got.LockLevel != want.LockLevel ||
		!got.LockedUntil.Equal(want.LockedUntil) || got.AdminLock != want.AdminLock ||
		!slices.EqualFunc(got.Prefixes, want.Prefixes, func(a, b state.PrefixStatus) bool {
			return a.Prefix == b.Prefix && a.Failures == b.Failures && a.InFlight == b.InFlight &&
				a.Locked == b.Locked && a.Permanent == b.Permanent && a.LockedUntil.Equal(b.LockedUntil)
		}) ||
		!slices.EqualFunc(got.KnownPrefixes, want.KnownPrefixes, func(a, b state.KnownPrefix) bool {
			return a.Prefix == b.Prefix && a.Until.Equal(b.Until)
		}) {
		h.t.Fatalf("status:\n got %+v\nwant %+v", got, want)
	}
}

func testUnknownAccount(h *harness) {
	a := h.acct("nobody")
	h.wantStatus(h.status(a), state.AccountStatus{Account: a})

	adm := h.admit(a, policy())
	if !adm.Allowed || adm.Slot == "" || adm.Locked || adm.Busy() || adm.Failures != 0 || adm.InFlight != 0 ||
		!adm.LockedUntil.IsZero() {
		h.t.Fatalf("Admit on an unknown account = %+v, want allowed, a slot, 0 failures, 0 in flight", adm)
	}
	r := h.finish(a, adm.Slot, state.Uncounted, policy())
	if r != (state.Result{}) {
		h.t.Fatalf("Finish(Uncounted) = %+v, want zero result", r)
	}
	h.wantStatus(h.status(a), state.AccountStatus{Account: a})
	if h.unlock(a) {
		h.t.Fatal("Unlock of a never locked account reported true")
	}
	if got := h.lockedAccounts(); len(got) != 0 {
		h.t.Fatalf("LockedAccounts = %v, want none", names(got))
	}
}

func testLockAfterMaxFailures(h *harness) {
	p := policy()
	a := h.acct("alice")
	for i := 1; i < p.MaxFailures; i++ {
		r := h.attempt(a, state.CountedFailure, p)
		if r.Failures != i || r.Locked || r.NewlyLocked || !r.LockedUntil.IsZero() {
			h.t.Fatalf("failure %d: Finish = %+v, want %d failures, not locked", i, r, i)
		}
	}
	adm := h.mustAdmit(a, p)
	if adm.Failures != p.MaxFailures-1 {
		h.t.Fatalf("Admit before the last failure: Failures = %d, want %d", adm.Failures, p.MaxFailures-1)
	}
	until := h.now().Add(p.LockDuration)
	r := h.finish(a, adm.Slot, state.CountedFailure, p)
	if !r.Locked || !r.NewlyLocked || r.Failures != p.MaxFailures || !r.LockedUntil.Equal(until) {
		h.t.Fatalf("failure %d: Finish = %+v, want newly locked until %v with %d failures",
			p.MaxFailures, r, until, p.MaxFailures)
	}

	adm = h.admit(a, p)
	if adm.Allowed || !adm.Locked || adm.Busy() || adm.Slot != "" || !adm.LockedUntil.Equal(until) {
		h.t.Fatalf("Admit while locked = %+v, want locked until %v", adm, until)
	}
	if adm.Failures != p.MaxFailures {
		h.t.Fatalf("Admit while locked: Failures = %d, want %d", adm.Failures, p.MaxFailures)
	}
	h.wantStatus(h.status(a), state.AccountStatus{
		Account: a, Failures: p.MaxFailures, Locked: true, LockedUntil: until, LockLevel: 1,
	})

	h.clock.Advance(p.LockDuration - time.Second)
	if adm := h.admit(a, p); !adm.Locked || adm.Allowed {
		h.t.Fatalf("Admit 1s before the lock ends = %+v, want locked", adm)
	}
	h.clock.Advance(time.Second)
	adm = h.mustAdmit(a, p)
	if adm.Failures != 0 || adm.InFlight != 0 {
		h.t.Fatalf("Admit after the lock ended = %+v, want 0 failures (a lock ending clears the count)", adm)
	}
	r = h.finish(a, adm.Slot, state.CountedFailure, p)
	if r.Failures != 1 || r.Locked {
		h.t.Fatalf("first failure after the lock = %+v, want 1 failure, not locked", r)
	}
}

func testSlidingWindow(h *harness) {
	p := policy()
	a := h.acct("bob")
	h.attempt(a, state.CountedFailure, p) // t0
	h.clock.Advance(p.Window / 2)
	if r := h.attempt(a, state.CountedFailure, p); r.Failures != 2 {
		h.t.Fatalf("second failure at t0+W/2: Failures = %d, want 2", r.Failures)
	}
	h.clock.Advance(p.Window/2 + time.Second) // t0+W+1s: only the second counts
	adm := h.mustAdmit(a, p)
	if adm.Failures != 1 {
		h.t.Fatalf("Admit at t0+W+1s: Failures = %d, want 1 (the failure at t0 left the window)", adm.Failures)
	}
	r := h.finish(a, adm.Slot, state.CountedFailure, p)
	if r.Failures != 2 || r.Locked {
		h.t.Fatalf("failure at t0+W+1s = %+v, want 2 failures, not locked", r)
	}
	if st := h.status(a); st.Failures != 2 || st.Locked {
		h.t.Fatalf("Status = %+v, want 2 failures, not locked", st)
	}
	h.clock.Advance(p.Window)
	h.wantStatus(h.status(a), state.AccountStatus{Account: a})
}

func testSuccessResets(h *harness) {
	p := policy()
	a := h.acct("carol")
	h.attempt(a, state.CountedFailure, p)
	h.attempt(a, state.CountedFailure, p)
	adm := h.mustAdmit(a, p)
	if adm.Failures != 2 {
		h.t.Fatalf("Admit: Failures = %d, want 2", adm.Failures)
	}
	r := h.finish(a, adm.Slot, state.Success, p)
	if r.Failures != 0 || r.Locked || r.NewlyLocked {
		h.t.Fatalf("Finish(Success) = %+v, want 0 failures", r)
	}
	h.wantStatus(h.status(a), state.AccountStatus{Account: a})
	// The count starts again: MaxFailures-1 new failures do not lock.
	for i := 1; i < p.MaxFailures; i++ {
		if r := h.attempt(a, state.CountedFailure, p); r.Failures != i || r.Locked {
			h.t.Fatalf("failure %d after a success = %+v", i, r)
		}
	}
}

func testUncounted(h *harness) {
	p := policy()
	a := h.acct("dave")
	h.attempt(a, state.CountedFailure, p)
	adm := h.mustAdmit(a, p)
	if st := h.status(a); st.InFlight != 1 || st.Failures != 1 {
		h.t.Fatalf("Status with one attempt in flight = %+v, want 1 in flight, 1 failure", st)
	}
	r := h.finish(a, adm.Slot, state.Uncounted, p)
	if r.Failures != 1 || r.Locked {
		h.t.Fatalf("Finish(Uncounted) = %+v, want the count unchanged at 1", r)
	}
	h.wantStatus(h.status(a), state.AccountStatus{Account: a, Failures: 1})
	// Many uncounted outcomes never lock.
	for range 2 * p.MaxFailures {
		if r := h.attempt(a, state.Uncounted, p); r.Failures != 1 || r.Locked {
			h.t.Fatalf("Finish(Uncounted) = %+v, want 1 failure, not locked", r)
		}
	}
}

func testInFlightSlots(h *harness) {
	p := policy() // MaxFailures 3
	a := h.acct("erin")
	var slots []string
	for i := range p.MaxFailures {
		adm := h.mustAdmit(a, p)
		if adm.InFlight != i || adm.Failures != 0 {
			h.t.Fatalf("Admit %d: %+v, want %d in flight", i+1, adm, i)
		}
		if slices.Contains(slots, adm.Slot) {
			h.t.Fatalf("Admit %d: slot %q handed out twice", i+1, adm.Slot)
		}
		slots = append(slots, adm.Slot)
	}
	adm := h.admit(a, p)
	if !adm.Busy() || adm.Allowed || adm.Locked || adm.Slot != "" {
		h.t.Fatalf("Admit %d with %d in flight = %+v, want busy", p.MaxFailures+1, p.MaxFailures, adm)
	}
	if adm.InFlight != p.MaxFailures {
		h.t.Fatalf("busy Admit: InFlight = %d, want %d", adm.InFlight, p.MaxFailures)
	}
	if st := h.status(a); st.InFlight != p.MaxFailures || st.Locked {
		h.t.Fatalf("Status = %+v, want %d in flight", st, p.MaxFailures)
	}

	// Finishing one frees exactly one.
	h.finish(a, slots[0], state.Uncounted, p)
	again := h.mustAdmit(a, p)
	if again.InFlight != p.MaxFailures-1 {
		h.t.Fatalf("Admit after a Finish: InFlight = %d, want %d", again.InFlight, p.MaxFailures-1)
	}
	if adm := h.admit(a, p); !adm.Busy() {
		h.t.Fatalf("Admit = %+v, want busy again", adm)
	}

	// A counted failure takes the place of its slot: failures + in flight <= MaxFailures.
	h.finish(a, slots[1], state.CountedFailure, p)
	if adm := h.admit(a, p); !adm.Busy() || adm.Failures != 1 || adm.InFlight != p.MaxFailures-1 {
		h.t.Fatalf("Admit with 1 failure and %d in flight = %+v, want busy", p.MaxFailures-1, adm)
	}
	h.finish(a, slots[2], state.Success, p) // resets the count and frees a slot
	adm = h.mustAdmit(a, p)
	if adm.Failures != 0 || adm.InFlight != 1 {
		h.t.Fatalf("Admit after a success = %+v, want 0 failures, 1 in flight", adm)
	}
}

func testSlotExpiry(h *harness) {
	p := policy()
	a := h.acct("frank")
	for range p.MaxFailures {
		h.mustAdmit(a, p)
	}
	if adm := h.admit(a, p); !adm.Busy() {
		h.t.Fatalf("Admit = %+v, want busy", adm)
	}
	h.clock.Advance(p.SlotTTL - time.Second)
	if adm := h.admit(a, p); !adm.Busy() {
		h.t.Fatalf("Admit 1s before the slots expire = %+v, want busy", adm)
	}
	h.clock.Advance(time.Second)
	if st := h.status(a); st.InFlight != 0 {
		h.t.Fatalf("Status after SlotTTL: InFlight = %d, want 0", st.InFlight)
	}
	adm := h.mustAdmit(a, p)
	if adm.InFlight != 0 {
		h.t.Fatalf("Admit after SlotTTL: InFlight = %d, want 0", adm.InFlight)
	}
}

func testFinishUnknownSlot(h *harness) {
	p := policy()
	a := h.acct("grace")
	old := h.mustAdmit(a, p)
	h.clock.Advance(p.SlotTTL + time.Second)
	cur := h.mustAdmit(a, p)

	// The expired slot's outcome still counts.
	r := h.finish(a, old.Slot, state.CountedFailure, p)
	if r.Failures != 1 || r.Locked {
		h.t.Fatalf("Finish with an expired slot = %+v, want 1 failure", r)
	}
	// So does an outcome with a slot the store never gave out.
	r = h.finish(a, "no-such-slot", state.CountedFailure, p)
	if r.Failures != 2 {
		h.t.Fatalf("Finish with an unknown slot = %+v, want 2 failures", r)
	}
	// And the live slot is untouched by either.
	if st := h.status(a); st.InFlight != 1 || st.Failures != 2 {
		h.t.Fatalf("Status = %+v, want 1 in flight, 2 failures", st)
	}
	// On an account the store never saw.
	b := h.acct("heidi")
	if r := h.finish(b, "no-such-slot", state.CountedFailure, p); r.Failures != 1 {
		h.t.Fatalf("Finish(CountedFailure) on a new account = %+v, want 1 failure", r)
	}
	c := h.acct("ivan")
	if r := h.finish(c, "no-such-slot", state.Success, p); r != (state.Result{}) {
		h.t.Fatalf("Finish(Success) on a new account = %+v, want zero", r)
	}
	h.finish(a, cur.Slot, state.Success, p)
	h.wantStatus(h.status(a), state.AccountStatus{Account: a})
}

func testConcurrentAttempts(h *harness) {
	p := policy()
	p.MaxFailures = 5
	a := h.acct("judy")
	const n = 200
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		admitted, newly int
		lockedSeen      int
	)
	startGate := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-startGate
			adm, err := h.s.Admit(h.ctx, state.Attempt{Account: a}, p)
			if err != nil {
				h.t.Errorf("Admit: %v", err)
				return
			}
			if !adm.Allowed {
				mu.Lock()
				if adm.Locked {
					lockedSeen++
				}
				mu.Unlock()
				return
			}
			r, err := h.s.Finish(h.ctx, state.Attempt{Account: a}, adm.Slot, state.CountedFailure, p)
			mu.Lock()
			defer mu.Unlock()
			admitted++
			if err != nil {
				h.t.Errorf("Finish: %v", err)
				return
			}
			if r.NewlyLocked {
				newly++
			}
		})
	}
	close(startGate)
	wg.Wait()
	if h.t.Failed() {
		return
	}
	if admitted != p.MaxFailures || newly != 1 {
		h.t.Fatalf("%d concurrent attempts: %d admitted, %d saw NewlyLocked; want %d and 1 (%d saw locked)",
			n, admitted, newly, p.MaxFailures, lockedSeen)
	}
	st := h.status(a)
	if !st.Locked || st.InFlight != 0 || st.Failures != p.MaxFailures || st.LockLevel != 1 {
		h.t.Fatalf("Status = %+v, want locked, %d failures, nothing in flight", st, p.MaxFailures)
	}
}

func testConcurrentAccounts(h *harness) {
	p := policy()
	const accounts, perAccount = 8, 6
	var wg sync.WaitGroup
	for i := range accounts {
		a := h.acct(string(rune('a' + i)))
		for range perAccount {
			wg.Go(func() {
				adm, err := h.s.Admit(h.ctx, state.Attempt{Account: a}, p)
				if err != nil {
					h.t.Errorf("Admit: %v", err)
					return
				}
				if adm.Allowed {
					if _, err := h.s.Finish(h.ctx, state.Attempt{Account: a}, adm.Slot, state.CountedFailure, p); err != nil {
						h.t.Errorf("Finish: %v", err)
					}
				}
			})
		}
	}
	wg.Wait()
	if h.t.Failed() {
		return
	}
	// More attempts than MaxFailures ran on each account, so each one that was
	// refused saw failures and attempts in flight at the limit: every account ends
	// locked with exactly MaxFailures failures, none leaked into another account.
	for i := range accounts {
		a := h.acct(string(rune('a' + i)))
		st := h.status(a)
		if st.InFlight != 0 || st.Failures != p.MaxFailures || !st.Locked {
			h.t.Fatalf("account %d: %+v, want locked with %d failures", i, st, p.MaxFailures)
		}
	}
	if got := h.lockedAccounts(); len(got) != accounts {
		h.t.Fatalf("LockedAccounts = %v, want %d accounts", names(got), accounts)
	}
}

func testPermanentLock(h *harness) {
	p := policy()
	p.LockDuration = 0
	a := h.acct("ken")
	for i := 1; i < p.MaxFailures; i++ {
		h.attempt(a, state.CountedFailure, p)
	}
	r := h.attempt(a, state.CountedFailure, p)
	if !r.NewlyLocked || !r.Locked || !r.LockedUntil.IsZero() {
		h.t.Fatalf("locking Finish with LockDuration 0 = %+v, want newly locked, zero LockedUntil", r)
	}
	h.clock.Advance(10 * 365 * 24 * time.Hour)
	adm := h.admit(a, p)
	if !adm.Locked || adm.Allowed || !adm.LockedUntil.IsZero() {
		h.t.Fatalf("Admit ten years later = %+v, want still locked, zero LockedUntil", adm)
	}
	st := h.status(a)
	if !st.Locked || !st.Permanent || !st.LockedUntil.IsZero() || st.LockLevel != 1 {
		h.t.Fatalf("Status = %+v, want permanently locked at level 1", st)
	}
	if got := h.lockedAccounts(); len(got) != 1 || got[0].Account != a || !got[0].Permanent {
		h.t.Fatalf("LockedAccounts = %+v, want %q permanent", got, a)
	}

	if !h.unlock(a) {
		h.t.Fatal("Unlock of a locked account reported false")
	}
	h.wantStatus(h.status(a), state.AccountStatus{Account: a})
	adm = h.mustAdmit(a, p)
	if adm.Failures != 0 {
		h.t.Fatalf("Admit after Unlock: Failures = %d, want 0", adm.Failures)
	}
	h.finish(a, adm.Slot, state.Uncounted, p)
	if h.unlock(a) {
		h.t.Fatal("second Unlock reported true")
	}
	if got := h.lockedAccounts(); len(got) != 0 {
		h.t.Fatalf("LockedAccounts after Unlock = %v, want none", names(got))
	}
}

// lockOnce fails a until it locks and returns the lock's length.
func (h *harness) lockOnce(a string, p state.Policy) time.Duration {
	h.t.Helper()
	for i := 1; i <= p.MaxFailures; i++ {
		r := h.attempt(a, state.CountedFailure, p)
		if r.NewlyLocked != (i == p.MaxFailures) {
			h.t.Fatalf("failure %d: %+v, want NewlyLocked only on failure %d", i, r, p.MaxFailures)
		}
		if r.NewlyLocked {
			return r.LockedUntil.Sub(h.now())
		}
	}
	return 0
}

func testBackoff(h *harness) {
	p := state.Policy{
		MaxFailures:     2,
		Window:          time.Hour,
		LockDuration:    time.Minute,
		Backoff:         true,
		MaxLockDuration: 5 * time.Minute,
		LockMemory:      time.Hour,
		SlotTTL:         time.Minute,
	}
	a := h.acct("leo")
	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
		if got := h.lockOnce(a, p); got != want {
			h.t.Fatalf("lock %d lasts %v, want %v", i+1, got, want)
		}
		if st := h.status(a); st.LockLevel != i+1 || !st.Locked {
			h.t.Fatalf("lock %d: Status = %+v, want level %d", i+1, st, i+1)
		}
		h.clock.Advance(want)
		if st := h.status(a); st.Locked || st.LockLevel != i+1 || st.Failures != 0 {
			h.t.Fatalf("after lock %d ended: Status = %+v, want unlocked, 0 failures, level %d remembered",
				i+1, st, i+1)
		}
	}
	// Within LockMemory of the last lock's end, the level is still remembered.
	h.clock.Advance(p.LockMemory - time.Second)
	if st := h.status(a); st.LockLevel != 5 {
		h.t.Fatalf("just before LockMemory passed: LockLevel = %d, want 5", st.LockLevel)
	}
	h.clock.Advance(time.Second)
	h.wantStatus(h.status(a), state.AccountStatus{Account: a})
	if got := h.lockOnce(a, p); got != time.Minute {
		h.t.Fatalf("lock after LockMemory passed lasts %v, want %v", got, time.Minute)
	}
	if st := h.status(a); st.LockLevel != 1 {
		h.t.Fatalf("LockLevel = %d, want 1", st.LockLevel)
	}
	// Unlock forgets the level.
	h.unlock(a)
	if got := h.lockOnce(a, p); got != time.Minute {
		h.t.Fatalf("lock after Unlock lasts %v, want %v", got, time.Minute)
	}
}

func testNoBackoff(h *harness) {
	p := policy()
	p.LockMemory = time.Hour
	a := h.acct("mia")
	for i := range 3 {
		if got := h.lockOnce(a, p); got != p.LockDuration {
			h.t.Fatalf("lock %d without Backoff lasts %v, want %v", i+1, got, p.LockDuration)
		}
		if st := h.status(a); st.LockLevel != i+1 {
			h.t.Fatalf("lock %d: LockLevel = %d, want %d", i+1, st.LockLevel, i+1)
		}
		h.clock.Advance(p.LockDuration)
	}
}

func testAdminLock(h *harness) {
	p := policy()
	a, b, c := h.acct("nina"), h.acct("oscar"), h.acct("pat")

	h.lock(a, 30*time.Minute)
	until := h.now().Add(30 * time.Minute)
	h.wantStatus(h.status(a), state.AccountStatus{Account: a, Locked: true, LockedUntil: until, AdminLock: true})
	if adm := h.admit(a, p); !adm.Locked || !adm.LockedUntil.Equal(until) {
		h.t.Fatalf("Admit on an admin-locked account = %+v, want locked until %v", adm, until)
	}

	h.lock(b, 0)
	h.wantStatus(h.status(b), state.AccountStatus{Account: b, Locked: true, Permanent: true, AdminLock: true})
	h.lock(c, -time.Second)
	h.wantStatus(h.status(c), state.AccountStatus{Account: c, Locked: true, Permanent: true, AdminLock: true})

	// A new Lock replaces the old one, either way.
	h.lock(c, time.Minute)
	h.wantStatus(h.status(c), state.AccountStatus{Account: c, Locked: true, LockedUntil: h.now().Add(time.Minute), AdminLock: true})
	h.lock(a, 0)
	h.wantStatus(h.status(a), state.AccountStatus{Account: a, Locked: true, Permanent: true, AdminLock: true})

	h.clock.Advance(time.Minute)
	h.wantStatus(h.status(c), state.AccountStatus{Account: c})
	if h.unlock(c) {
		h.t.Fatal("Unlock of an account whose lock expired reported true")
	}
	// Unlock of an account that has failures but no lock reports false and still
	// clears them.
	e := h.acct("rita")
	h.attempt(e, state.CountedFailure, p)
	h.attempt(e, state.CountedFailure, p)
	if h.unlock(e) {
		h.t.Fatal("Unlock of an account with failures but no lock reported true")
	}
	h.wantStatus(h.status(e), state.AccountStatus{Account: e})

	// An admin lock does not raise the backoff level, and attempts in flight when
	// the lock came still record their failures without locking again: the
	// admin's lock stands.
	d := h.acct("quinn")
	var slots []string
	for range p.MaxFailures {
		slots = append(slots, h.mustAdmit(d, p).Slot)
	}
	h.lock(d, time.Hour)
	for i, slot := range slots {
		r := h.finish(d, slot, state.CountedFailure, p)
		if !r.Locked || r.NewlyLocked || r.Failures != i+1 || !r.LockedUntil.Equal(h.now().Add(time.Hour)) {
			h.t.Fatalf("failure %d on an admin-locked account = %+v, want locked (not newly) until %v, %d failures",
				i+1, r, h.now().Add(time.Hour), i+1)
		}
	}
	h.wantStatus(h.status(d), state.AccountStatus{
		Account: d, Failures: p.MaxFailures, Locked: true, LockedUntil: h.now().Add(time.Hour), AdminLock: true,
	})
	if !h.unlock(d) {
		h.t.Fatal("Unlock of an admin-locked account reported false")
	}
	h.wantStatus(h.status(d), state.AccountStatus{Account: d})
}

func testStatusAndLockedAccounts(h *harness) {
	p := policy()
	p.LockDuration = time.Hour
	p.SlotTTL = time.Hour
	short, zed, perm, auto, open := h.acct("e-short"), h.acct("d-zed"), h.acct("c-perm"), h.acct("a-auto"), h.acct("b-open")

	h.lock(short, time.Minute)
	h.lock(zed, 2*time.Hour)
	h.lock(perm, 0)
	h.lockOnce(auto, p)
	autoUntil := h.now().Add(p.LockDuration)
	h.attempt(open, state.CountedFailure, p)
	h.mustAdmit(open, p)
	h.clock.Advance(time.Minute) // short's lock ends

	h.wantStatus(h.status(open), state.AccountStatus{Account: open, Failures: 1, InFlight: 1})
	h.wantStatus(h.status(short), state.AccountStatus{Account: short})

	got := h.lockedAccounts()
	want := []state.AccountStatus{
		{Account: auto, Failures: p.MaxFailures, Locked: true, LockedUntil: autoUntil, LockLevel: 1},
		{Account: perm, Locked: true, Permanent: true, AdminLock: true},
		{Account: zed, Locked: true, LockedUntil: h.now().Add(2*time.Hour - time.Minute), AdminLock: true},
	}
	if len(got) != len(want) {
		h.t.Fatalf("LockedAccounts = %v, want %v", names(got), names(want))
	}
	for i := range want {
		h.wantStatus(got[i], want[i])
	}

	// Once the timed locks end only the permanent one is listed.
	h.clock.Advance(2 * time.Hour)
	got = h.lockedAccounts()
	if len(got) != 1 || got[0].Account != perm {
		h.t.Fatalf("LockedAccounts two hours later = %v, want [%s]", names(got), perm)
	}
}

func testReset(h *harness) {
	p := policy()
	a := h.acct("rose")
	h.attempt(a, state.CountedFailure, p)
	h.attempt(a, state.CountedFailure, p)
	if err := h.s.Reset(h.ctx, a); err != nil {
		h.t.Fatalf("Reset: %v", err)
	}
	h.wantStatus(h.status(a), state.AccountStatus{Account: a})
	if r := h.attempt(a, state.CountedFailure, p); r.Failures != 1 {
		h.t.Fatalf("failure after Reset: Failures = %d, want 1", r.Failures)
	}

	h.lockOnce(h.acct("sam"), p)
	until := h.now().Add(p.LockDuration)
	if err := h.s.Reset(h.ctx, h.acct("sam")); err != nil {
		h.t.Fatalf("Reset: %v", err)
	}
	h.wantStatus(h.status(h.acct("sam")), state.AccountStatus{
		Account: h.acct("sam"), Locked: true, LockedUntil: until, LockLevel: 1,
	})
	if err := h.s.Reset(h.ctx, h.acct("never-seen")); err != nil {
		h.t.Fatalf("Reset of an unknown account: %v", err)
	}
}

func testSessions(h *harness) {
	take := func(hash string) (state.Session, bool) {
		h.t.Helper()
		s, ok, err := h.s.TakeSession(h.ctx, hash)
		if err != nil {
			h.t.Fatalf("TakeSession(%q): %v", hash, err)
		}
		return s, ok
	}
	put := func(hash string, s state.Session, ttl time.Duration) {
		h.t.Helper()
		if err := h.s.PutSession(h.ctx, hash, s, ttl); err != nil {
			h.t.Fatalf("PutSession(%q): %v", hash, err)
		}
	}
	s1 := state.Session{Account: "tom", Source: "API_PORTAL", Principal: "Tom Ünïcode", PortalID: "portal-1"}
	s2 := state.Session{Account: "uma", Source: "API_MANAGER", Principal: "uma"}

	h1 := h.prefix + "hash-1"
	put(h1, s1, time.Hour)
	if got, ok := take(h1); !ok || !sameIdentity(got, s1) {
		h.t.Fatalf("TakeSession = %+v, %v; want %+v, true", got, ok, s1)
	}
	if got, ok := take(h1); ok || got != (state.Session{}) {
		h.t.Fatalf("second TakeSession = %+v, %v; want nothing", got, ok)
	}

	h2 := h.prefix + "hash-2"
	put(h2, s1, time.Minute)
	put(h2, s2, time.Minute) // replaces
	if got, ok := take(h2); !ok || !sameIdentity(got, s2) {
		h.t.Fatalf("TakeSession after a second Put = %+v, %v; want %+v", got, ok, s2)
	}

	h3, h4 := h.prefix+"hash-3", h.prefix+"hash-4"
	put(h3, s1, time.Minute)
	put(h4, s2, time.Hour)
	h.clock.Advance(time.Minute - time.Second)
	if _, ok := take(h3); !ok {
		h.t.Fatal("session gone 1s before its ttl")
	}
	put(h3, s1, time.Minute)
	h.clock.Advance(time.Minute)
	if _, ok := take(h3); ok {
		h.t.Fatal("session found after its ttl")
	}
	if got, ok := take(h4); !ok || !sameIdentity(got, s2) {
		h.t.Fatalf("longer-lived session = %+v, %v; want %+v", got, ok, s2)
	}
	if _, ok := take(h.prefix + "never-put"); ok {
		h.t.Fatal("TakeSession found a session never put")
	}
}

func testAliases(h *harness) {
	alias := func(name string) (string, bool) {
		h.t.Helper()
		a, ok, err := h.s.Alias(h.ctx, name)
		if err != nil {
			h.t.Fatalf("Alias(%q): %v", name, err)
		}
		return a, ok
	}
	put := func(name, account string, ttl time.Duration) {
		h.t.Helper()
		if err := h.s.PutAlias(h.ctx, name, account, ttl); err != nil {
			h.t.Fatalf("PutAlias(%q): %v", name, err)
		}
	}
	email, user := h.prefix+"wpadmin@example.com", h.prefix+"wpadmin"
	if a, ok := alias(email); ok {
		h.t.Fatalf("Alias of a name never put = %q", a)
	}
	put(email, user, time.Hour)
	for range 2 { // a lookup does not forget it
		if a, ok := alias(email); !ok || a != user {
			h.t.Fatalf("Alias = %q, %v; want %q", a, ok, user)
		}
	}
	odd := h.prefix + "Ünï {tag} a:b|c"
	put(odd, "id:42|x", time.Hour)
	if a, ok := alias(odd); !ok || a != "id:42|x" {
		h.t.Fatalf("Alias of an odd name = %q, %v", a, ok)
	}
	put(email, h.prefix+"other", time.Hour)
	if a, _ := alias(email); a != h.prefix+"other" {
		h.t.Fatalf("Alias after a second Put = %q; want the second account", a)
	}
	h.clock.Advance(time.Hour)
	if a, ok := alias(email); ok {
		h.t.Fatalf("Alias found after its ttl: %q", a)
	}
	put(odd, "", 0)
	if _, ok := alias(odd); ok {
		h.t.Fatal("Alias found after PutAlias with ttl 0")
	}
}

func testOpaqueAccounts(h *harness) {
	p := policy()
	// Names that a careless key scheme would mangle or make collide.
	odd := []string{
		"Ünïcödé 用户 🙂",
		"with space",
		"{tag}",
		"}{",
		"a:b",
		"a",
		"a:b:c",
		"{a}:b",
		"%s%d\\n",
		"*",
		"tab\tand\nnewline",
	}
	for _, name := range odd {
		a := h.acct(name)
		if name == "a:b" || name == "{tag}" || name == "*" {
			h.lockOnce(a, p)
			continue
		}
		h.attempt(a, state.CountedFailure, p)
	}
	for _, name := range odd {
		a := h.acct(name)
		st := h.status(a)
		switch name {
		case "a:b", "{tag}", "*":
			if !st.Locked || st.Failures != p.MaxFailures {
				h.t.Fatalf("%q: %+v, want locked with %d failures", name, st, p.MaxFailures)
			}
		default:
			if st.Locked || st.Failures != 1 {
				h.t.Fatalf("%q: %+v, want 1 failure, not locked", name, st)
			}
		}
	}
	got := names(h.lockedAccounts())
	want := []string{h.acct("*"), h.acct("a:b"), h.acct("{tag}")}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		h.t.Fatalf("LockedAccounts = %q, want %q", got, want)
	}
	for _, name := range []string{"a:b", "{tag}", "*"} {
		if !h.unlock(h.acct(name)) {
			h.t.Fatalf("Unlock(%q) reported false", name)
		}
	}
	if got := h.lockedAccounts(); len(got) != 0 {
		h.t.Fatalf("LockedAccounts after Unlock = %q, want none", names(got))
	}
}
