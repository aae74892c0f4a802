package redisstate_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/state/redisstate"
	"github.com/loginguard/loginguard/state/redisstate/redistest"
	"github.com/loginguard/loginguard/state/statetest"
)

// factory returns a statetest.Factory for stores on url, each with a prefix of
// its own.
func factory(url string, shared bool) statetest.Factory {
	return func(t *testing.T, opts state.Options) state.Store {
		prefix := randomPrefix(t)
		if shared {
			dropPrefix(t, prefix)
		}
		return open(t, redisstate.Options{URL: url, Prefix: prefix, Options: opts})
	}
}

func TestConformance(t *testing.T) {
	requireShared(t)
	statetest.Run(t, factory("redis://"+sharedAddr, true))
}

// TestCluster runs the suite and the concurrency test against a real
// three-node Redis Cluster, and checks that an account's keys share a slot.
func TestCluster(t *testing.T) {
	addrs := redistest.StartCluster(t)
	url := clusterURL(addrs)
	t.Run("Conformance", func(t *testing.T) {
		statetest.Run(t, factory(url, false))
	})
	t.Run("ThreeInstances", func(t *testing.T) {
		raceThreeInstances(t, url)
	})
	t.Run("HashTags", func(t *testing.T) {
		s := open(t, redisstate.Options{URL: url})
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		defer c.Close()
		ctx := t.Context()
		slots := map[int64]bool{}
		for _, name := range []string{"alice", "{tag}", "}{", "{", "}", "{}", "a{b}c", "{b1}", "x}{b7}", "Ünïcödé 用户"} {
			st, idx := s.Keys(name)
			a, err := c.ClusterKeySlot(ctx, st).Result()
			if err != nil {
				t.Fatalf("CLUSTER KEYSLOT %q: %v", st, err)
			}
			b, err := c.ClusterKeySlot(ctx, idx).Result()
			if err != nil {
				t.Fatalf("CLUSTER KEYSLOT %q: %v", idx, err)
			}
			if a != b {
				t.Fatalf("account %q: state key %q in slot %d, index key %q in slot %d", name, st, a, idx, b)
			}
			slots[a] = true
		}
		if len(slots) < 3 {
			t.Fatalf("10 accounts hash to %d slots: the tag does not spread them", len(slots))
		}
	})
}

// TestThreeInstances: 1,000 concurrent attempts on one account through three
// stores (three clients, as three Caddy instances would have) let exactly
// MaxFailures through.
func TestThreeInstances(t *testing.T) {
	requireShared(t)
	raceThreeInstances(t, "redis://"+sharedAddr)
}

func raceThreeInstances(t *testing.T, url string) {
	prefix := randomPrefix(t)
	dropPrefix(t, prefix)
	var stores [3]*redisstate.Store
	for i := range stores {
		stores[i] = open(t, redisstate.Options{URL: url, Prefix: prefix})
	}
	const n = 1000
	p := testPolicy // MaxFailures 5
	account := "victim@example.com"
	ctx := context.Background()
	var (
		wg                      sync.WaitGroup
		admitted, newly, locked atomic.Int64
		errs                    = make(chan error, n)
	)
	gate := make(chan struct{})
	for i := range n {
		s := stores[i%len(stores)]
		wg.Go(func() {
			<-gate
			adm, err := s.Admit(ctx, state.Attempt{Account: account}, p)
			if err != nil {
				errs <- fmt.Errorf("admit: %w", err)
				return
			}
			if !adm.Allowed {
				if adm.Locked {
					locked.Add(1)
				}
				return
			}
			admitted.Add(1)
			r, err := s.Finish(ctx, state.Attempt{Account: account}, adm.Slot, state.CountedFailure, p)
			if err != nil {
				errs <- fmt.Errorf("finish: %w", err)
				return
			}
			if r.NewlyLocked {
				newly.Add(1)
			}
		})
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if admitted.Load() != int64(p.MaxFailures) || newly.Load() != 1 {
		t.Fatalf("%d attempts over 3 stores: %d admitted, %d saw NewlyLocked; want %d and 1",
			n, admitted.Load(), newly.Load(), p.MaxFailures)
	}
	st, err := stores[1].Status(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Locked || st.Failures != p.MaxFailures || st.InFlight != 0 {
		t.Fatalf("Status = %+v, want locked with %d failures, none in flight", st, p.MaxFailures)
	}
	t.Logf("%d attempts: %d admitted, %d refused as locked, the rest busy", n, admitted.Load(), locked.Load())
}
