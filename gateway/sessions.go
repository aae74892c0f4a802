package gateway

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/ratelimit"
	"github.com/loginguard/loginguard/state"
)

// SessionsConfig configures a Sessions watcher: the options of the
// loginguard_sessions handler, with plain durations.
type SessionsConfig struct {
	// SessionCookie names the portal's session cookie, as the login route's
	// session_cookie (a trailing "*" matches any rest of the name). Required.
	SessionCookie string `json:"session_cookie,omitempty"`
	// IdleTimeout ends a session no request carried for that long (the app's
	// sweep; see ExpiredSessions). Default: 0, off.
	IdleTimeout time.Duration `json:"idle_timeout,omitempty"`
	// AbsoluteTimeout ends a session that long after its login. Default: 0,
	// off.
	AbsoluteTimeout time.Duration `json:"absolute_timeout,omitempty"`
	// IPConflict is how far a session's requests may stray from the network
	// it logged in from. Default: /24 for IPv4, /48 for IPv6, ASN on.
	IPConflict *IPConflict `json:"ip_conflict,omitempty"`
	// OnIPConflict is "log" (default: an event, the request goes on) or
	// "refuse" (403, and the session ends with status ip_conflict).
	OnIPConflict string `json:"on_ip_conflict,omitempty"`
	// OnInvalid is "log" (default: a sampled event, the request goes on) or
	// "refuse" (401) for a cookie with no live session.
	OnInvalid string `json:"on_invalid,omitempty"`
	// TouchEvery is how often a live session's last use is written. Default: 1m.
	TouchEvery time.Duration `json:"touch_every,omitempty"`
	// SampleInterval: of the invalid-cookie events of one client IP, one per
	// interval. Default: 10s.
	SampleInterval time.Duration `json:"sample_interval,omitempty"`
}

// IPConflict is the tolerance of a session's client address: a request from
// outside the login's IPv4Prefix or IPv6Prefix is from another network, unless
// ASN is on and both ASNs are known and equal.
type IPConflict struct {
	IPv4Prefix int `json:"ipv4_prefix,omitempty"`
	IPv6Prefix int `json:"ipv6_prefix,omitempty"`
	// ASN: a request from the login's autonomous system is no conflict.
	// Default: on (nil).
	ASN *bool `json:"asn,omitempty"`
}

// SessionsApp is what a Sessions watcher needs of the app.
type SessionsApp interface {
	Store() state.Store
	StateError(op string, err error)
	// CountSession counts a watched request by its result: "live",
	// "invalid", "ip_conflict".
	CountSession(result string)
}

// Sessions follows the sessions a login route recorded on the portal's other
// routes: a request with a tracked cookie touches its session (one state
// call), a cookie with no live session is an invalid user session, and a
// live session used from another network is an IP conflict. A request
// without the cookie costs no state call.
type Sessions struct {
	SessionsConfig

	app      SessionsApp
	pipe     *connectors.Pipeline
	logger   *slog.Logger
	clientIP func(*http.Request) string
	asn      func(string) int64
	sampler  *ratelimit.Sampler
	exact    bool // SessionCookie names one cookie (no "*")
}

// NewSessions makes a watcher of cfg, its defaults filled, and checks it.
func NewSessions(cfg SessionsConfig, app SessionsApp, env Env) (*Sessions, error) {
	s := &Sessions{SessionsConfig: cfg, app: app, pipe: env.Pipeline, clientIP: env.ClientIP, asn: env.ASN}
	s.logger = cmp.Or(env.Logger, slog.Default())
	if s.clientIP == nil {
		s.clientIP = remoteHost
	}
	ipc := IPConflict{}
	if cfg.IPConflict != nil {
		ipc = *cfg.IPConflict
	}
	ipc.IPv4Prefix = cmp.Or(ipc.IPv4Prefix, 24)
	ipc.IPv6Prefix = cmp.Or(ipc.IPv6Prefix, 48)
	s.IPConflict = &ipc
	s.OnIPConflict = cmp.Or(s.OnIPConflict, "log")
	s.OnInvalid = cmp.Or(s.OnInvalid, "log")
	s.TouchEvery = cmp.Or(s.TouchEvery, time.Minute)
	s.SampleInterval = cmp.Or(s.SampleInterval, 10*time.Second)
	s.exact = !strings.HasSuffix(s.SessionCookie, "*")
	if err := s.validate(); err != nil {
		return nil, err
	}
	s.sampler = ratelimit.NewSampler(s.SampleInterval, 0)
	return s, nil
}

func (s *Sessions) validate() error {
	switch {
	case s.SessionCookie == "":
		return fmt.Errorf("session_cookie: required (the portal's session cookie, as on its loginguard login route)")
	case !ValidCookieName(strings.TrimSuffix(s.SessionCookie, "*")):
		return fmt.Errorf("session_cookie: %q is not a cookie name", s.SessionCookie)
	case s.IdleTimeout < 0:
		return fmt.Errorf("idle_timeout: must be positive")
	case s.AbsoluteTimeout < 0:
		return fmt.Errorf("absolute_timeout: must be positive")
	case s.IPConflict.IPv4Prefix < 1 || s.IPConflict.IPv4Prefix > 32:
		return fmt.Errorf("ip_conflict ipv4_prefix: want 1 to 32, got %d", s.IPConflict.IPv4Prefix)
	case s.IPConflict.IPv6Prefix < 1 || s.IPConflict.IPv6Prefix > 128:
		return fmt.Errorf("ip_conflict ipv6_prefix: want 1 to 128, got %d", s.IPConflict.IPv6Prefix)
	case s.OnIPConflict != "log" && s.OnIPConflict != "refuse":
		return fmt.Errorf("on_ip_conflict: must be \"log\" or \"refuse\", got %q", s.OnIPConflict)
	case s.OnInvalid != "log" && s.OnInvalid != "refuse":
		return fmt.Errorf("on_invalid: must be \"log\" or \"refuse\", got %q", s.OnInvalid)
	case s.TouchEvery < 0:
		return fmt.Errorf("touch_every: must be positive")
	case s.SampleInterval < 0:
		return fmt.Errorf("sample_interval: must be positive")
	}
	return nil
}

// cookie returns the value of the request's tracked cookie, "" when none.
func (s *Sessions) cookie(r *http.Request) string {
	if len(r.Header["Cookie"]) == 0 {
		return ""
	}
	if s.exact {
		for _, c := range r.CookiesNamed(s.SessionCookie) {
			if c.Value != "" {
				return c.Value
			}
		}
		return ""
	}
	for _, c := range r.Cookies() {
		if c.Value != "" && CookieNameMatches(s.SessionCookie, c.Name) {
			return c.Value
		}
	}
	return ""
}

// ServeHTTP watches r's session, then passes it to next unless refused.
func (s *Sessions) ServeHTTP(w http.ResponseWriter, r *http.Request, next Handler) error {
	v := s.cookie(r)
	if v == "" {
		return next.ServeHTTP(w, r)
	}
	hash := HashSession(v)
	sess, live, err := s.app.Store().TouchSession(r.Context(), hash, time.Time{}, s.TouchEvery)
	if err != nil {
		// The state is out of reach: the portal judges its own cookie.
		s.app.StateError("touch_session", err)
		return next.ServeHTTP(w, r)
	}
	ip := s.clientIP(r)
	if !live {
		s.app.CountSession("invalid")
		s.invalid(r, hash, ip, sess)
		if s.OnInvalid == "refuse" {
			http.Error(w, "invalid session", http.StatusUnauthorized)
			return nil
		}
		return next.ServeHTTP(w, r)
	}
	if !s.conflicts(sess, ip) {
		s.app.CountSession("live")
		return next.ServeHTTP(w, r)
	}
	s.app.CountSession("ip_conflict")
	ev := SessionEvent(hash, sess, event.SessionIPConflict,
		fmt.Sprintf("Session of %s used from %s, outside %s where it logged in", sess.Principal, ip, sess.Prefix))
	ev.SessionStatus = state.SessionIPConflict
	s.fill(&ev, r, ip)
	s.pipe.Emit(ev)
	if s.OnIPConflict != "refuse" {
		return next.ServeHTTP(w, r)
	}
	ctx := context.WithoutCancel(r.Context())
	if ended, ok, err := s.app.Store().EndSession(ctx, hash, state.SessionIPConflict, time.Time{}); err != nil {
		s.app.StateError("end_session", err)
	} else if ok {
		end := SessionEvent(hash, ended, event.SessionEnded, "Session ended: used from another network")
		s.fill(&end, r, ip)
		s.pipe.Emit(end)
	}
	http.Error(w, "session refused", http.StatusForbidden)
	return nil
}

// invalid emits the event of an invalid user session, sampled per client IP
// (the first of each interval, carrying how many were left out before it).
func (s *Sessions) invalid(r *http.Request, hash, ip string, tomb state.Session) {
	emit, suppressed := s.sampler.Allow("invalid:"+ip, time.Now())
	if !emit {
		return
	}
	status := "unknown"
	if tomb.Ended() {
		status = tomb.Status
	}
	msg := "Invalid user session: " + status
	if suppressed > 0 {
		msg += fmt.Sprintf(" (%d more from this address since the last event)", suppressed)
	}
	ev := SessionEvent(hash, tomb, event.SessionInvalid, msg)
	ev.SessionStatus, ev.EventDate = status, time.Now().UTC()
	if !tomb.Ended() {
		ev.Email, ev.PortalID = nil, nil
	}
	s.fill(&ev, r, ip)
	s.pipe.Emit(ev)
}

// fill adds the request's details to a session event.
func (s *Sessions) fill(ev *event.Event, r *http.Request, ip string) {
	ev.RemoteAddress = ip
	ev.UserAgent = r.UserAgent()
	ev.Host = r.Host
	ev.Path = r.URL.Path
}

// conflicts reports whether a request from ip is from another network than
// the session's login: outside the login's prefix widened to the tolerance,
// and, when both ASNs are known and ASN is on, from another ASN.
func (s *Sessions) conflicts(sess state.Session, ip string) bool {
	if sess.Prefix == "" {
		return false
	}
	login, err := netip.ParsePrefix(sess.Prefix)
	if err != nil {
		return false
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	if addr.Is4() != login.Addr().Is4() {
		return s.asnDiffers(sess, ip)
	}
	bits := s.IPConflict.IPv6Prefix
	if addr.Is4() {
		bits = s.IPConflict.IPv4Prefix
	}
	wide, err := login.Addr().Prefix(min(bits, login.Bits()))
	if err != nil || wide.Contains(addr) {
		return false
	}
	return s.asnDiffers(sess, ip)
}

// asnDiffers: a conflict unless both ASNs are known and the same (ASN on).
func (s *Sessions) asnDiffers(sess state.Session, ip string) bool {
	if s.IPConflict.ASN != nil && !*s.IPConflict.ASN || s.asn == nil || sess.ASN == 0 {
		return true
	}
	now := s.asn(ip)
	return now == 0 || uint32(now) != sess.ASN
}
