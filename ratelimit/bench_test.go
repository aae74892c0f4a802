package ratelimit_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/loginguard/loginguard/ratelimit"
)

// benchRates never limit: every Check passes all three limits.
var benchRates = ratelimit.Options{IP: "1000000000-H", Account: "1000000000-H", Route: "1000000000-H"}

// benchCheck runs check serially (ns/op is the latency of one attempt) and in
// parallel (ns/op is the cost per attempt under load), each goroutine as a
// client of its own.
func benchCheck(b *testing.B, check func(ctx context.Context, ip netip.Addr, account string) (ratelimit.Decision, error), want ratelimit.Verdict) {
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		ip := netip.MustParseAddr("192.0.2.1")
		for b.Loop() {
			d, err := check(context.Background(), ip, "alice")
			if err != nil || d.Verdict != want {
				b.Fatalf("%+v, %v; want %v", d, err, want)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16) // 16 clients per CPU
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			g := n.Add(1)
			ip := netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::1", g))
			account := fmt.Sprintf("user%d", g)
			for pb.Next() {
				d, err := check(context.Background(), ip, account)
				if err != nil || d.Verdict != want {
					b.Fatalf("%+v, %v; want %v", d, err, want)
				}
			}
		})
	})
}

// BenchmarkCheckMemory: an allowed attempt through three limits in memory,
// and an attempt refused by its IP limit.
func BenchmarkCheckMemory(b *testing.B) {
	b.Run("allowed", func(b *testing.B) {
		benchCheck(b, mustNew(b, benchRates).Check, ratelimit.Allowed)
	})
	b.Run("limited", func(b *testing.B) {
		o := benchRates
		o.IP = "1-H"
		l := mustNew(b, o)
		useUp(b, l)
		benchCheck(b, l.Check, ratelimit.Limited)
	})
}

// BenchmarkCheckRedis: the same on the shared Redis (three round trips for an
// allowed attempt, one for a limited one).
func BenchmarkCheckRedis(b *testing.B) {
	c := sharedClient(b)
	b.Run("allowed", func(b *testing.B) {
		o := benchRates
		o.Redis, o.Prefix = c, randomPrefix(b, c)
		benchCheck(b, mustNew(b, o).Check, ratelimit.Allowed)
	})
	b.Run("limited", func(b *testing.B) {
		o := benchRates
		o.IP = "1-H"
		o.Redis, o.Prefix = c, randomPrefix(b, c)
		l := mustNew(b, o)
		useUp(b, l)
		benchCheck(b, l.Check, ratelimit.Limited)
	})
}

// BenchmarkCheckRedisConcurrentLookups: the alternative design, the three
// lookups at once, for comparison with BenchmarkCheckRedis/allowed.
func BenchmarkCheckRedisConcurrentLookups(b *testing.B) {
	c := sharedClient(b)
	o := benchRates
	o.Redis, o.Prefix = c, randomPrefix(b, c)
	benchCheck(b, mustNew(b, o).CheckConcurrently, ratelimit.Allowed)
}

// useUp uses up the one attempt that "1-H" gives each of benchCheck's clients.
func useUp(b *testing.B, l *ratelimit.Limiter) {
	for g := range 256 {
		check(b, l, fmt.Sprintf("2001:db8:%x::1", g+1), "")
	}
	check(b, l, "192.0.2.1", "")
}
