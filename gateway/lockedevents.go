package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/ratelimit"
	"github.com/loginguard/loginguard/state"
)

// defaultLockedEvents is the per-account budget of LOCKED events per sample interval.
const defaultLockedEvents = 10

// LockedEvents is how many refusals of a locked account, per account and
// sample interval (rate_limit sample_interval), are stored one event each;
// past that, the first refusal of a later interval is one LOCKED event carrying
// how many were refused since. JSON: a number ≥ 1 or "all" (one event per
// refusal, the old behaviour). 0 means the default, 10.
type LockedEvents int

// LockedEventsAll is LockedEvents "all".
const LockedEventsAll LockedEvents = -1

// UnmarshalJSON accepts a number or "all".
func (n *LockedEvents) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte(`"all"`)) {
		*n = LockedEventsAll
		return nil
	}
	var v int
	if err := json.Unmarshal(b, &v); err != nil || v < 1 {
		return fmt.Errorf("lockout locked_events: want a number ≥ 1 or \"all\", got %s", b)
	}
	*n = LockedEvents(v)
	return nil
}

// MarshalJSON writes a number or "all".
func (n LockedEvents) MarshalJSON() ([]byte, error) {
	if n == LockedEventsAll {
		return []byte(`"all"`), nil
	}
	return json.Marshal(int(n))
}

// provisionLockedEvents builds the sampler of the route's LOCKED refusals
// (none for "all"). It shares the rate limits' sample interval.
func (h *Route) provisionLockedEvents() {
	n := h.Lockout.LockedEvents
	if n == 0 {
		n = defaultLockedEvents
		h.Lockout.LockedEvents = n
	}
	if n == LockedEventsAll {
		h.lockEvents = nil
		return
	}
	h.lockEvents = h.fleetSampler(ratelimit.NewSampler(h.SampleInterval, 0).WithBudget(int(n)), "locked")
}

// refuseLocked answers a locked account's attempt. Every refusal is counted by
// the metric; its event is stored when the account's budget allows, and a
// sampled event's message carries the number refused since the previous event.
// The answer is answerLocked's (refusal own or mimic); wait lets refusal mimic
// delay it like the portal's own wrong-password answer, counted from the
// moment the attempt would have been forwarded.
func (h *Route) refuseLocked(ctx context.Context, w http.ResponseWriter, a *attempt, adm state.Admission, wait bool) error {
	from := time.Now() // where the attempt would have been forwarded
	if h.lockEvents == nil {
		a.ev.FailureCount = adm.Failures
		h.fail(a, event.Locked, adm.Failures)
		h.app.CountRefusal(h.source, event.Locked, a.monitor)
		h.emitRefusal(a)
		h.answerLocked(ctx, w, a, from, wait)
		return nil
	}
	h.app.CountRefusal(h.source, event.Locked, a.monitor)
	a.ev.Reason, a.ev.FailureCount = event.Locked, adm.Failures
	emit, suppressed := h.lockEvents.AllowWith("locked:"+a.account, time.Now(), &refusal{a: *a, reason: event.Locked, failures: adm.Failures})
	if emit {
		a.ev.Count = 1 + suppressed
		a.ev.FailureCount = adm.Failures
		h.fail(a, event.Locked, adm.Failures)
		a.ev.Message = withCount(*a.ev.Message, suppressed, "")
		h.emitRefusal(a)
	}
	h.answerLocked(ctx, w, a, from, wait)
	return nil
}
