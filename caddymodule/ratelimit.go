package caddymodule

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/ratelimit"
	"github.com/loginguard/loginguard/state"
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

// fleetSampler makes s claim its budget in Redis when the state is Redis, so
// that every instance together stores what one would: the route is named by
// its realm, source and portal, the same on every instance.
func (h *Handler) fleetSampler(s *ratelimit.Sampler, what string) *ratelimit.Sampler {
	c, ok := h.app.store.(interface{ Client() redis.UniversalClient })
	if !ok {
		return s
	}
	cl, err := ratelimit.NewRedisClaimer(c.Client(), "loginguard:sample:"+what+":"+h.Realm+"|"+h.Source+"|"+h.PortalID+":")
	if err != nil {
		return s
	}
	return s.WithClaimer(cl, 0)
}

// provisionLimits builds the route's limiter (rate limits, allow and deny lists).
func (h *Handler) provisionLimits() error {
	rl := h.RateLimit
	interval := 10 * time.Second
	if rl != nil && rl.SampleInterval != 0 {
		interval = time.Duration(rl.SampleInterval)
	}
	// Every route samples its refusals (admin IP blocks too), limits or not;
	// with Redis state, the fleet shares one budget per route.
	h.sampler = h.fleetSampler(ratelimit.NewSampler(interval, 0), "refused")
	if rl == nil && len(h.Allow) == 0 && len(h.Deny) == 0 {
		return nil
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
	}{rl, h.Allow, h.Deny, h.Realm, h.PortalID, h.Source})
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
		return fmt.Errorf("rate_limit: %w", err)
	}
	h.limiter = val.(pooledLimiter).Limiter
	h.limiterKey = key
	return nil
}

// Cleanup releases the route's limiter.
func (h *Handler) Cleanup() error {
	h.stopFlush()
	if h.held {
		h.held = false
		defer h.app.letGo() // after the flush's last events
	}
	if h.limiterKey != "" {
		_, err := limiterPool.Delete(h.limiterKey)
		return err
	}
	return nil
}

// checkLimits applies the deny list and the rate limits. It reports whether the
// request was answered.
func (h *Handler) checkLimits(w http.ResponseWriter, r *http.Request, a *attempt) (bool, error) {
	if !a.ip.IsValid() {
		return false, nil
	}
	d, err := h.limiter.Check(r.Context(), a.ip, a.account)
	if err != nil {
		h.app.stateError("rate_limit", err)
		if h.app.OnStateError == "fail_closed" {
			w.Header().Set("Retry-After", "5")
			return true, h.refuse(w, a, state.Admission{}, event.UpstreamError, http.StatusServiceUnavailable, nil)
		}
		return false, nil
	}
	switch d.Verdict {
	case ratelimit.Denied:
		return true, h.refuseSampled(w, a, d, http.StatusForbidden)
	case ratelimit.Limited:
		d.Headers(w.Header())
		return true, h.refuseSampled(w, a, d, http.StatusTooManyRequests)
	case ratelimit.Allowed:
		d.Headers(w.Header())
	}
	return false, nil
}

// refuseSampled answers a denied, blocked or rate-limited attempt. Its event is emitted
// when the sampler lets it through; the metric counts every one.
func (h *Handler) refuseSampled(w http.ResponseWriter, a *attempt, d ratelimit.Decision, status int) error {
	h.app.countRefusal(h.source, event.RateLimited, a.monitor)
	a.ev.Reason = event.RateLimited
	a.span.AddEvent("loginguard.rate_limited", trace.WithAttributes(attribute.String("loginguard.scope", d.Scope)))
	emit, suppressed := h.sampler.AllowWith(d.Key, time.Now(), &refusal{a: *a, reason: event.RateLimited, scope: d.Scope})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if !emit {
		return nil
	}
	h.fail(a, event.RateLimited, 0)
	a.ev.Message = withCount(*a.ev.Message, suppressed, d.Scope)
	a.ev.Count = 1 + suppressed
	h.emitRefusal(a)
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
