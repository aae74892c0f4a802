package ratelimit_test

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/loginguard/loginguard/ratelimit"
	"github.com/loginguard/loginguard/state/redisstate/redistest"
)

// TestRedisOutage: New neither blocks nor fails while Redis is down; Check
// returns an error wrapping ErrUnavailable promptly (refused and hung
// server); after a restart, or a SCRIPT FLUSH, it works again by itself.
func TestRedisOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	goroutines := runtime.NumGoroutine()
	c := newClient(t, srv.Addr)
	srv.Kill()

	start := time.Now()
	l, err := ratelimit.New(ratelimit.Options{IP: "3-M", Account: "5-M", Redis: c, Prefix: "lgtest:rl:outage:"})
	if err != nil {
		t.Fatalf("New with Redis down: %v", err)
	}
	if el := time.Since(start); el > 50*time.Millisecond {
		t.Fatalf("New with Redis down took %v", el)
	}

	ip := netip.MustParseAddr("192.0.2.1")
	down := func(what string, within time.Duration) {
		t.Helper()
		start := time.Now()
		d, err := l.Check(context.Background(), ip, "alice")
		if !errors.Is(err, ratelimit.ErrUnavailable) {
			t.Fatalf("%s: Check = %+v, %v; want an error wrapping ErrUnavailable", what, d, err)
		}
		if el := time.Since(start); el > within {
			t.Fatalf("%s: Check took %v, want at most %v", what, el, within)
		}
		t.Logf("%s: error after %v: %v", what, time.Since(start).Round(time.Millisecond), err)
	}
	up := func(what string, want int) {
		t.Helper()
		if n := countAllowed(t, l, want+1, ip.String(), "alice", "ip"); n != want {
			t.Fatalf("%s: %d allowed, want %d", what, n, want)
		}
	}

	down("refused", 500*time.Millisecond)
	srv.Restart()
	up("after restart", 3) // the restarted server is empty and has no scripts

	if err := c.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if d := check(t, l, "192.0.2.2", "bob"); d.Verdict != ratelimit.Allowed {
		t.Fatalf("after SCRIPT FLUSH: %+v", d)
	}

	srv.Pause()
	down("hung", 1500*time.Millisecond) // the client's 500 ms read timeout
	srv.Resume()
	// The counters survived the pause: 192.0.2.1 is still limited.
	if d := check(t, l, "192.0.2.1", "alice"); d.Verdict != ratelimit.Limited {
		t.Fatalf("after the pause: %+v, want limited", d)
	}

	// The Limiter holds no goroutines or connections of its own.
	_ = c.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after closing the client, %d before", n, goroutines)
	}
}

// TestMemoryCleanerStops: the memory store's cleaner goroutine (ulule has no
// Close) ends when the Limiter is garbage collected, so config reloads do not
// leak goroutines.
func TestMemoryCleanerStops(t *testing.T) {
	runtime.GC()
	before := runtime.NumGoroutine()
	ls := make([]*ratelimit.Limiter, 20)
	for i := range ls {
		ls[i] = mustNew(t, ratelimit.Options{IP: "1-M", Account: "1-M", Route: "1-M"})
		check(t, ls[i], "192.0.2.1", "a")
	}
	during := runtime.NumGoroutine()
	runtime.KeepAlive(ls)
	if during < before+60 {
		t.Fatalf("%d goroutines with 20 memory Limiters, %d before: expected their cleaners", during, before)
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after the Limiters were dropped, %d before", n, before)
	}
}
