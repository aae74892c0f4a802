package gateway

import (
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/ratelimit"
	"github.com/loginguard/loginguard/state"
)

// fleetSampler makes s claim its budget in Redis when the state is Redis, so
// that every instance together stores what one would: the route is named by
// its realm, source and portal, the same on every instance.
func (h *Route) fleetSampler(s *ratelimit.Sampler, what string) *ratelimit.Sampler {
	c, ok := h.app.Store().(interface{ Client() redis.UniversalClient })
	if !ok {
		return s
	}
	cl, err := ratelimit.NewRedisClaimer(c.Client(), "loginguard:sample:"+what+":"+h.Realm+"|"+h.Source+"|"+h.PortalID+":")
	if err != nil {
		return s
	}
	return s.WithClaimer(cl, 0)
}

// checkLimits applies the deny list and the rate limits. It reports whether the
// request was answered.
func (h *Route) checkLimits(w http.ResponseWriter, r *http.Request, a *attempt) (bool, error) {
	if !a.ip.IsValid() {
		return false, nil
	}
	d, err := h.limiter.Check(r.Context(), a.ip, a.account)
	if err != nil {
		h.app.StateError("rate_limit", err)
		if h.app.FailClosed() {
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
func (h *Route) refuseSampled(w http.ResponseWriter, a *attempt, d ratelimit.Decision, status int) error {
	h.app.CountRefusal(h.source, event.RateLimited, a.monitor)
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
