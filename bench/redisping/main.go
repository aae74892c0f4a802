// Command redisping measures the round trip of a Redis PING from a Go client
// (go-redis), the floor under any Redis-backed admission: run it while the
// machine carries a load to see what that load does to a round trip.
//
//	go run ./bench/redisping -addr 127.0.0.1:6379 -rate 1000 -duration 5s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "Redis address")
	rate := flag.Float64("rate", 1000, "PINGs per second, one at a time")
	duration := flag.Duration("duration", 5*time.Second, "how long")
	flag.Parse()
	c := redis.NewClient(&redis.Options{Addr: *addr})
	defer c.Close()
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		fmt.Fprintln(os.Stderr, "redisping:", err)
		os.Exit(1)
	}
	interval := time.Duration(float64(time.Second) / *rate)
	var lat []time.Duration
	end := time.Now().Add(*duration)
	for next := time.Now(); next.Before(end); next = next.Add(interval) {
		time.Sleep(time.Until(next))
		t := time.Now()
		if err := c.Ping(ctx).Err(); err != nil {
			fmt.Fprintln(os.Stderr, "redisping:", err)
			os.Exit(1)
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	fmt.Printf("pings=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", len(lat), pct(.5), pct(.99), pct(1))
}
