package redisstate_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/state/redisstate"
)

// TestFinishAsync: an asynchronous Finish is applied before any call made after
// it returns (so an Admit right after a success sees the failures reset and the
// slot free), Close waits for queued ones, and after Close it reports the store
// unavailable.
func TestFinishAsync(t *testing.T) {
	requireShared(t)
	ctx := context.Background()
	prefix := randomPrefix(t)
	dropPrefix(t, prefix)
	s, err := redisstate.New(ctx, redisstate.Options{URL: "redis://" + sharedAddr, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	check := open(t, redisstate.Options{URL: "redis://" + sharedAddr, Prefix: prefix})

	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	done := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		wg.Done()
	}
	at := state.Attempt{Account: "alice"}
	for i := range testPolicy.MaxFailures - 1 {
		if !attempt(t, s, "alice", state.CountedFailure) {
			t.Fatalf("failure %d refused", i+1)
		}
	}
	for i := range 50 {
		adm, err := s.Admit(ctx, at, testPolicy)
		if err != nil || !adm.Allowed {
			t.Fatalf("round %d: Admit = %+v, %v", i, adm, err)
		}
		if i > 0 && (adm.Failures != 0 || adm.InFlight != 0) {
			t.Fatalf("round %d: Admit right after an asynchronous success sees %d failures, %d in flight", i, adm.Failures, adm.InFlight)
		}
		wg.Add(1)
		s.FinishAsync(ctx, at, adm.Slot, state.Success, testPolicy, done)
	}

	// Many at once on many accounts, then Close: every one is applied.
	const n = 500
	for i := range n {
		account := "user-" + strconv.Itoa(i)
		adm, err := s.Admit(ctx, state.Attempt{Account: account}, testPolicy)
		if err != nil || !adm.Allowed {
			t.Fatalf("Admit %s = %+v, %v", account, adm, err)
		}
		wg.Add(1)
		s.FinishAsync(ctx, state.Attempt{Account: account}, adm.Slot, state.Uncounted, testPolicy, done)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("FinishAsync: %v", err)
		}
	}
	if len(errs) != 50+n {
		t.Fatalf("done called %d times, want %d", len(errs), 50+n)
	}
	for i := range n {
		st, err := check.Status(ctx, "user-"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		if st.InFlight != 0 {
			t.Fatalf("user-%d: %d slots still held after Close", i, st.InFlight)
		}
	}

	var got error
	s.FinishAsync(ctx, at, "x", state.Success, testPolicy, func(err error) { got = err })
	if !errors.Is(got, state.ErrUnavailable) {
		t.Fatalf("FinishAsync after Close: %v, want ErrUnavailable", got)
	}
}
