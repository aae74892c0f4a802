package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// Headers sets the rate-limit headers of a response from d:
// X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (the Unix
// time in seconds when the window ends, as ulule/limiter's own middleware
// writes it), and Retry-After (whole seconds, at least 1) when d is Limited.
// It sets nothing when no limit was counted (Denied, Skipped, or no limit
// configured).
func (d Decision) Headers(h http.Header) {
	if d.Limit <= 0 || (d.Verdict != Allowed && d.Verdict != Limited) {
		return
	}
	h.Set("X-RateLimit-Limit", strconv.FormatInt(d.Limit, 10))
	h.Set("X-RateLimit-Remaining", strconv.FormatInt(max(d.Remaining, 0), 10))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(d.Reset.Unix(), 10))
	if d.Verdict == Limited {
		h.Set("Retry-After", strconv.FormatInt(d.RetryAfter(time.Now()), 10))
	}
}

// RetryAfter returns the whole seconds from now until d.Reset, rounded up and
// at least 1: the value of the Retry-After header.
func (d Decision) RetryAfter(now time.Time) int64 {
	wait := d.Reset.Sub(now)
	secs := int64(wait / time.Second)
	if wait%time.Second > 0 {
		secs++
	}
	return max(secs, 1)
}
