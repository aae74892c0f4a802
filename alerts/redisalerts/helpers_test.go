package redisalerts_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/alerts/redisalerts"
	"github.com/loginguard/loginguard/state/redisstate"
)

// quiet drops go-redis's own log lines (failed dials in the outage tests).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	os.Exit(m.Run())
}

// sharedAddr is the Redis that runs on this project's machines.
const sharedAddr = "127.0.0.1:6379"

// stateClient returns the client of a state store for url, as the Caddy
// module shares it (redisstate.Store.Client), and closes the store when the
// test ends.
func stateClient(tb testing.TB, url string) redis.UniversalClient {
	tb.Helper()
	s, err := redisstate.New(context.Background(), redisstate.Options{URL: url})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s.Client()
}

// sharedClient is stateClient for the shared Redis; the test fails when it
// does not answer.
func sharedClient(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	c := stateClient(tb, "redis://"+sharedAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("Redis at %s is required (start it: see /work/shared/NOTES.md): %v", sharedAddr, err)
	}
	return c
}

// randomPrefix returns a key prefix of its own and deletes its keys from c
// when the test ends.
func randomPrefix(tb testing.TB, c redis.UniversalClient) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	prefix := "lgtest:alerts:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		del := func(c *redis.Client) {
			iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		}
		switch c := c.(type) {
		case *redis.Client:
			del(c)
		case *redis.ClusterClient:
			_ = c.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { del(c); return nil })
		}
	})
	return prefix
}

// newWindows returns Windows on c under prefix.
func newWindows(tb testing.TB, c redis.UniversalClient, prefix string) *redisalerts.Windows {
	tb.Helper()
	w, err := redisalerts.New(c, redisalerts.Options{Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// roundTrips counts what a client sends to Redis: a command alone or a
// pipeline is one round trip.
type roundTrips struct {
	trips, commands atomic.Int64
}

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.trips.Add(1)
		r.commands.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.trips.Add(1)
		r.commands.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}
