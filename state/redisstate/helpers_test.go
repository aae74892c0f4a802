package redisstate_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/state/redisstate"
)

// sharedAddr is the Redis that runs on this project's machines.
const sharedAddr = "127.0.0.1:6379"

// requireShared fails the test when the shared Redis does not answer.
func requireShared(tb testing.TB) {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: sharedAddr, DialTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("Redis at %s is required (start it: see /work/shared/NOTES.md): %v", sharedAddr, err)
	}
}

// randomPrefix returns a key prefix of its own for one test's stores.
func randomPrefix(tb testing.TB) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return "lgtest:" + hex.EncodeToString(b[:]) + ":"
}

// open makes a store and closes it when the test ends.
func open(tb testing.TB, o redisstate.Options) *redisstate.Store {
	tb.Helper()
	s, err := redisstate.New(context.Background(), o)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// dropPrefix deletes every key under prefix on the shared Redis when the test
// ends, so that the tests leave nothing behind.
func dropPrefix(tb testing.TB, prefix string) {
	tb.Helper()
	tb.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: sharedAddr})
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("scan %s*: %v", prefix, err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
				tb.Errorf("delete %s*: %v", prefix, err)
				return
			}
			keys = keys[n:]
		}
	})
}

// clusterURL is the store URL for a cluster's nodes.
func clusterURL(addrs []string) string {
	return "redis+cluster://" + strings.Join(addrs, ",")
}

var testPolicy = state.Policy{
	MaxFailures:  5,
	Window:       15 * time.Minute,
	LockDuration: 15 * time.Minute,
	SlotTTL:      time.Minute,
}
