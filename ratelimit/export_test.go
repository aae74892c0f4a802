package ratelimit

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// CheckConcurrently is the alternative to Check that the benchmarks compare
// it with: the configured limits are looked up at once (one round trip of
// latency with Redis), and every one is counted even when another is
// exceeded. Lists are not consulted.
func (l *Limiter) CheckConcurrently(ctx context.Context, ip netip.Addr, account string) (Decision, error) {
	ip = ip.Unmap().WithZone("")
	ds := make([]Decision, len(l.limits))
	errs := make([]error, len(l.limits))
	var wg sync.WaitGroup
	for i, sl := range l.limits {
		subject := ""
		switch sl.scope {
		case ScopeIP:
			subject = PrefixOf(ip, l.v4, l.v6).String()
		case ScopeAccount:
			if account == "" {
				continue
			}
			subject = accountKey(account)
		}
		wg.Go(func() {
			c, err := sl.lim.Get(ctx, subject)
			if err != nil {
				errs[i] = fmt.Errorf("ratelimit: %s limit: %w: %w", sl.scope, ErrUnavailable, err)
				return
			}
			ds[i] = Decision{Verdict: Allowed, Scope: sl.scope, Limit: c.Limit, Remaining: c.Remaining, Reset: time.Unix(c.Reset+1, 0)}
			if c.Reached {
				ds[i].Verdict = Limited
			}
		})
	}
	wg.Wait()
	d := Decision{Verdict: Allowed}
	for i := range ds {
		if errs[i] != nil {
			return Decision{}, errs[i]
		}
		if ds[i].Verdict == Limited {
			return ds[i], nil
		}
		if ds[i].Scope != "" && (d.Scope == "" || ds[i].Remaining < d.Remaining) {
			d = ds[i]
		}
	}
	return d, nil
}
