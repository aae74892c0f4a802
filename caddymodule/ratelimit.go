package caddymodule

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/ratelimit"
)

// RateLimit configures a login route's rate limits, counted in Redis when the
// app's state is Redis (shared by every instance), else in this process. Rates
// are ulule/limiter's "<n>-<S|M|H|D>": "20-M" is 20 a minute.
type RateLimit struct {
	// IP limits attempts per client IP prefix. Default: none.
	IP string `json:"ip,omitempty"`
	// Account limits attempts per account. Default: none.
	Account string `json:"account,omitempty"`
	// Route limits all attempts on the route together. Default: none.
	Route string `json:"route,omitempty"`
	// IPv4Prefix and IPv6Prefix make one client of an IP's prefix. Default: 32 and 64.
	IPv4Prefix int `json:"ipv4_prefix,omitempty"`
	IPv6Prefix int `json:"ipv6_prefix,omitempty"`
	// SampleInterval: of the attempts refused under one key (an IP prefix, an
	// account, the route), the first in each interval is an event, carrying the
	// number refused since the previous event; the metric
	// loginguard_gateway_refusals_total counts every one. Default: 10s.
	SampleInterval caddy.Duration `json:"sample_interval,omitempty"`
}

// limiterPool keeps rate limiters, and so their in-memory counters, across
// config reloads.
var limiterPool = caddy.NewUsagePool()

type pooledLimiter struct{ *ratelimit.Limiter }

func (pooledLimiter) Destruct() error { return nil }

// provisionLimits builds the route's limiter (rate limits, allow and deny
// lists), nil when it has none: the route's Env.Limiter.
func (h *Handler) provisionLimits() (*ratelimit.Limiter, error) {
	rl := h.RateLimit
	if rl == nil && len(h.Allow) == 0 && len(h.Deny) == 0 {
		return nil, nil
	}
	if rl == nil {
		rl = new(RateLimit)
		h.RateLimit = rl
	}
	var client redis.UniversalClient
	if c, ok := h.app.store.(interface{ Client() redis.UniversalClient }); ok {
		client = c.Client()
	}
	cfg, _ := json.Marshal(struct {
		*RateLimit
		Allow, Deny   []string
		Realm, Portal string
		Source        string
	}{rl, h.Allow, h.Deny, h.Realm, h.PortalID, h.route.Source})
	sum := sha256.Sum256(cfg)
	id := hex.EncodeToString(sum[:6])
	key := "limiter:" + h.app.storeKey + ":" + string(cfg)
	val, _, err := limiterPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		l, err := ratelimit.New(ratelimit.Options{
			IP: rl.IP, Account: rl.Account, Route: rl.Route,
			IPv4Prefix: rl.IPv4Prefix, IPv6Prefix: rl.IPv6Prefix,
			Allow: h.Allow, Deny: h.Deny,
			Redis:  client,
			Prefix: "loginguard:rl:" + id + ":",
		})
		if err != nil {
			return nil, err
		}
		return pooledLimiter{l}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("rate_limit: %w", err)
	}
	h.limiterKey = key
	return val.(pooledLimiter).Limiter, nil
}

// Cleanup ends the route and releases its limiter.
func (h *Handler) Cleanup() error {
	if h.route != nil {
		h.route.Close()
	}
	if h.limiterKey != "" {
		_, err := limiterPool.Delete(h.limiterKey)
		return err
	}
	return nil
}

// parseRateLimit sets up the rate limits from Caddyfile tokens:
//
//	rate_limit {
//	    ip      <rate>
//	    account <rate>
//	    route   <rate>
//	    ipv4_prefix <bits>
//	    ipv6_prefix <bits>
//	    sample_interval <duration>
//	}
func (h *Handler) parseRateLimit(d *caddyfile.Dispenser) error {
	if h.RateLimit == nil {
		h.RateLimit = new(RateLimit)
	}
	rl := h.RateLimit
	if d.NextArg() {
		return d.ArgErr()
	}
	for n := d.Nesting(); d.NextBlock(n); {
		switch opt := d.Val(); opt {
		case "ip", "account", "route":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			*map[string]*string{"ip": &rl.IP, "account": &rl.Account, "route": &rl.Route}[opt] = v
		case "ipv4_prefix", "ipv6_prefix":
			v, err := intArg(d)
			if err != nil {
				return err
			}
			*map[string]*int{"ipv4_prefix": &rl.IPv4Prefix, "ipv6_prefix": &rl.IPv6Prefix}[opt] = v
		case "sample_interval":
			v, err := durationArg(d)
			if err != nil {
				return err
			}
			rl.SampleInterval = v
		default:
			return d.Errf("rate_limit: unknown option %q", opt)
		}
	}
	return nil
}

var _ caddy.CleanerUpper = (*Handler)(nil)
