package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/policy"
	"github.com/loginguard/loginguard/ratelimit"
	"github.com/loginguard/loginguard/state"
)

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !h.isAttempt(r.Method) {
		return next.ServeHTTP(w, r)
	}
	if h.Action == "logout" {
		return h.serveLogout(w, r, next)
	}
	return h.serveLogin(w, r, next)
}

// attempt is one login attempt on its way through the handler.
type attempt struct {
	ev       event.Event
	account  string     // lockout key; "" when no principal was read
	ip       netip.Addr // the client IP, parsed once (invalid when it is not an address)
	prefix   string     // client IP prefix, when per-IP counting or known IPs are on
	identity string     // email (portal) or username (manager)
	adm      state.Admission
	admitted bool
	finished bool
	span     trace.Span // of the attempt (a no-op one when telemetry is off)
}

func (h *Handler) serveLogin(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	r, span := h.app.tel.startSpan(r, "loginguard.login")
	a := &attempt{ev: h.newEvent(r, event.LoginFailure), span: span}
	defer func() { h.app.tel.endSpan(span, &a.ev, a.identity) }()
	if ip, err := netip.ParseAddr(a.ev.RemoteAddress); err == nil {
		a.ip = ip.Unmap().WithZone("")
	}
	prefix, complete := readPrefix(r)
	if p, ok := policy.Extract(*h.Principal, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"), prefix, complete); ok {
		h.setIdentity(a, p)
	}

	if a.ip.IsValid() && h.app.isBlocked(a.ip) {
		return h.refuseSampled(w, a, ratelimit.Decision{Scope: "blocked", Key: "blocked:" + a.ip.String()}, http.StatusForbidden)
	}
	if h.limiter != nil {
		if answered, err := h.checkLimits(w, r, a); answered {
			return err
		}
	}
	if a.account != "" && !h.Lockout.Off {
		if h.statePol.PerPrefixMaxFailures > 0 || h.statePol.KnownPrefixTTL > 0 {
			a.prefix = ipPrefix(a.ip, h.Lockout.IPv4Prefix, h.Lockout.IPv6Prefix)
		}
		adm, err := h.admit(r.Context(), state.Attempt{Account: a.account, Prefix: a.prefix})
		switch {
		case err != nil:
			h.app.stateError("admit", err)
			if h.app.OnStateError == "fail_closed" {
				w.Header().Set("Retry-After", "5")
				return h.refuse(w, a, adm, event.UpstreamError, http.StatusServiceUnavailable, nil)
			}
			// fail open: the attempt goes through uncounted and is reported as usual.
		case adm.Locked:
			h.app.stateOK()
			return h.refuseLocked(w, a, adm)
		case adm.Busy():
			// More attempts at once than the account has failures left: a
			// flood, sampled like the rate limits' refusals.
			h.app.stateOK()
			w.Header().Set("Retry-After", "1")
			a.ev.FailureCount = adm.Failures
			return h.refuseSampled(w, a, ratelimit.Decision{Scope: "account", Key: "busy:" + a.account}, http.StatusTooManyRequests)
		default:
			h.app.stateOK()
			a.adm, a.admitted = adm, true
			defer h.release(a)
		}
	}

	rec := &recorder{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, capture: h.captureRsp}
	if h.Lockout.RemainingHeader != "" && a.account != "" && !h.Lockout.Off {
		rec.remainingHeader = h.Lockout.RemainingHeader
		rec.remaining = max(0, h.Lockout.MaxFailures-a.adm.Failures-1)
	}
	sent := time.Now()
	err := next.ServeHTTP(rec, r)
	h.app.tel.upstreamTook(time.Since(sent))
	if err == nil {
		// The client has its answer before the state and event work below.
		_ = http.NewResponseController(rec).Flush()
	}

	status := rec.status
	if err != nil {
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && rec.status == 0 {
			status = he.StatusCode
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
	h.judged(r.Context(), a, v, rec)
	return err
}

// admit takes a slot for account, waiting up to AdmissionWait while the account
// is busy with attempts in flight.
func (h *Handler) admit(ctx context.Context, at state.Attempt) (state.Admission, error) {
	store := h.app.Store()
	start := time.Now()
	adm, err := store.Admit(ctx, at, h.statePol)
	h.app.waited(h.app.metrics.admitWait, "admit", start)
	if err != nil || !adm.Busy() {
		return adm, err
	}
	deadline := time.Now().Add(time.Duration(h.Lockout.AdmissionWait))
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
		h.app.waited(h.app.metrics.admitWait, "admit", start)
		if err != nil || !adm.Busy() {
			return adm, err
		}
		pause = min(2*pause, 20*time.Millisecond)
	}
	return adm, nil
}

// release gives an admitted attempt's slot back when the attempt ended without
// a verdict (a panic further down the chain).
func (h *Handler) release(a *attempt) {
	if a.finished {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.app.Store().Finish(ctx, state.Attempt{Account: a.account, Prefix: a.prefix}, a.adm.Slot, state.Uncounted, h.statePol); err != nil {
		h.app.stateError("finish", err)
	}
}

// refuse answers an attempt without letting it reach the portal.
func (h *Handler) refuse(w http.ResponseWriter, a *attempt, adm state.Admission, reason event.Reason, status int, body []byte) error {
	a.ev.FailureCount = adm.Failures
	h.fail(a, reason, adm.Failures)
	h.app.countRefusal(h.source, reason)
	h.emit(a.ev)
	if h.Lockout.RemainingHeader != "" {
		w.Header().Set(h.Lockout.RemainingHeader, "0")
	}
	if body != nil {
		w.Header().Set("Content-Type", h.Lockout.ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if body != nil {
		_, _ = w.Write(body)
	}
	return nil
}

// judged records the portal's verdict on an attempt and emits its events.
func (h *Handler) judged(ctx context.Context, a *attempt, v policy.Verdict, rec *recorder) {
	outcome := state.Uncounted
	if v.Success {
		outcome = state.Success
	} else if a.account != "" && h.counted[reasonIndex(v.Reason)] {
		outcome = state.CountedFailure
	}
	var res state.Result
	failures := a.adm.Failures
	if a.admitted {
		a.finished = true
		// A client that hangs up must not keep its failure from being counted.
		ctx := context.WithoutCancel(ctx)
		at := state.Attempt{Account: a.account, Prefix: a.prefix}
		store := h.app.Store()
		if as, ok := store.(state.AsyncFinisher); ok && outcome != state.CountedFailure {
			// Nothing below needs the result of a success or an uncounted
			// failure (the event keeps the count seen at admission): the
			// request does not wait for it.
			as.FinishAsync(ctx, at, a.adm.Slot, outcome, h.statePol, h.finishDone)
		} else {
			start := time.Now()
			r, err := store.Finish(ctx, at, a.adm.Slot, outcome, h.statePol)
			h.app.waited(h.app.metrics.finishWait, "finish", start)
			if err != nil {
				h.app.stateError("finish", err)
			} else {
				res, failures = r, r.Failures
			}
		}
	}

	if v.Success {
		a.ev.EventType = event.LoginSuccess
		if rec.capture && len(rec.body) > 0 {
			if s, ok := policy.LookupJSON(rec.body, h.AccountID); ok && h.AccountID != "" {
				a.ev.AccountID = event.Str(policy.Clean(s))
			}
			if s, ok := policy.LookupJSON(rec.body, h.DisplayName); ok && h.DisplayName != "" {
				a.ev.DisplayName = event.Str(policy.Clean(s))
			}
		}
		h.rememberSession(ctx, a, rec.Header())
	} else {
		a.ev.FailureCount = failures
		h.fail(a, v.Reason, failures)
	}
	h.app.countAttempt(h.source, v.Success, v.Reason)
	h.emit(a.ev)

	if res.NewlyLocked {
		lock := a.ev
		lock.ID = event.NewID()
		lock.EventType = event.AccountLocked
		lock.Reason = ""
		lock.ErrorType = nil
		lock.Message = event.Str(lockMessage(a.identity, failures, res))
		h.app.metrics.lock()
		h.app.tel.lock()
		a.span.AddEvent("loginguard.account_locked", trace.WithAttributes(attribute.Int("loginguard.failure_count", failures)))
		h.emit(lock)
	}
}

func lockMessage(identity string, failures int, res state.Result) string {
	until := "until unlocked by an admin"
	if !res.LockedUntil.IsZero() {
		until = "until " + res.LockedUntil.UTC().Format(event.DateLayout)
	}
	return "Account " + identity + " locked after " + strconv.Itoa(failures) + " failed login attempts " + until
}

// fail fills the failure fields of an attempt's event.
func (h *Handler) fail(a *attempt, reason event.Reason, failures int) {
	msg, errType := policy.Describe(reason, h.source, a.identity, failures)
	a.ev.EventType = event.LoginFailure
	a.ev.Reason = reason
	a.ev.Message = &msg
	a.ev.ErrorType = &errType
}

func (h *Handler) serveLogout(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	var hash string
	if h.SessionCookie != "" {
		if c, err := r.Cookie(h.SessionCookie); err == nil && c.Value != "" {
			hash = hashSession(c.Value)
		}
	}
	r, span := h.app.tel.startSpan(r, "loginguard.logout")
	rec := &recorder{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}}
	err := next.ServeHTTP(rec, r)
	if err != nil || rec.status >= 400 {
		span.End()
		return err
	}
	ev := h.newEvent(r, event.Logout)
	defer func() { h.app.tel.endSpan(span, &ev, identityOf(ev)) }()
	if hash != "" {
		s, ok, serr := h.app.Store().TakeSession(r.Context(), hash)
		if serr != nil {
			h.app.stateError("take_session", serr)
		} else if ok {
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
	h.app.metrics.logout(ev.Source)
	h.emit(ev)
	return nil
}

// rememberSession keeps a hash of the session cookie a successful login set, so
// that the logout can be attributed.
func (h *Handler) rememberSession(ctx context.Context, a *attempt, hdr http.Header) {
	if h.SessionCookie == "" || a.identity == "" {
		return
	}
	for _, line := range hdr.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil || c.Name != h.SessionCookie || c.Value == "" || c.MaxAge < 0 {
			continue
		}
		s := state.Session{Account: a.account, Source: string(h.source), Principal: a.identity, PortalID: h.PortalID}
		if err := h.app.Store().PutSession(ctx, hashSession(c.Value), s, time.Duration(h.SessionTTL)); err != nil {
			h.app.stateError("put_session", err)
		}
		return
	}
}

// hashSession is what loginguard keeps of a session cookie: never the value.
func hashSession(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// newEvent starts an event for request r.
func (h *Handler) newEvent(r *http.Request, t event.Type) event.Event {
	ev := event.Event{
		ID:            event.NewID(),
		Source:        h.source,
		EventDate:     time.Now().UTC(),
		EventType:     t,
		RemoteAddress: clientIP(r),
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
	return ev
}

// setIdentity fills the attempt's principal or email and its lockout key.
func (h *Handler) setIdentity(a *attempt, principal string) {
	lower := strings.ToLower(principal)
	if h.source == event.SourcePortal {
		a.identity = lower
		a.ev.Email = &lower
	} else {
		a.identity = principal
		a.ev.Principal = &principal
	}
	a.account = lower
	if h.Realm != "" {
		a.account = h.Realm + "|" + lower
	}
}

func (h *Handler) emit(ev event.Event) { h.app.emit(ev, *h.SaveToDatabase, h.targets) }

// clientIP is the client address as Caddy resolved it (trusted_proxies honoured).
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok {
		return ip
	}
	return ""
}

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
