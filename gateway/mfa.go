package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/policy"
	"github.com/loginguard/loginguard/ratelimit"
	"github.com/loginguard/loginguard/state"
)

// The second factor (OWASP ASVS 6.6.3: one-time codes are rate limited).
//
// A login route with mfa_token reads the token of a login waiting for its
// second factor from the portal's answer and remembers the account behind
// it, in the state's sessions under their own hash (pendingHash): the code's
// request rarely names its account, only the token. The mfa route reads the
// token back, finds the account, and counts the portal's wrong codes twice,
// with the route's lockout (max_failures, window, duration):
//
//	per pending login  key tokenKey(realm, token): past max_failures the
//	                   pending login is void, its entry ended with status
//	                   mfaVoid; later codes for it, even a right one, are
//	                   refused before the portal with MFA_FAILED
//	per account        key AccountKey(realm+"|mfa", identity): past
//	                   max_failures the account's codes are refused with
//	                   LOCKED until the lock ends, on every pending login
//
// Neither key is the password login's (AccountKey(realm, identity)): an MFA
// lock does not lock the password login, nor the reverse.

// defaultMFATTL is how long a pending login's token is remembered.
const defaultMFATTL = 10 * time.Minute

// mfaVoid is the status that ends a pending login whose codes failed too
// often.
const mfaVoid = "mfa_failed"

// pendingHash is the state's key of a pending login's token: a session hash
// of its own namespace, never the token.
func pendingHash(token string) string { return HashSession("mfa:" + token) }

// tokenKey is the lockout key of one pending login's codes.
func tokenKey(realm, token string) string {
	return AccountKey(realm+"|mfa-token", pendingHash(token))
}

// mfaKey is the lockout key of an account's codes.
func mfaKey(realm, identity string) string { return AccountKey(realm+"|mfa", identity) }

// fillMFA fills the second factor's defaults.
func (h *Route) fillMFA() {
	if h.MFATTL == 0 {
		h.MFATTL = defaultMFATTL
	}
	if h.Action == "mfa" && h.MFAToken == nil {
		h.MFAToken = &policy.PrincipalSpec{JSONPointer: "/mfaToken", FormField: "mfaToken"}
	}
	if h.Uniform {
		h.uniform = new(mimic)
	}
}

// validateMFA checks the options of the second factor and of uniform.
func (h *Route) validateMFA() error {
	if h.MFATTL < 0 {
		return fmt.Errorf("mfa_ttl: must be positive")
	}
	if h.Uniform && h.Action != "reset_request" {
		return fmt.Errorf("uniform: only for action reset_request (action is %q)", h.Action)
	}
	t := h.MFAToken
	if t == nil {
		return nil
	}
	switch h.Action {
	case "login":
		if t.JSONPointer == "" || t.FormField != "" || t.Basic || t.Header != "" || t.XMLRPC != nil {
			return fmt.Errorf("mfa_token: on a login route, a JSON pointer into the portal's answer")
		}
	case "mfa":
		if t.JSONPointer == "" && t.FormField == "" && t.Header == "" {
			return fmt.Errorf("mfa_token: needs a JSON pointer, a form field or a header")
		}
		if t.Basic || t.XMLRPC != nil {
			return fmt.Errorf("mfa_token: basic and xmlrpc cannot carry a token")
		}
		if t.Header != "" && !validHeaderName(t.Header) {
			return fmt.Errorf("mfa_token header: %q is not a header name", t.Header)
		}
	default:
		return fmt.Errorf("mfa_token: only for login and mfa routes (action is %q)", h.Action)
	}
	if t.JSONPointer != "" {
		if err := policy.ValidPointer(t.JSONPointer); err != nil {
			return fmt.Errorf("mfa_token: %w", err)
		}
	}
	return nil
}

// rememberMFA keeps, when a login route's portal answer carries a pending
// login's token, the account behind the token's hash for MFATTL.
func (h *Route) rememberMFA(ctx context.Context, a *attempt, v policy.Verdict, rec *recorder) {
	if h.MFAToken == nil || a.identity == "" || !rec.capture || len(rec.body) == 0 {
		return
	}
	if !v.Success && v.Reason != event.MFARequired {
		return
	}
	token, ok := policy.LookupJSON(rec.body, h.MFAToken.JSONPointer)
	if !ok || token == "" {
		return
	}
	s := state.Session{Account: mfaKey(h.Realm, a.identity), Source: string(h.source), Principal: a.identity, PortalID: h.PortalID, Method: "mfa_pending"}
	if err := h.app.Store().PutSession(ctx, pendingHash(token), s, h.MFATTL); err != nil {
		h.app.StateError("put_session", err)
	}
}

// serveMFA serves a one-time code's check: the account is the pending
// login's, found by the token the request carries back; wrong codes are
// counted per pending login and per account (see the top of this file) and
// the portal's answer, judged by the route's rules, makes one MFA_SUCCESS
// (with mfaUsed) or MFA_FAILURE event.
func (h *Route) serveMFA(w http.ResponseWriter, r *http.Request, next Handler) error {
	a, r, rw, passed := h.begin(w, r, next, "loginguard.mfa", event.MFAFailure)
	defer h.endSpan(a)
	body, complete := readPrefix(r)
	req := passwordRequest(r, body, complete)
	req.Header = headerValues(r, h.MFAToken.Header)
	tokens := policy.Identify(*h.MFAToken, req).Candidates
	token := ""
	if len(tokens) == 1 {
		token = tokens[0]
	}
	void := false
	if token != "" {
		s, ok, err := h.app.Store().Session(r.Context(), pendingHash(token))
		switch {
		case err != nil:
			h.app.StateError("session", err)
		case ok:
			h.setEventIdentity(&a.ev, s.Principal, "")
			a.identity, a.account = s.Principal, s.Account
		case s.Ended():
			h.setEventIdentity(&a.ev, s.Principal, "")
			a.identity, a.account = s.Principal, s.Account
			void = s.Status == mfaVoid
		}
	}

	if a.ip.IsValid() && h.app.IsBlocked(a.ip) {
		return passed(h.refuseMFA(rw, a, blockedDecision(a.ip), http.StatusForbidden))
	}
	if h.limiter != nil {
		if answered, err := h.checkLimits(rw, r, a); answered {
			return passed(err)
		}
	}
	switch {
	case !complete:
		return passed(h.refuseMFAUnread(rw, a, "the body is over 64 KiB", http.StatusRequestEntityTooLarge))
	case len(tokens) > 1:
		return passed(h.refuseMFAUnread(rw, a, "more than one MFA token", http.StatusBadRequest))
	case token == "" && h.OnMissingPrincipal == "refuse":
		return passed(h.refuseMFAUnread(rw, a, "no MFA token", http.StatusBadRequest))
	case void:
		return passed(h.refuseMFAFailed(rw, a, h.Lockout.MaxFailures))
	}

	// The counters: the pending login's, then the account's.
	var keys []string
	if token != "" && !h.Lockout.Off {
		keys = append(keys, tokenKey(h.Realm, token))
		if a.identity != "" {
			keys = append(keys, mfaKey(h.Realm, a.identity))
		}
	}
	for i, key := range keys {
		adm, err := h.admit(r.Context(), state.Attempt{Account: key})
		switch {
		case err != nil && r.Context().Err() != nil:
			h.release(a)
			return nil
		case err != nil:
			h.app.StateError("admit", err)
			if h.app.FailClosed() {
				h.release(a)
				rw.Header().Set("Retry-After", "5")
				return passed(h.refuse(rw, a, adm, event.UpstreamError, http.StatusServiceUnavailable, nil))
			}
			continue
		case adm.Locked:
			h.app.StateOK()
			h.release(a)
			if i == 0 {
				h.voidPending(r.Context(), token)
				return passed(h.refuseMFAFailed(rw, a, adm.Failures))
			}
			return passed(h.refuseMFALocked(r.Context(), rw, a, adm))
		case adm.Busy():
			h.app.StateOK()
			h.release(a)
			rw.Header().Set("Retry-After", "1")
			a.ev.FailureCount = adm.Failures
			return passed(h.refuseMFA(rw, a, ratelimit.Decision{Scope: "account", Key: "busy:" + key}, http.StatusTooManyRequests))
		}
		h.app.StateOK()
		a.claims = append(a.claims, claim{account: key, identity: a.identity, spelling: key, adm: adm})
	}
	defer h.release(a)

	rec := &recorder{ResponseWriter: w, capture: h.captureRsp}
	err := next.ServeHTTP(rec, r)
	if err == nil {
		_ = http.NewResponseController(rec).Flush()
	}
	v := h.verdict(rec, err)
	h.judgedMFA(context.WithoutCancel(r.Context()), a, v, err, rec, token)
	return err
}

// judgedMFA records the portal's verdict on a code and emits its events.
func (h *Route) judgedMFA(ctx context.Context, a *attempt, v policy.Verdict, err error, rec *recorder, token string) {
	a.finished = true
	o := state.Uncounted
	switch {
	case v.Success && err == nil:
		o = state.Success
	case h.counted[reasonIndex(v.Reason)] || v.Reason == event.MFAFailed:
		o = state.CountedFailure
	}
	failures := 0
	var lock *event.Event
	for i, c := range a.claims {
		res, ok := h.finish(ctx, a, c, o)
		if !ok {
			continue
		}
		if i == 0 {
			failures = res.Failures
			if res.Locked {
				h.voidPending(ctx, token) // no code for this pending login any more
			}
		}
		if i == 1 && res.NewlyLocked {
			ev := h.lockEvent(a, a.identity, res)
			ev.Message = event.Str("The MFA step of account " + a.identity + " locked after " + strconv.Itoa(res.Failures) + " failed codes")
			lock = &ev
		}
	}
	if o == state.Success {
		a.ev.EventType = event.MFASuccess
		a.ev.EventDate = time.Now().UTC()
		a.ev.MFAUsed = true
		h.endPending(ctx, token)
		h.rememberSession(ctx, a, rec.Header())
	} else {
		h.fail(a, v.Reason, failures)
		a.ev.EventType = event.MFAFailure
		a.ev.FailureCount = failures
	}
	h.emit(a.ev)
	if lock != nil {
		h.emit(*lock)
	}
}

// voidPending ends a pending login whose codes failed too often.
func (h *Route) voidPending(ctx context.Context, token string) {
	if token == "" {
		return
	}
	if _, _, err := h.app.Store().EndSession(context.WithoutCancel(ctx), pendingHash(token), mfaVoid, time.Time{}); err != nil {
		h.app.StateError("end_session", err)
	}
}

// endPending forgets a pending login whose code was right: its token cannot
// be used again.
func (h *Route) endPending(ctx context.Context, token string) {
	if token == "" {
		return
	}
	if _, _, err := h.app.Store().EndSession(ctx, pendingHash(token), "mfa_passed", time.Time{}); err != nil {
		h.app.StateError("end_session", err)
	}
}

// refuseMFAFailed refuses a code for a void pending login: MFA_FAILED, with
// the lockout response.
func (h *Route) refuseMFAFailed(w http.ResponseWriter, a *attempt, failures int) error {
	return h.refuse(w, a, state.Admission{Failures: failures}, event.MFAFailed, h.Lockout.Status, h.lockBody)
}

// refuseMFALocked refuses a code of an account whose MFA step is locked.
func (h *Route) refuseMFALocked(ctx context.Context, w http.ResponseWriter, a *attempt, adm state.Admission) error {
	return h.refuseLocked(ctx, w, a, adm, true)
}

// refuseMFA refuses a code of a blocked, limited or busy client.
func (h *Route) refuseMFA(w http.ResponseWriter, a *attempt, d ratelimit.Decision, status int) error {
	return h.refuseSampled(w, a, d, status)
}

// refuseMFAUnread refuses a code whose token cannot be read.
func (h *Route) refuseMFAUnread(w http.ResponseWriter, a *attempt, why string, status int) error {
	return h.refuseUnread(w, a, event.MissingPrincipal, why, status)
}

// failureType is the event type of the route's failures and refusals:
// LOGIN_FAILURE on a login route, MFA_FAILURE on an mfa route, a step's own
// failure type on a step's route.
func (h *Route) failureType() event.Type {
	if h.Action == "mfa" {
		return event.MFAFailure
	}
	if t, ok := stepTypes[h.Action]; ok {
		return t[1]
	}
	return event.LoginFailure
}
