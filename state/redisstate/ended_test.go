package redisstate_test

import (
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

// TestEndedLocksOnce: three instances sharing one Redis ask for the ended
// locks at the same time, over and over, right after the server forgot its
// scripts; every one of 600 ended locks is reported once, to one of them.
func TestEndedLocksOnce(t *testing.T) {
	srv := redistest.StartServer(t) // its own: the test flushes the scripts
	clock := statetest.NewClock(time.Now().UTC().Truncate(time.Second))
	var stores []*redisstate.Store
	for range 3 {
		stores = append(stores, open(t, redisstate.Options{URL: "redis://" + srv.Addr, Options: state.Options{Now: clock.Now}}))
	}
	const n = 600
	ctx := t.Context()
	for i := range n {
		if err := stores[i%3].Lock(ctx, "user-"+strconv.Itoa(i), time.Duration(1+i%7)*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	if ends, err := stores[0].EndedLocks(ctx); err != nil || len(ends) != 0 {
		t.Fatalf("before any lock ended: %v %v", ends, err)
	}
	t.Logf("EndedLocks with nothing ended (one script call per bucket, %d buckets): %v", redisstate.Buckets, time.Since(began))
	clock.Advance(time.Hour)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() {
			for range 5 {
				ends, err := s.EndedLocks(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, e := range ends {
					seen[e.Account]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d accounts reported, want %d", len(seen), n)
	}
	for a, c := range seen {
		if c != 1 {
			t.Fatalf("%s reported %d times", a, c)
		}
	}
}
