package statetest

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/loginguard/loginguard/state"
)

// endedLocks returns EndedLocks restricted to this subtest's accounts, after
// checking that the whole list is in order of the ends, and sorts it by end
// and account.
func (h *harness) endedLocks() []state.EndedLock {
	h.t.Helper()
	all, err := h.s.EndedLocks(h.ctx)
	if err != nil {
		h.t.Fatalf("EndedLocks: %v", err)
	}
	if !slices.IsSortedFunc(all, func(a, b state.EndedLock) int { return a.Until.Compare(b.Until) }) {
		h.t.Fatalf("EndedLocks not in order of the ends: %v", all)
	}
	var mine []state.EndedLock
	for _, e := range all {
		if strings.HasPrefix(e.Account, h.prefix) {
			mine = append(mine, e)
		}
	}
	slices.SortFunc(mine, func(a, b state.EndedLock) int {
		return cmp.Or(a.Until.Compare(b.Until), strings.Compare(a.Account, b.Account))
	})
	return mine
}

func (h *harness) wantEnded(want ...state.EndedLock) {
	h.t.Helper()
	got := h.endedLocks()
	if len(got) != len(want) {
		h.t.Fatalf("EndedLocks = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Account != want[i].Account || !got[i].Until.Equal(want[i].Until) {
			h.t.Fatalf("EndedLocks = %v, want %v", got, want)
		}
	}
}

// testEndedLocks: each timed lock that runs out is reported once, automatic
// or an admin's, also when the account was locked again or unlocked before
// anyone asked; never a permanent lock, a lock lifted by Unlock or a lock
// replaced before its end.
func testEndedLocks(h *harness) {
	p := policy() // 3 failures lock for 15m
	t0 := h.now()
	ended := func(name string, at time.Time) state.EndedLock {
		return state.EndedLock{Account: h.acct(name), Until: at}
	}
	failures := func(name string) {
		h.t.Helper()
		for range p.MaxFailures {
			h.attempt(h.acct(name), state.CountedFailure, p)
		}
		if st := h.status(h.acct(name)); !st.Locked {
			h.t.Fatalf("%s not locked after %d failures", name, p.MaxFailures)
		}
	}
	h.wantEnded()

	failures("auto")                       // ends at t0+15m
	h.lock(h.acct("admin"), 5*time.Minute) // ends at t0+5m
	h.lock(h.acct("forever"), 0)
	h.lock(h.acct("lifted"), 10*time.Minute)
	if !h.unlock(h.acct("lifted")) {
		h.t.Fatal("Unlock of a locked account reported false")
	}
	h.lock(h.acct("late-unlock"), 5*time.Minute) // ends at t0+5m, unlocked after
	h.lock(h.acct("replaced"), 5*time.Minute)
	h.clock.Advance(time.Minute)
	h.lock(h.acct("replaced"), 20*time.Minute) // ends at t0+21m
	h.wantEnded()

	h.clock.Advance(5 * time.Minute) // t0+6m
	if h.unlock(h.acct("late-unlock")) {
		h.t.Fatal("Unlock of a lock that ran out reported true")
	}
	h.wantEnded(ended("admin", t0.Add(5*time.Minute)), ended("late-unlock", t0.Add(5*time.Minute)))
	h.wantEnded()

	h.clock.Advance(24 * time.Minute) // t0+30m
	failures("auto")                  // locked again before anyone asked: ends at t0+45m
	h.wantEnded(ended("auto", t0.Add(15*time.Minute)), ended("replaced", t0.Add(21*time.Minute)))

	h.clock.Advance(time.Hour)
	h.wantEnded(ended("auto", t0.Add(45*time.Minute)))
	h.wantEnded()
	if st := h.status(h.acct("forever")); !st.Locked || !st.Permanent {
		h.t.Fatalf("the permanent lock: %+v", st)
	}
}
