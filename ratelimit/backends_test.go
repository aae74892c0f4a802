package ratelimit_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/ratelimit"
	"github.com/loginguard/loginguard/state/redisstate/redistest"
)

// maker makes a Limiter from o on one backend, with a fresh key prefix.
type maker func(t *testing.T, o ratelimit.Options) *ratelimit.Limiter

// TestBackends runs the same behaviours on the memory store, on the shared
// Redis and on a real three-node Redis Cluster (where a CROSSSLOT error would
// fail them).
func TestBackends(t *testing.T) {
	shared := sharedClient(t)
	addrs := redistest.StartCluster(t)
	cluster := newClient(t, addrs...)
	backends := []struct {
		name   string
		client redis.UniversalClient
	}{
		{"memory", nil},
		{"redis", shared},
		{"cluster", cluster},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			mk := func(t *testing.T, o ratelimit.Options) *ratelimit.Limiter {
				o.Redis = b.client
				o.Prefix = randomPrefix(t, b.client)
				return mustNew(t, o)
			}
			for _, bh := range behaviours {
				t.Run(bh.name, func(t *testing.T) { bh.run(t, mk) })
			}
		})
	}
	t.Run("cluster/exact", func(t *testing.T) {
		testExactAcrossInstances(t, func(t *testing.T) redis.UniversalClient { return newClient(t, addrs...) }, cluster)
	})
}

var behaviours = []struct {
	name string
	run  func(t *testing.T, mk maker)
}{
	{"ip rate enforced", func(t *testing.T, mk maker) {
		l := mk(t, ratelimit.Options{IP: "3-M"})
		before := time.Now()
		for i := range 3 {
			d := check(t, l, "203.0.113.7", "alice")
			if d.Verdict != ratelimit.Allowed || d.Scope != "ip" || d.Limit != 3 || d.Remaining != int64(2-i) {
				t.Fatalf("attempt %d: %+v, want allowed by ip, limit 3, remaining %d", i+1, d, 2-i)
			}
			if d.Key != "ip:203.0.113.7/32" {
				t.Errorf("key %q", d.Key)
			}
			// The window is a minute from the first attempt; Reset is rounded up.
			if d.Reset.Before(before.Add(time.Minute-time.Second)) || d.Reset.After(time.Now().Add(time.Minute+time.Second)) {
				t.Errorf("reset %v is not a minute from now", d.Reset)
			}
		}
		d := check(t, l, "203.0.113.7", "alice")
		if d.Verdict != ratelimit.Limited || d.Scope != "ip" || d.Remaining != 0 || d.Limit != 3 {
			t.Fatalf("4th attempt: %+v, want limited by ip", d)
		}
		if d := check(t, l, "203.0.113.8", "alice"); d.Verdict != ratelimit.Allowed {
			t.Fatalf("another IP: %+v, want allowed", d)
		}
	}},
	{"account rate enforced", func(t *testing.T, mk maker) {
		l := mk(t, ratelimit.Options{Account: "2-H"})
		if n := countAllowed(t, l, 2, "198.51.100.1", "bob", "account") + countAllowed(t, l, 2, "198.51.100.2", "bob", "account"); n != 2 {
			t.Fatalf("%d attempts at bob from two IPs allowed, want 2", n)
		}
		if d := check(t, l, "198.51.100.3", "carol"); d.Verdict != ratelimit.Allowed || d.Key != "account:carol" {
			t.Fatalf("another account: %+v, want allowed", d)
		}
		// An empty account skips the account limit.
		for range 5 {
			if d := check(t, l, "198.51.100.1", ""); d.Verdict != ratelimit.Allowed || d.Limit != 0 || d.Scope != "" {
				t.Fatalf("no account: %+v, want allowed with no limit counted", d)
			}
		}
		// A long account is hashed into a short key and still limited.
		long := string(make([]byte, 1000))
		if n := countAllowed(t, l, 3, "198.51.100.1", long, "account"); n != 2 {
			t.Fatalf("%d attempts at a long account allowed, want 2", n)
		}
		if d := check(t, l, "198.51.100.1", long); len(d.Key) > 80 {
			t.Fatalf("key of a long account is %d bytes", len(d.Key))
		}
	}},
	{"route rate enforced", func(t *testing.T, mk maker) {
		l := mk(t, ratelimit.Options{Route: "4-D"})
		allowed := 0
		for i := range 6 {
			allowed += countAllowed(t, l, 1, fmt.Sprintf("192.0.2.%d", i+1), fmt.Sprintf("user%d", i), "route")
		}
		if allowed != 4 {
			t.Fatalf("%d attempts allowed, want 4", allowed)
		}
		if d := check(t, l, "2001:db8::1", ""); d.Verdict != ratelimit.Limited || d.Key != "route:" {
			t.Fatalf("%+v, want limited by route", d)
		}
	}},
	{"ipv6 /64 shares a limit", func(t *testing.T, mk maker) {
		l := mk(t, ratelimit.Options{IP: "2-M"})
		n := countAllowed(t, l, 2, "2001:db8:1:2::1", "", "ip") +
			countAllowed(t, l, 2, "2001:db8:1:2:ffff:ffff:ffff:fffe", "", "ip")
		if n != 2 {
			t.Fatalf("%d attempts from one /64 allowed, want 2", n)
		}
		if n := countAllowed(t, l, 3, "2001:db8:1:3::1", "", "ip"); n != 2 {
			t.Fatalf("%d attempts from the next /64 allowed, want 2 (its own limit)", n)
		}
		// An IPv4-mapped address counts as the IPv4 address.
		n = countAllowed(t, l, 1, "192.0.2.9", "", "ip") + countAllowed(t, l, 2, "::ffff:192.0.2.9", "", "ip")
		if n != 2 {
			t.Fatalf("%d attempts from 192.0.2.9 and its mapped form allowed, want 2", n)
		}
	}},
	{"ipv4 /24 option", func(t *testing.T, mk maker) {
		l := mk(t, ratelimit.Options{IP: "2-M", IPv4Prefix: 24, IPv6Prefix: 48})
		n := countAllowed(t, l, 1, "192.0.2.1", "", "ip") + countAllowed(t, l, 2, "192.0.2.200", "", "ip")
		if n != 2 {
			t.Fatalf("%d attempts from one /24 allowed, want 2", n)
		}
		if d := check(t, l, "192.0.3.1", ""); d.Verdict != ratelimit.Allowed || d.Key != "ip:192.0.3.0/24" {
			t.Fatalf("another /24: %+v, want allowed with key ip:192.0.3.0/24", d)
		}
		n = countAllowed(t, l, 1, "2001:db8:1:2::1", "", "ip") + countAllowed(t, l, 2, "2001:db8:1:ff::1", "", "ip")
		if n != 2 {
			t.Fatalf("%d attempts from one /48 allowed, want 2", n)
		}
	}},
	{"limited attempts count only up to the exceeded limit", func(t *testing.T, mk maker) {
		l := mk(t, ratelimit.Options{IP: "2-M", Account: "3-M", Route: "4-M"})
		// A flood from one IP at alice: its IP limit stops it and uses up
		// neither alice's nor the route's allowance.
		if n := countAllowed(t, l, 20, "203.0.113.1", "alice", "ip"); n != 2 {
			t.Fatalf("%d attempts allowed, want 2", n)
		}
		if n := countAllowed(t, l, 2, "203.0.113.2", "alice", "account"); n != 1 {
			t.Fatalf("%d attempts at alice from a second IP allowed, want 1 (3 per account)", n)
		}
		// The route has seen 3 attempts pass: one more gets through.
		if n := countAllowed(t, l, 2, "203.0.113.3", "dave", "route"); n != 1 {
			t.Fatalf("%d attempts allowed, want 1 (4 per route)", n)
		}
	}},
	{"tightest limit reported", func(t *testing.T, mk maker) {
		l := mk(t, ratelimit.Options{IP: "5-M", Account: "10-M", Route: "3-M"})
		d := check(t, l, "203.0.113.1", "alice")
		if d.Verdict != ratelimit.Allowed || d.Scope != "route" || d.Limit != 3 || d.Remaining != 2 {
			t.Fatalf("%+v, want allowed, tightest route 2 of 3 remaining", d)
		}
	}},
	{"deny beats allow, allow skips limits", func(t *testing.T, mk maker) {
		l := mk(t, ratelimit.Options{
			IP: "1-M", Route: "2-M",
			Allow: []string{"10.0.0.0/8", "2001:db8::/32"},
			Deny:  []string{"10.9.0.0/16", "2001:db8:bad::1"},
		})
		for _, ip := range []string{"10.9.1.1", "2001:db8:bad::1", "::ffff:10.9.200.3"} {
			d := check(t, l, ip, "alice")
			if d.Verdict != ratelimit.Denied || d.Scope != "deny" || d.Limit != 0 {
				t.Fatalf("%s: %+v, want denied", ip, d)
			}
		}
		for range 10 {
			for _, ip := range []string{"10.1.2.3", "2001:db8:1::1"} {
				if d := check(t, l, ip, "alice"); d.Verdict != ratelimit.Skipped || d.Scope != "allow" {
					t.Fatalf("%s: %+v, want skipped", ip, d)
				}
			}
		}
		// Nothing was counted for the allowed IPs: the route still has 2.
		allowed := countAllowed(t, l, 1, "192.0.2.1", "", "route") + countAllowed(t, l, 1, "192.0.2.2", "", "route") +
			countAllowed(t, l, 1, "192.0.2.3", "", "route")
		if allowed != 2 {
			t.Fatalf("%d attempts allowed after the allow-listed ones, want 2", allowed)
		}
		// Allow-listed clients are never limited, even when the route is.
		if d := check(t, l, "10.1.2.3", ""); d.Verdict != ratelimit.Skipped {
			t.Fatalf("allow-listed while the route is limited: %+v", d)
		}
	}},
	{"concurrent checks exact", func(t *testing.T, mk maker) {
		l := mk(t, ratelimit.Options{IP: "10-M"})
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				d, err := l.Check(context.Background(), netip.MustParseAddr("203.0.113.50"), "")
				if err != nil {
					t.Error(err)
					return
				}
				if d.Verdict == ratelimit.Allowed {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if n := allowed.Load(); n != 10 {
			t.Fatalf("%d of 100 concurrent attempts allowed, want 10", n)
		}
	}},
}

// TestExactAcrossInstances: three Limiters with three clients of one Redis
// (three Caddy instances) allow exactly the limit between them.
func TestExactAcrossInstances(t *testing.T) {
	shared := sharedClient(t)
	testExactAcrossInstances(t, func(t *testing.T) redis.UniversalClient { return newClient(t, sharedAddr) }, shared)
}

func testExactAcrossInstances(t *testing.T, client func(t *testing.T) redis.UniversalClient, admin redis.UniversalClient) {
	prefix := randomPrefix(t, admin)
	o := ratelimit.Options{IP: "5-M", Route: "10-M", Prefix: prefix}
	var ls []*ratelimit.Limiter
	for range 3 {
		o.Redis = client(t)
		ls = append(ls, mustNew(t, o))
	}
	ips := []string{"203.0.113.1", "203.0.113.2", "2001:db8::1", "2001:db8:0:1::1"}
	var allowed atomic.Int64
	var perIP [4]atomic.Int64
	var wg sync.WaitGroup
	for g := range 300 {
		wg.Go(func() {
			i := g % len(ips)
			d, err := ls[g%3].Check(context.Background(), netip.MustParseAddr(ips[i]), "")
			if err != nil {
				t.Error(err)
				return
			}
			if d.Verdict == ratelimit.Allowed {
				allowed.Add(1)
				perIP[i].Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 10 {
		t.Fatalf("%d of 300 attempts from 4 IPs allowed, want exactly 10 (the route limit)", n)
	}
	for i := range perIP {
		if n := perIP[i].Load(); n > 5 {
			t.Errorf("%s: %d allowed, more than its limit of 5", ips[i], n)
		}
	}

	if cc, ok := admin.(*redis.ClusterClient); ok {
		// The counters can spread over the nodes: each command has one key and
		// no hash tag puts them all in one slot. (Which nodes they land on is
		// chance: 5 keys all fall on one of 3 nodes in about 1 run in 80.)
		var mu sync.Mutex
		slots := map[int64]bool{}
		err := cc.ForEachMaster(context.Background(), func(ctx context.Context, n *redis.Client) error {
			keys, err := n.Keys(ctx, prefix+"*").Result()
			for _, k := range keys {
				slot, err := cc.ClusterKeySlot(ctx, k).Result()
				if err != nil {
					return err
				}
				mu.Lock()
				slots[slot] = true
				mu.Unlock()
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(slots) < 2 {
			t.Errorf("the counters are in %d hash slot(s), want one per key", len(slots))
		}
	}

	// One limit alone: "10-M" on one IP, 3 instances, 300 attempts.
	o = ratelimit.Options{IP: "10-M", Prefix: prefix + "single:"}
	ls = ls[:0]
	for range 3 {
		o.Redis = client(t)
		ls = append(ls, mustNew(t, o))
	}
	allowed.Store(0)
	for g := range 300 {
		wg.Go(func() {
			d, err := ls[g%3].Check(context.Background(), netip.MustParseAddr("198.51.100.7"), "eve")
			if err != nil {
				t.Error(err)
				return
			}
			if d.Verdict == ratelimit.Allowed {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 10 {
		t.Fatalf("%d of 300 attempts allowed by 3 instances, want exactly 10", n)
	}
}
