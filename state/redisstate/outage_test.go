package redisstate_test

import (
	"context"
	"errors"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/state/redisstate"
	"github.com/loginguard/loginguard/state/redisstate/redistest"
)

// promptly is how soon a call must fail while Redis is unreachable.
const promptly = time.Second

// calls exercises every method of s; each returns its error.
func calls(s *redisstate.Store) map[string]func(context.Context) error {
	p := testPolicy
	return map[string]func(context.Context) error{
		"Admit": func(ctx context.Context) error {
			_, err := s.Admit(ctx, state.Attempt{Account: "alice"}, p)
			return err
		},
		"Finish": func(ctx context.Context) error {
			_, err := s.Finish(ctx, state.Attempt{Account: "alice"}, "x", state.CountedFailure, p)
			return err
		},
		"PutSession": func(ctx context.Context) error {
			return s.PutSession(ctx, "h", state.Session{Account: "alice"}, time.Hour)
		},
		"TakeSession":    func(ctx context.Context) error { _, _, err := s.TakeSession(ctx, "h"); return err },
		"Lock":           func(ctx context.Context) error { return s.Lock(ctx, "bob", time.Hour) },
		"Unlock":         func(ctx context.Context) error { _, err := s.Unlock(ctx, "bob"); return err },
		"Reset":          func(ctx context.Context) error { return s.Reset(ctx, "alice") },
		"Status":         func(ctx context.Context) error { _, err := s.Status(ctx, "alice"); return err },
		"LockedAccounts": func(ctx context.Context) error { _, err := s.LockedAccounts(ctx); return err },
		"Ping":           func(ctx context.Context) error { return s.Ping(ctx) },
	}
}

// wantUnavailable checks that every method fails promptly with an error that
// wraps state.ErrUnavailable.
func wantUnavailable(t *testing.T, s *redisstate.Store, why string) {
	t.Helper()
	for name, call := range calls(s) {
		start := time.Now()
		err := call(context.Background())
		took := time.Since(start)
		if !errors.Is(err, state.ErrUnavailable) {
			t.Fatalf("%s: %s = %v, want an error wrapping state.ErrUnavailable", why, name, err)
		}
		if took > promptly {
			t.Fatalf("%s: %s took %v to fail, want at most %v", why, name, took, promptly)
		}
	}
}

// wantWorking checks that every method works.
func wantWorking(t *testing.T, s *redisstate.Store, why string) {
	t.Helper()
	cs := calls(s)
	// In name order, so that Lock comes before Unlock and leaves nothing locked.
	for _, name := range slices.Sorted(maps.Keys(cs)) {
		if err := cs[name](context.Background()); err != nil {
			t.Fatalf("%s: %s: %v", why, name, err)
		}
	}
}

// waitWorking waits until the store reconnects, then checks every method. After
// more failed dials than it has connections, a go-redis pool probes the server
// once a second, so reconnecting can take a second.
func waitWorking(t *testing.T, s *redisstate.Store, why string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for s.Ping(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no connection after 3s: %v", why, s.Ping(context.Background()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantWorking(t, s, why)
}

// TestOutage kills Redis under a store, restarts it on the same port and
// pauses it: calls fail promptly with state.ErrUnavailable while it is gone or
// hung, and work again (scripts reloaded) once it is back, with the same store.
func TestOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	s := open(t, redisstate.Options{URL: "redis://" + srv.Addr})
	wantWorking(t, s, "Redis up")

	srv.Kill()
	wantUnavailable(t, s, "Redis killed")
	wantUnavailable(t, s, "Redis still down")

	srv.Restart() // an empty server: no scripts cached, NOSCRIPT on EVALSHA
	waitWorking(t, s, "Redis restarted")
	adm, err := s.Admit(context.Background(), state.Attempt{Account: "carol"}, testPolicy)
	if err != nil || !adm.Allowed {
		t.Fatalf("Admit after restart = %+v, %v", adm, err)
	}

	srv.Pause()
	start := time.Now()
	_, err = s.Admit(context.Background(), state.Attempt{Account: "carol"}, testPolicy)
	if took := time.Since(start); !errors.Is(err, state.ErrUnavailable) || took > promptly {
		t.Fatalf("Admit on a hung Redis = %v after %v; want state.ErrUnavailable within %v", err, took, promptly)
	}
	srv.Resume()
	wantWorking(t, s, "Redis resumed")
}

// TestScriptFlush: after SCRIPT FLUSH every script is loaded again.
func TestScriptFlush(t *testing.T) {
	srv := redistest.StartServer(t)
	s := open(t, redisstate.Options{URL: "redis://" + srv.Addr})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	ctx := context.Background()
	wantWorking(t, s, "before SCRIPT FLUSH")
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// The locked account makes LockedAccounts run the status script too.
	if err := s.Lock(ctx, "dave", time.Hour); err != nil {
		t.Fatalf("Lock after SCRIPT FLUSH: %v", err)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	locked, err := s.LockedAccounts(ctx)
	if err != nil || len(locked) != 1 || locked[0].Account != "dave" {
		t.Fatalf("LockedAccounts after SCRIPT FLUSH = %+v, %v", locked, err)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	wantWorking(t, s, "after SCRIPT FLUSH")
}

// TestNewWhileDown: New succeeds with Redis down; the store works once Redis
// comes up.
func TestNewWhileDown(t *testing.T) {
	srv := redistest.StartServer(t)
	srv.Kill()
	s := open(t, redisstate.Options{URL: "redis://" + srv.Addr})
	wantUnavailable(t, s, "Redis never up")
	srv.Restart()
	waitWorking(t, s, "Redis up at last")
}

// connectedClients is the server's count of client connections, the caller's
// own included.
func connectedClients(t *testing.T, c *redis.Client) int {
	t.Helper()
	info, err := c.Info(context.Background(), "clients").Result()
	if err != nil {
		t.Fatalf("INFO clients: %v", err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "connected_clients:"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("INFO clients: %q", line)
			}
			return n
		}
	}
	t.Fatalf("INFO clients without connected_clients:\n%s", info)
	return 0
}

// TestNoGoroutineLeak: a store that worked, lived through an outage and was
// closed leaves no goroutine and no connection behind.
func TestNoGoroutineLeak(t *testing.T) {
	srv := redistest.StartServer(t)
	settle := func() int {
		runtime.GC()
		return runtime.NumGoroutine()
	}
	before := settle()
	s, err := redisstate.New(context.Background(), redisstate.Options{URL: "redis://" + srv.Addr})
	if err != nil {
		t.Fatal(err)
	}
	wantWorking(t, s, "up")
	var wg sync.WaitGroup
	for range 50 { // open several connections
		wg.Go(func() { _, _ = s.Status(context.Background(), "erin") })
	}
	wg.Wait()
	srv.Kill()
	for range 30 { // more failed dials than the pool has connections
		_, _ = s.Admit(context.Background(), state.Attempt{Account: "erin"}, testPolicy)
	}
	srv.Restart()
	waitWorking(t, s, "restarted")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Admit(context.Background(), state.Attempt{Account: "erin"}, testPolicy); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Admit after Close = %v, want state.ErrUnavailable", err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 1})
	defer c.Close()
	deadline := time.Now().Add(3 * time.Second)
	for n := connectedClients(t, c); n != 1; n = connectedClients(t, c) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections to Redis after Close, want only the checker's", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	deadline = time.Now().Add(3 * time.Second)
	for {
		n := settle()
		if n <= before {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before New, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
