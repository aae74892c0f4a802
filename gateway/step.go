package gateway

import (
	"net/http"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/policy"
)

// stepTypes are the event types of the account steps (besides the login, the
// logout and the mfa code): the success's and the failure's. Only the steps
// that set a password (setsPassword) check one.
var stepTypes = map[string][2]event.Type{
	"register":        {event.UserCreated, event.UserCreateFailed},
	"password_change": {event.PasswordChanged, event.PasswordChangeFailed},
	"reset_confirm":   {event.PasswordReset, event.PasswordResetFailed},
	"mfa_enroll":      {event.UserMFAEnabled, event.UserMFAEnableFailed},
	"mfa_disable":     {event.UserMFADisabled, event.UserMFADisableFailed},
	"reset_request":   {event.PasswordResetRequested, event.PasswordResetRequestFailed},
}

// serveStep serves an account step (stepTypes): a registration, a password
// change, a reset's new password (these three set a password: the new one is
// checked against the breached-password set), an enrolment or removal of a
// second factor, a reset request; rate limits and the admin's IP blocks apply, and
// the portal's answer, judged by the route's rules, makes one event of the
// step's success or failure type. The account is the one the body names
// (the principal), else the owner of the session cookie the login route
// recorded. Steps are not counted towards an account's lock.
func (h *Route) serveStep(w http.ResponseWriter, r *http.Request, next Handler) error {
	types := stepTypes[h.Action]
	a, r, rw, passed := h.begin(w, r, next, "loginguard."+h.Action, types[1])
	defer h.endSpan(a)
	h.dropBreachedHeader(r)
	body, complete := readPrefix(r)
	req := passwordRequest(r, body, complete)
	if named, err := h.accounts(r.Context(), policy.Identify(*h.Principal, req).Candidates); err == nil && len(named) == 1 {
		h.setIdentity(a, named[0])
	} else if s, ok := h.sessionOf(r); ok {
		h.setEventIdentity(&a.ev, s.Principal, "")
		a.identity = s.Principal
	}

	if a.ip.IsValid() && h.app.IsBlocked(a.ip) {
		return passed(h.refuseSampled(rw, a, blockedDecision(a.ip), http.StatusForbidden))
	}
	if h.limiter != nil {
		if answered, err := h.checkLimits(rw, r, a); answered {
			return passed(err)
		}
	}
	if !complete {
		return passed(h.refuseUnread(rw, a, event.MissingPrincipal, "the body is over 64 KiB", http.StatusRequestEntityTooLarge))
	}
	if setsPassword(h.Action) {
		if answered, err := h.onBreached(rw, r, a, h.checkPassword(r.Context(), a, req)); answered {
			return passed(err)
		}
	}

	rec := &recorder{ResponseWriter: w, capture: h.captureRsp, holding: h.uniform != nil}
	sent := time.Now()
	err := next.ServeHTTP(rec, r)
	took := time.Since(sent)
	if err == nil {
		_ = http.NewResponseController(rec).Flush()
	}
	v := h.verdict(rec, err)
	if h.uniform != nil {
		h.uniformAnswer(r.Context(), a, v, err, rec, sent, took)
	}
	if v.Success && err == nil {
		a.ev.EventType = types[0]
		a.ev.EventDate = time.Now().UTC()
	} else {
		h.fail(a, v.Reason, 0)
		a.ev.EventType = types[1]
	}
	h.emit(a.ev)
	return err
}
