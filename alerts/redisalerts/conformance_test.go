package redisalerts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/alerts/alertstest"
	"github.com/loginguard/loginguard/alerts/redisalerts"
	"github.com/loginguard/loginguard/state/redisstate/redistest"
)

// store is the conformance suite's view of Windows on c.
func store(t *testing.T, c redis.UniversalClient) alertstest.Store {
	w := newWindows(t, c, randomPrefix(t, c))
	return alertstest.Store{
		Windows: w,
		Held: func(rule, subject string) int {
			k, _ := redisalerts.Keys(w, rule, subject)
			n, err := c.ZCard(t.Context(), k).Result()
			if err != nil {
				t.Fatalf("ZCARD %s: %v", k, err)
			}
			return int(n)
		},
		Expiry: func(rule, subject string) time.Duration {
			k, h := redisalerts.Keys(w, rule, subject)
			d, err := c.PTTL(t.Context(), k).Result()
			if err != nil {
				t.Fatalf("PTTL %s: %v", k, err)
			}
			if hd, err := c.PTTL(t.Context(), h).Result(); err == nil && (hd > d || hd == -1) {
				d = hd // a cooldown without expiry (-1) or longer than the window
			}
			if d == -1 {
				return -1
			}
			return d
		},
	}
}

func TestConformance(t *testing.T) {
	c := sharedClient(t)
	alertstest.Run(t, func(t *testing.T, _ int) alertstest.Store { return store(t, c) })
}

// TestConformanceCluster runs the suite on a three-node Redis Cluster: every
// script's keys share a slot, and a batch spans the nodes.
func TestConformanceCluster(t *testing.T) {
	addrs := redistest.StartCluster(t)
	c := stateClient(t, "redis+cluster://"+strings.Join(addrs, ","))
	alertstest.Run(t, func(t *testing.T, _ int) alertstest.Store { return store(t, c) })
}
