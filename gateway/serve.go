package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/policy"
	"github.com/loginguard/loginguard/ratelimit"
	"github.com/loginguard/loginguard/state"
)

// attempt is one login attempt on its way through the route.
type attempt struct {
	ev       event.Event
	account  string     // lockout key of the first account named; "" when none was read
	ip       netip.Addr // the client IP, parsed once (invalid when it is not an address)
	prefix   string     // client IP prefix, when per-IP counting or known IPs are on
	identity string     // email (portal) or username (manager), canonical
	claims   []claim    // the accounts the attempt is counted against, admitted
	calls    int        // login calls of an XML-RPC multicall (0: not one)
	finished bool
	monitor  bool       // the route is in monitor mode: refusals are recorded, not made
	span     trace.Span // of the attempt (a no-op one when telemetry is off)
}

// claim is one account an attempt is counted against, with its admission.
type claim struct {
	account  string
	identity string
	spelling string // the spelling's own lockout key, before aliases
	adm      state.Admission
}

// failuresBefore is the first account's failures counted before the attempt.
func (a *attempt) failuresBefore() int {
	if len(a.claims) == 0 {
		return 0
	}
	return a.claims[0].adm.Failures
}

// begin starts an attempt on r: its span (name) and its event (of type t,
// until a verdict says otherwise), with the client IP parsed. Refusals
// answer on rw: the client in enforce mode; in monitor mode nobody, and
// passed, which finishes every refusal, lets the attempt go on to the
// portal. r2 is r with the span. The caller ends the span (endSpan).
func (h *Route) begin(w http.ResponseWriter, r *http.Request, next Handler, name string, t event.Type) (a *attempt, r2 *http.Request, rw http.ResponseWriter, passed func(error) error) {
	r, span := h.tel.StartSpan(r, name)
	a = &attempt{ev: h.newEvent(r, t), span: span, monitor: h.Mode == "monitor"}
	rw = w
	if a.monitor {
		rw = &unanswered{header: http.Header{}}
	}
	passed = func(err error) error {
		if !a.monitor {
			return err
		}
		return next.ServeHTTP(w, r)
	}
	if ip, err := netip.ParseAddr(a.ev.RemoteAddress); err == nil {
		a.ip = ip.Unmap().WithZone("")
	}
	return a, r, rw, passed
}

// endSpan ends an attempt's span with its outcome.
func (h *Route) endSpan(a *attempt) { h.tel.EndSpan(a.span, &a.ev, a.identity) }

func (h *Route) serveLogin(w http.ResponseWriter, r *http.Request, next Handler) error {
	a, r, rw, passed := h.begin(w, r, next, "loginguard.login", event.LoginFailure)
	defer h.endSpan(a)
	h.dropBreachedHeader(r)
	body, complete := readPrefix(r)
	req := passwordRequest(r, body, complete)
	req.Header = headerValues(r, h.Principal.Header)
	id := policy.Identify(*h.Principal, req)
	if id.NotLogin {
		return next.ServeHTTP(w, r)
	}
	named, err := h.accounts(r.Context(), id.Candidates)
	if err != nil {
		h.app.StateError("alias", err)
		if h.app.FailClosed() {
			rw.Header().Set("Retry-After", "5")
			return passed(h.refuse(rw, a, state.Admission{}, event.UpstreamError, http.StatusServiceUnavailable, nil))
		}
	}
	if len(named) > 0 {
		h.setIdentity(a, named[0])
	}

	if a.ip.IsValid() && h.app.IsBlocked(a.ip) {
		return passed(h.refuseSampled(rw, a, blockedDecision(a.ip), http.StatusForbidden))
	}
	if h.limiter != nil {
		if answered, err := h.checkLimits(rw, r, a); answered {
			return passed(err)
		}
	}
	switch {
	case !complete:
		return passed(h.refuseUnread(rw, a, event.MissingPrincipal, "the body is over 64 KiB", http.StatusRequestEntityTooLarge))
	case len(named) == 0 && h.OnMissingPrincipal == "refuse":
		return passed(h.refuseUnread(rw, a, event.MissingPrincipal, id.Missing, http.StatusBadRequest))
	case len(named) > 1 || (len(named) == 1 && id.Unreadable != ""):
		a.ev.Candidates = identities(named)
		if h.OnAmbiguous == "refuse" {
			return passed(h.refuseAmbiguous(r.Context(), rw, a, named, ambiguity(id)))
		}
	case len(named) == 1 && (id.Logins > 1 || strings.HasPrefix(id.Shape, "an XML-RPC system.multicall")):
		if h.Multicall == "refuse" {
			return passed(h.refuseUnread(rw, a, event.AmbiguousPrincipal, id.Shape, http.StatusBadRequest))
		}
		a.calls = id.Logins
		for range id.Logins - 1 {
			named = append(named, named[0])
		}
	}
	if answered, err := h.onBreached(rw, r, a, h.checkPassword(r.Context(), a, req)); answered {
		return passed(err)
	}
	if len(named) > 0 && !h.Lockout.Off {
		if h.statePol.PerPrefixMaxFailures > 0 || h.statePol.KnownPrefixTTL > 0 {
			a.prefix = ipPrefix(a.ip, h.Lockout.IPv4Prefix, h.Lockout.IPv6Prefix)
		}
		if answered, err := h.admitAll(r.Context(), rw, a, named); answered {
			return passed(err)
		}
		defer h.release(a)
	}

	rec := &recorder{ResponseWriter: w, capture: h.captureRsp, holding: h.hold}
	if h.Lockout.RemainingHeader != "" && a.account != "" && !h.Lockout.Off {
		rec.remainingHeader = h.Lockout.RemainingHeader
		rec.remaining = max(0, h.Lockout.MaxFailures-a.failuresBefore()-1)
	}
	sent := time.Now()
	err = next.ServeHTTP(rec, r)
	took := time.Since(sent)
	h.tel.UpstreamTook(took)
	if err == nil && !rec.holding {
		// The client has its answer before the state and event work below.
		_ = http.NewResponseController(rec).Flush()
	}

	v := h.verdict(rec, err)
	h.learnRefusal(a, v, err, rec, took)
	if err == nil {
		h.rememberMFA(context.WithoutCancel(r.Context()), a, v, rec) // before the client has the token
	}
	h.judged(r.Context(), a, v, rec)
	if rec.holding {
		rec.release()
	}
	return err
}

// verdict judges the portal's answer to a forwarded request by the route's
// rules: the status the client got (with err, the handlers' error, the
// status it carries, else 502). An error below 500 (the client went away,
// say) is UPSTREAM_ERROR, whatever the rules say.
func (h *Route) verdict(rec *recorder, err error) policy.Verdict {
	status := rec.status
	if err != nil {
		if h.errorStatus != nil && rec.status == 0 {
			status = h.errorStatus(err)
		}
		if status == 0 {
			status = http.StatusBadGateway
		}
	} else if status == 0 {
		status = http.StatusOK
	}
	v := h.classifier.Classify(policy.Response{Status: status, Header: rec.Header(), Body: rec.body})
	if err != nil && status < 500 {
		v = policy.Verdict{Reason: event.UpstreamError, Rule: -1}
	}
	return v
}

// headerValues returns the values of the request header name ("" for none).
func headerValues(r *http.Request, name string) []string {
	if name == "" {
		return nil
	}
	return r.Header.Values(name)
}

// admitAll takes a slot for every account the attempt names, in order. When one
// is locked or has no failure left, the slots taken are given back and the
// attempt is answered; it reports whether it was.
func (h *Route) admitAll(ctx context.Context, w http.ResponseWriter, a *attempt, named []named) (bool, error) {
	for i, n := range named {
		at := state.Attempt{Account: n.account, Prefix: a.prefix}
		var adm state.Admission
		var err error
		if i > 0 && n.account == named[0].account {
			// Another call of one multicall: its own slots are what it would wait on.
			adm, err = h.app.Store().Admit(ctx, at, h.statePol)
		} else {
			adm, err = h.admit(ctx, at)
		}
		switch {
		case err != nil && ctx.Err() != nil:
			// The client went away while its attempt waited: no outage of the
			// state, and no attempt to record (nothing reached the portal).
			h.release(a)
			return true, nil
		case err != nil:
			h.app.StateError("admit", err)
			if h.app.FailClosed() {
				h.release(a)
				w.Header().Set("Retry-After", "5")
				return true, h.refuse(w, a, adm, event.UpstreamError, http.StatusServiceUnavailable, nil)
			}
			// fail open: the attempt goes through uncounted for this account.
			continue
		case adm.Locked:
			h.app.StateOK()
			h.release(a)
			if i > 0 && n.account != named[0].account {
				h.setIdentity(a, n) // the event names the account that is locked
			}
			return true, h.refuseLocked(ctx, w, a, adm, true)
		case adm.Busy():
			// More attempts at once than the account has failures left: a
			// flood, sampled like the rate limits' refusals.
			h.app.StateOK()
			h.release(a)
			w.Header().Set("Retry-After", "1")
			a.ev.FailureCount = adm.Failures
			return true, h.refuseSampled(w, a, ratelimit.Decision{Scope: "account", Key: "busy:" + n.account}, http.StatusTooManyRequests)
		}
		h.app.StateOK()
		a.claims = append(a.claims, claim{account: n.account, identity: n.identity, spelling: n.spelling, adm: adm})
	}
	return false, nil
}

// admit takes a slot for account, waiting up to AdmissionWait while the account
// is busy with attempts in flight.
func (h *Route) admit(ctx context.Context, at state.Attempt) (state.Admission, error) {
	store := h.app.Store()
	start := time.Now()
	adm, err := store.Admit(ctx, at, h.statePol)
	h.app.Waited("admit", start)
	if err != nil || !adm.Busy() {
		return adm, err
	}
	deadline := time.Now().Add(h.Lockout.AdmissionWait)
	pause := 2 * time.Millisecond
	for time.Now().Before(deadline) {
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return adm, nil
		case <-t.C:
		}
		start = time.Now()
		adm, err = store.Admit(ctx, at, h.statePol)
		h.app.Waited("admit", start)
		if err != nil || !adm.Busy() {
			return adm, err
		}
		pause = min(2*pause, 20*time.Millisecond)
	}
	return adm, nil
}

// release gives an admitted attempt's slots back when the attempt ended without
// a verdict (refused on a later account, or a panic further down the chain).
func (h *Route) release(a *attempt) {
	if a.finished {
		return
	}
	a.finished = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range a.claims {
		if _, err := h.app.Store().Finish(ctx, state.Attempt{Account: c.account, Prefix: a.prefix}, c.adm.Slot, state.Uncounted, h.statePol); err != nil {
			h.app.StateError("finish", err)
		}
	}
}

// emitRefusal emits the event of a refused attempt; in monitor mode it says
// the refusal was not made.
func (h *Route) emitRefusal(a *attempt) {
	ev := a.ev
	if a.monitor {
		ev.WouldRefuse = ev.Reason
	}
	h.emit(ev)
}

// unanswered is where a route in monitor mode writes the refusals it does not
// make.
type unanswered struct{ header http.Header }

func (u *unanswered) Header() http.Header         { return u.header }
func (u *unanswered) Write(b []byte) (int, error) { return len(b), nil }
func (u *unanswered) WriteHeader(int)             {}

// refuse answers an attempt without letting it reach the portal.
func (h *Route) refuse(w http.ResponseWriter, a *attempt, adm state.Admission, reason event.Reason, status int, body []byte) error {
	a.ev.FailureCount = adm.Failures
	h.fail(a, reason, adm.Failures)
	h.app.CountRefusal(h.source, reason, a.monitor)
	h.emitRefusal(a)
	h.writeOwnRefusal(w, status, body)
	return nil
}

// judged records the portal's verdict on an attempt and emits its events.
func (h *Route) judged(ctx context.Context, a *attempt, v policy.Verdict, rec *recorder) {
	// A client that hangs up must not keep its failure from being counted.
	ctx = context.WithoutCancel(ctx)
	var target string // the account the portal's answer revealed, for aliases
	learned := false
	if h.Aliases != nil && len(a.claims) > 0 {
		target, learned = h.learnedName(v, rec)
	}
	if learned && v.Success {
		if locked, name := h.learnedLocked(ctx, a, target); locked {
			// The portal let in a spelling of a locked account: the client
			// never gets the session.
			h.release(a)
			var rw http.ResponseWriter = &unanswered{header: http.Header{}}
			if !a.monitor {
				rec.discard()
				rw = rec.ResponseWriter
			}
			if !strings.HasPrefix(name, accountIDPrefix) {
				sent := a.ev.SentAs
				if sent == "" {
					sent = a.identity
				}
				h.setIdentity(a, named{account: a.claims[0].account, identity: name, sent: sent})
			}
			// The portal took its time already: no delay before the answer.
			_ = h.refuseLocked(ctx, rw, a, state.Admission{Locked: true, Failures: h.Lockout.MaxFailures}, false)
			if !a.monitor {
				h.app.Logger().Warn("refused a successful login of a locked account's alias", "alias", a.identity, "account", name)
			}
			return
		}
	}
	verdicts := h.verdicts(a, v, rec)
	a.finished = true
	type locked struct {
		c   claim
		res state.Result
	}
	var newly []locked
	results := make([]state.Result, len(a.claims))
	for i, c := range a.claims {
		res, ok := h.finish(ctx, a, c, h.outcome(a, verdicts[i]))
		results[i] = res
		if ok && res.NewlyLocked {
			newly = append(newly, locked{c, res})
		}
	}
	if learned && a.calls == 0 {
		if c := h.learnAlias(ctx, a, target); c != nil && !v.Success && h.counted[reasonIndex(v.Reason)] {
			// The failure counts against the account behind the spelling too.
			if res, ok := h.countAgainst(ctx, a, *c); ok && res.NewlyLocked {
				newly = append(newly, locked{*c, res})
			}
		}
	}

	events := 1
	if a.calls > 0 {
		events = len(a.claims)
	}
	for i := range events {
		ev := &a.ev // the attempt's span reads the first
		if i > 0 {
			cp := a.ev
			cp.ID = event.NewID()
			ev = &cp
		}
		vi := v
		failures := a.failuresBefore()
		if i < len(verdicts) {
			vi = verdicts[i]
			failures = results[i].Failures
			if failures == 0 && !vi.Success {
				failures = a.claims[i].adm.Failures
			}
		}
		h.emitVerdict(ctx, a, ev, vi, failures, rec)
	}
	for _, l := range newly {
		lock := h.lockEvent(a, l.c.identity, l.res)
		a.span.AddEvent("loginguard.account_locked", trace.WithAttributes(attribute.Int("loginguard.failure_count", l.res.Failures)))
		h.emit(lock)
	}
}

// emitVerdict fills ev with verdict v and emits it.
func (h *Route) emitVerdict(ctx context.Context, a *attempt, ev *event.Event, v policy.Verdict, failures int, rec *recorder) {
	if v.Success {
		ev.EventType = event.LoginSuccess
		ev.Reason, ev.Message, ev.ErrorType = "", nil, nil
		if rec.capture && len(rec.body) > 0 {
			if s, ok := policy.LookupJSON(rec.body, h.AccountID); ok && h.AccountID != "" {
				ev.AccountID = event.Str(policy.Clean(s))
			}
			if s, ok := policy.LookupJSON(rec.body, h.DisplayName); ok && h.DisplayName != "" {
				ev.DisplayName = event.Str(policy.Clean(s))
			}
		}
		if a.account == "" {
			// The portal let in someone the gateway could not name: an alert.
			ev.Reason = event.MissingPrincipal
		}
		h.rememberSession(ctx, a, rec.Header())
	} else {
		ev.FailureCount = failures
		msg, errType := policy.Describe(v.Reason, h.source, a.identity, failures)
		ev.EventType, ev.Reason, ev.Message, ev.ErrorType = event.LoginFailure, v.Reason, &msg, &errType
	}
	h.app.CountAttempt(h.source, v.Success, v.Reason)
	h.emit(*ev)
}

// outcome is what a verdict means for the lockout state.
func (h *Route) outcome(a *attempt, v policy.Verdict) state.Outcome {
	switch {
	case v.Success:
		return state.Success
	case a.account != "" && h.counted[reasonIndex(v.Reason)]:
		return state.CountedFailure
	}
	return state.Uncounted
}

// verdicts returns the verdict for each claim: the attempt's, or for an XML-RPC
// multicall each call's, read from the portal's answer (a fault 403 is a wrong
// password, another fault an error, a result a success), failures first.
func (h *Route) verdicts(a *attempt, v policy.Verdict, rec *recorder) []policy.Verdict {
	out := make([]policy.Verdict, len(a.claims))
	for i := range out {
		out[i] = v
	}
	if a.calls == 0 || len(a.claims) == 0 {
		return out
	}
	faults, ok := policy.XMLRPCResults(rec.body)
	if !ok {
		return out // the whole multicall failed: each call with it
	}
	var bad, other, good int
	for _, f := range faults {
		switch f {
		case 0:
			good++
		case 403:
			bad++
		default:
			other++
		}
	}
	for i := range out {
		switch {
		case i < bad:
			out[i] = policy.Verdict{Reason: event.BadCredentials, Rule: -1}
		case i < bad+other:
			out[i] = policy.Verdict{Reason: event.Unknown, Rule: -1}
		case i < bad+other+good:
			out[i] = policy.Verdict{Success: true, Rule: -1}
		default:
			out[i] = policy.Verdict{Reason: event.Unknown, Rule: -1}
		}
	}
	return out
}

// finish records one claim's outcome; ok is false when the state failed or the
// outcome was recorded without waiting for its result.
func (h *Route) finish(ctx context.Context, a *attempt, c claim, o state.Outcome) (state.Result, bool) {
	at := state.Attempt{Account: c.account, Prefix: a.prefix}
	store := h.app.Store()
	if as, ok := store.(state.AsyncFinisher); ok && o != state.CountedFailure {
		// Nothing needs the result of a success or an uncounted failure (the
		// event keeps the count seen at admission): the request does not wait.
		as.FinishAsync(ctx, at, c.adm.Slot, o, h.statePol, h.finishDone)
		return state.Result{}, false
	}
	start := time.Now()
	r, err := store.Finish(ctx, at, c.adm.Slot, o, h.statePol)
	h.app.Waited("finish", start)
	if err != nil {
		h.app.StateError("finish", err)
		return state.Result{}, false
	}
	return r, true
}

func lockMessage(identity string, failures int, res state.Result) string {
	until := "until unlocked by an admin"
	if !res.LockedUntil.IsZero() {
		until = "until " + res.LockedUntil.UTC().Format(event.DateLayout)
	}
	return "Account " + identity + " locked after " + strconv.Itoa(failures) + " failed login attempts " + until
}

// fail fills the failure fields of an attempt's event.
func (h *Route) fail(a *attempt, reason event.Reason, failures int) {
	msg, errType := policy.Describe(reason, h.source, a.identity, failures)
	a.ev.EventType = h.failureType()
	a.ev.Reason = reason
	a.ev.Message = &msg
	a.ev.ErrorType = &errType
}

func (h *Route) serveLogout(w http.ResponseWriter, r *http.Request, next Handler) error {
	hash := h.sessionHash(r)
	r, span := h.tel.StartSpan(r, "loginguard.logout")
	rec := &recorder{ResponseWriter: w}
	err := next.ServeHTTP(rec, r)
	if err != nil || rec.status >= 400 {
		span.End()
		return err
	}
	ev := h.newEvent(r, event.Logout)
	defer func() { h.tel.EndSpan(span, &ev, identityOf(ev)) }()
	if hash != "" {
		s, ok, serr := h.app.Store().TakeSession(r.Context(), hash)
		if serr != nil {
			h.app.StateError("take_session", serr)
		} else if ok {
			ev.SessionStatus, ev.SessionID = state.SessionCompleted, SessionID(hash)
			if s.Source == string(event.SourceManager) {
				ev.Source = event.SourceManager
				ev.Principal = event.Str(s.Principal)
				ev.PortalID = nil
			} else {
				ev.Source = event.SourcePortal
				ev.Email = event.Str(s.Principal)
				ev.PortalID = event.Str(s.PortalID)
			}
		}
	}
	h.app.CountLogout(ev.Source)
	h.emit(ev)
	return nil
}

// sessionHash returns the hash of the route's session cookie in r, "" when r
// carries none.
func (h *Route) sessionHash(r *http.Request) string {
	if h.SessionCookie == "" {
		return ""
	}
	for _, c := range r.Cookies() {
		if c.Value != "" && CookieNameMatches(h.SessionCookie, c.Name) {
			return HashSession(c.Value)
		}
	}
	return ""
}

// sessionOf returns the session the login route recorded for r's session
// cookie.
func (h *Route) sessionOf(r *http.Request) (state.Session, bool) {
	hash := h.sessionHash(r)
	if hash == "" {
		return state.Session{}, false
	}
	s, ok, err := h.app.Store().Session(r.Context(), hash)
	if err != nil {
		h.app.StateError("session", err)
	}
	return s, ok
}

// blockedDecision is the sampling key of the refusals of an IP an admin blocked.
func blockedDecision(ip netip.Addr) ratelimit.Decision {
	return ratelimit.Decision{Scope: "blocked", Key: "blocked:" + ip.String()}
}

// rememberSession keeps a hash of the session cookie a successful login set, so
// that the logout can be attributed.
func (h *Route) rememberSession(ctx context.Context, a *attempt, hdr http.Header) {
	if h.SessionCookie == "" || a.identity == "" {
		return
	}
	for _, line := range hdr.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil || !CookieNameMatches(h.SessionCookie, c.Name) || c.Value == "" || c.MaxAge < 0 {
			continue
		}
		s := state.Session{Account: a.account, Source: string(h.source), Principal: a.identity, PortalID: h.PortalID,
			LoginAt: time.Now().UTC(), Prefix: ipPrefix(a.ip, h.Lockout.IPv4Prefix, h.Lockout.IPv6Prefix), Method: h.Entry}
		if h.asn != nil && a.ip.IsValid() {
			s.ASN = uint32(h.asn(a.ip.String()))
		}
		hash := HashSession(c.Value)
		if err := h.app.Store().PutSession(ctx, hash, s, h.SessionTTL); err != nil {
			h.app.StateError("put_session", err)
			return
		}
		if h.SingleSession {
			h.endOlderSessions(ctx, a.account, hash)
		}
		return
	}
}

// endOlderSessions ends the account's live sessions but keep (single_session)
// with status new_login, a SESSION_ENDED event each.
func (h *Route) endOlderSessions(ctx context.Context, account, keep string) {
	hashes, err := h.app.Store().AccountSessions(ctx, account)
	if err != nil {
		h.app.StateError("account_sessions", err)
		return
	}
	for _, old := range hashes {
		if old == keep {
			continue
		}
		s, ended, err := h.app.Store().EndSession(ctx, old, state.SessionNewLogin, time.Time{})
		if err != nil {
			h.app.StateError("end_session", err)
			continue
		}
		if ended {
			h.emit(SessionEvent(old, s, event.SessionEnded, "Session ended: a new login of the account"))
		}
	}
}

// SessionEvent is the event of a session (hash, its cookie's hash): its
// account's source, principal or email and portal, dated s.EndedAt when the
// session ended, else now; sessionStatus is s.Status.
func SessionEvent(hash string, s state.Session, t event.Type, msg string) event.Event {
	ev := event.Event{ID: event.NewID(), EventType: t, EventDate: time.Now().UTC(), Message: event.Str(msg),
		SessionStatus: s.Status, SessionID: SessionID(hash), EntryMethod: s.Method}
	if !s.EndedAt.IsZero() {
		ev.EventDate = s.EndedAt.UTC()
	}
	if s.Source == string(event.SourceManager) {
		ev.Source, ev.Principal = event.SourceManager, event.Str(s.Principal)
	} else {
		ev.Source, ev.Email, ev.PortalID = event.SourcePortal, event.Str(s.Principal), event.Str(s.PortalID)
	}
	return ev
}

// SessionID is what a session's events name it by: a prefix of its cookie
// hash's own hash, so that no event carries what the state is keyed by.
func SessionID(hash string) string {
	if hash == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(hash))
	return hex.EncodeToString(sum[:8])
}

// CookieNameMatches reports whether name matches pattern: equal, or for a
// pattern ending in "*", starting with the rest.
func CookieNameMatches(pattern, name string) bool {
	if prefix, wild := strings.CutSuffix(pattern, "*"); wild {
		return strings.HasPrefix(name, prefix)
	}
	return name == pattern
}

// HashSession is what loginguard keeps of a session cookie: never the value.
func HashSession(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// newEvent starts an event for request r.
func (h *Route) newEvent(r *http.Request, t event.Type) event.Event {
	ev := event.Event{
		ID:            event.NewID(),
		Source:        h.source,
		EventDate:     time.Now().UTC(),
		EventType:     t,
		RemoteAddress: h.clientIP(r),
		UserAgent:     policy.Clean(r.UserAgent()),
		Host:          policy.Clean(r.Host),
		Path:          policy.Clean(r.URL.Path),
		TraceID:       traceID(r.Header.Get("Traceparent")),
	}
	// The trace of the request's span (Caddy's tracing, or the gateway's own).
	if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
		ev.TraceID = sc.TraceID().String()
	}
	if h.source == event.SourcePortal {
		ev.PortalID = event.Str(h.PortalID)
	}
	if h.Action == "login" {
		ev.EntryMethod = h.Entry
	}
	return ev
}

func (h *Route) emit(ev event.Event) { h.pipe.EmitTo(ev, h.route) }

// ipPrefix returns the prefix of ip that makes one client ("" when ip is not
// an address): IPv4 to v4 bits, IPv6 to v6 bits.
func ipPrefix(ip netip.Addr, v4, v6 int) string {
	bits := v6
	if ip.Is4() {
		bits = v4
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// traceID returns the trace id of a W3C traceparent header, or "".
func traceID(tp string) string {
	// version "-" trace-id(32 hex) "-" parent-id(16 hex) "-" flags(2 hex)
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' {
		return ""
	}
	id := tp[3:35]
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return ""
		}
	}
	if id == "00000000000000000000000000000000" {
		return ""
	}
	return id
}

// identityOf is the email or the principal of ev ("" when it has none).
func identityOf(ev event.Event) string {
	if ev.Email != nil {
		return *ev.Email
	}
	if ev.Principal != nil {
		return *ev.Principal
	}
	return ""
}
