package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/ratelimit"
)

// sharedAddr is the Redis that runs on this project's machines.
const sharedAddr = "127.0.0.1:6379"

// newClient returns a client configured like the state store's (short
// timeouts, no retries: a script must not run twice) and closes it when the
// test ends. One address gives a single-server client, several a Cluster
// client.
func newClient(tb testing.TB, addrs ...string) redis.UniversalClient {
	tb.Helper()
	c := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 addrs,
		IsClusterMode:         len(addrs) > 1,
		DialTimeout:           time.Second,
		ReadTimeout:           500 * time.Millisecond,
		WriteTimeout:          500 * time.Millisecond,
		PoolTimeout:           time.Second,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
	})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// sharedClient returns a client of the shared Redis; the test fails when it
// does not answer.
func sharedClient(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	c := newClient(tb, sharedAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("Redis at %s is required (start it: see /work/shared/NOTES.md): %v", sharedAddr, err)
	}
	return c
}

// randomPrefix returns a key prefix of its own for one test and deletes its
// keys from c when the test ends.
func randomPrefix(tb testing.TB, c redis.UniversalClient) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	prefix := "lgtest:rl:" + hex.EncodeToString(b[:]) + ":"
	if c != nil {
		tb.Cleanup(func() { dropPrefix(tb, c, prefix) })
	}
	return prefix
}

// dropPrefix deletes every key under prefix (on every master of a Cluster).
func dropPrefix(tb testing.TB, c redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	del := func(ctx context.Context, n redis.UniversalClient) error {
		iter := n.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := n.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return del(ctx, n) })
	} else {
		err = del(ctx, c)
	}
	if err != nil {
		tb.Logf("delete %s*: %v", prefix, err) // a killed test server has nothing to delete
	}
}

// mustNew makes a Limiter or fails the test.
func mustNew(tb testing.TB, o ratelimit.Options) *ratelimit.Limiter {
	tb.Helper()
	l, err := ratelimit.New(o)
	if err != nil {
		tb.Fatalf("New(%+v): %v", o, err)
	}
	return l
}

// check calls Check and fails the test on an error.
func check(tb testing.TB, l *ratelimit.Limiter, ip, account string) ratelimit.Decision {
	tb.Helper()
	d, err := l.Check(context.Background(), netip.MustParseAddr(ip), account)
	if err != nil {
		tb.Fatalf("Check(%s, %q): %v", ip, account, err)
	}
	return d
}

// countAllowed makes n checks and returns how many were Allowed; every other
// one must be Limited by scope.
func countAllowed(tb testing.TB, l *ratelimit.Limiter, n int, ip, account, scope string) int {
	tb.Helper()
	allowed := 0
	for range n {
		d := check(tb, l, ip, account)
		switch {
		case d.Verdict == ratelimit.Allowed:
			allowed++
		case d.Verdict == ratelimit.Limited && d.Scope == scope:
		default:
			tb.Fatalf("Check(%s, %q) = %+v, want allowed or limited by %s", ip, account, d, scope)
		}
	}
	return allowed
}
