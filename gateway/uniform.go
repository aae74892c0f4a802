package gateway

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/policy"
)

// Uniform answers of a reset_request route (option uniform): a portal that
// answers a reset request for an unknown account otherwise than for a known
// one (404 USER_NOT_FOUND against 200 "sent") tells anyone which accounts
// exist. The route learns, as refusal mimic does (mimic.go), the portal's
// most recent success answer (status, headers but Set-Cookie, Date and the
// framing, body) and the latencies of its successes; an answer the rules
// judge ACCOUNT_NOT_FOUND is held and replaced by the learned success, sent
// at the time drawn from those latencies. Until a success is seen, the
// portal's own answer goes through. The event keeps the portal's verdict.
// A route in monitor mode learns but replaces nothing.

// uniformKey is the one key a uniform route keeps its success answer under:
// the route's most recent, whatever the account. A portal whose success
// answer names the account cannot be made uniform this way (its answers
// differ between known accounts already).
const uniformKey = ""

// uniformAnswer learns from a success, or sends the learned success in place
// of an unknown account's answer; every other answer is released as it is.
// rec holds the portal's answer; sent is when the request was forwarded and
// took how long the portal took.
func (h *Route) uniformAnswer(ctx context.Context, a *attempt, v policy.Verdict, err error, rec *recorder, sent time.Time, took time.Duration) {
	held := rec.holding
	switch {
	case err != nil || !held || rec.over || !rec.capture:
	case v.Success && rec.status >= 200 && rec.status < 300:
		h.uniform.learn(uniformKey, rec.status, rec.Header(), rec.body, took, h.Lockout.RemainingHeader)
	case v.Reason == event.AccountNotFound && !a.monitor:
		ans := h.uniform.answer(uniformKey)
		if ans == nil {
			break
		}
		own := ownHeaders(rec.Header())
		rec.discard()
		if d, ok := h.uniform.latency(); ok {
			if !h.uniform.sleepUntil(ctx, sent.Add(d)) {
				return // the client went away: it gets nothing
			}
		}
		writeLearned(rec.ResponseWriter, ans, "", own)
		_ = http.NewResponseController(rec.ResponseWriter).Flush()
		return
	}
	if held {
		_ = rec.release()
		_ = http.NewResponseController(rec.ResponseWriter).Flush()
	}
}

// ownHeaders returns the rate limits' headers of this request (the gateway's
// own, set before forwarding), which the replayed success carries in place
// of those of the request it was learned from.
func ownHeaders(h http.Header) http.Header {
	own := http.Header{}
	for k, vs := range h {
		if strings.HasPrefix(k, "X-Ratelimit-") {
			own[k] = vs
		}
	}
	return own
}
