package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/policy"
)

// Config is one route's configuration: the options of the loginguard handler
// (documented with its Caddyfile and JSON config, which use the same names),
// with plain durations. New fills its defaults; Validate checks it. Its JSON
// form is the handler's, but for durations, which are nanoseconds here.
type Config struct {
	// Action is "login" (default), "logout", or a step that sets a password:
	// "register", "password_change" or "reset_confirm" (see serveStep).
	Action string `json:"action,omitempty"`
	// Source is "portal" (default) or "manager".
	Source string `json:"source,omitempty"`
	// PortalID is the portalId of the route's events (portal source only).
	PortalID string `json:"portal_id,omitempty"`
	// Realm scopes lockout counters. Default: "".
	Realm string `json:"realm,omitempty"`
	// Principal says where a login request names its account. Default: /email
	// and email for portal routes, /username and username for manager routes.
	Principal *policy.PrincipalSpec `json:"principal,omitempty"`
	// OnAmbiguous is "refuse" (default) or "count_all".
	OnAmbiguous string `json:"on_ambiguous,omitempty"`
	// OnMissingPrincipal is "refuse" (default) or "forward".
	OnMissingPrincipal string `json:"on_missing_principal,omitempty"`
	// Canonical lists the canonical presets and steps. Default: username.
	Canonical []string `json:"canonical,omitempty"`
	// Aliases learns spellings of one account from the portal. Default: none.
	Aliases *Aliases `json:"aliases,omitempty"`
	// Multicall is "count" (default) or "refuse".
	Multicall string `json:"multicall,omitempty"`
	// Methods are the methods of login attempts. Default: see isAttempt.
	Methods []string `json:"methods,omitempty"`
	// Rules judge the portal's response. Default: none (policy's defaults).
	Rules []policy.Rule `json:"rules,omitempty"`
	// AccountID and DisplayName are JSON pointers into a success's body.
	// Default: none.
	AccountID   string `json:"account_id,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	// SessionCookie names the portal's session cookie. Default: none.
	SessionCookie string `json:"session_cookie,omitempty"`
	// SessionTTL is how long a session hash is remembered. Default: 12h.
	SessionTTL time.Duration `json:"session_ttl,omitempty"`
	// Lockout configures counting failures and locking accounts.
	Lockout *Lockout `json:"lockout,omitempty"`
	// Refusal is "own" (default) or "mimic" (see mimic.go).
	Refusal string `json:"refusal,omitempty"`
	// Mode is "enforce" or "monitor". Default: the app's (Env.Mode).
	Mode string `json:"mode,omitempty"`
	// SaveToDatabase writes the route's events to the log store. Default: true.
	SaveToDatabase *bool `json:"save_to_database,omitempty"`
	// Connectors names the connectors of the route's events. Default (nil):
	// every connector; empty: none.
	Connectors *[]string `json:"connectors,omitempty"`
	// Password says where a login request carries the password, for the
	// breached-password check. Default: /password and password.
	Password *policy.PasswordSpec `json:"password,omitempty"`
	// NewPassword says where a step that sets a password carries the new
	// one. Default: /password and password for register, /newPassword and
	// newPassword for password_change and reset_confirm.
	NewPassword *policy.PasswordSpec `json:"new_password,omitempty"`
	// Breached is what the route does with a breached password. Default:
	// log, when the app has a breached-password set.
	Breached *Breached `json:"breached,omitempty"`
	// SampleInterval is the rate limits' sample_interval: of the refusals under
	// one key, one event per interval. Default: 10s.
	SampleInterval time.Duration `json:"sample_interval,omitempty"`

	// Entry is the route's entry method, how its users come in: web
	// (default; entry type 1, membership login), api (6, an HTTPS request),
	// mobile (7, a mobile login) or reset (8, a password reset). Login
	// events carry it as entryMethod and the sessions a success starts as
	// their Method.
	Entry string `json:"entry,omitempty"`
	// SingleSession: a success ends the account's older sessions (status
	// new_login, a SESSION_ENDED event each). Needs session_cookie. Default:
	// off.
	SingleSession bool `json:"single_session,omitempty"`
	// MFAToken is the token of a login waiting for its second factor. On a
	// login route, its JSONPointer points into the portal's answer: when the
	// answer carries a token there, the account is remembered behind the
	// token's hash for MFATTL, so that the mfa route knows whose code it
	// checks. On an mfa route, it says where the code's request carries the
	// token back (json, form or header). Default: none on login routes,
	// /mfaToken and mfaToken on mfa routes.
	MFAToken *policy.PrincipalSpec `json:"mfa_token,omitempty"`
	// MFATTL is how long a pending login's token is remembered. Default: 10m.
	MFATTL time.Duration `json:"mfa_ttl,omitempty"`
	// Uniform (reset_request routes only) makes the answer for an unknown
	// account the route's most recent success answer, after a latency drawn
	// from the successes', so that the answers do not tell whether an
	// account exists. Default: off.
	Uniform bool `json:"uniform,omitempty"`
}

// EntryMethods are the entry methods a route can name, by the number a
// portal's security page gives each entry type.
var EntryMethods = map[string]int{"web": 1, "api": 6, "mobile": 7, "reset": 8}

// ParseEntry returns the entry method named by s, a name of EntryMethods or
// its number, and whether it is one.
func ParseEntry(s string) (string, bool) {
	for name, n := range EntryMethods {
		if s == name || s == strconv.Itoa(n) {
			return name, true
		}
	}
	return "", false
}

// Aliases configures how the account behind a spelling is learned from the
// portal's answers.
type Aliases struct {
	// Cookie names a success's cookie whose value names the account.
	Cookie string `json:"cookie,omitempty"`
	// CookieRegexp picks the name out of the cookie's value.
	CookieRegexp string `json:"cookie_regexp,omitempty"`
	// Body is a regexp on the portal's answer whose first group names the account.
	Body string `json:"body,omitempty"`
	// AccountID: a success's account_id names the account.
	AccountID bool `json:"account_id,omitempty"`
	// TTL is how long an alias is kept. Default: 90 days.
	TTL time.Duration `json:"ttl,omitempty"`
}

// Lockout configures how failures are counted and accounts locked. Defaults:
// 5 failures within 15m lock for 15m (24h at most with backoff), counting
// BAD_CREDENTIALS; the refusal is 401 with defaultLockBody as
// application/json; slots are given back after 30s; an attempt waits 2s for
// a slot; IP prefixes are /32 and /64; 10 locked events per interval.
type Lockout struct {
	Off              bool          `json:"off,omitempty"`
	MaxFailures      int           `json:"max_failures,omitempty"`
	Window           time.Duration `json:"window,omitempty"`
	Duration         time.Duration `json:"duration,omitempty"`
	Permanent        bool          `json:"permanent,omitempty"`
	Backoff          bool          `json:"backoff,omitempty"`
	MaxDuration      time.Duration `json:"max_duration,omitempty"`
	Count            []string      `json:"count,omitempty"`
	Status           int           `json:"status,omitempty"`
	Body             *string       `json:"body,omitempty"`
	ContentType      string        `json:"content_type,omitempty"`
	RemainingHeader  string        `json:"remaining_header,omitempty"`
	SlotTTL          time.Duration `json:"slot_ttl,omitempty"`
	PerIPMaxFailures int           `json:"per_ip_max_failures,omitempty"`
	KnownIPs         time.Duration `json:"known_ips,omitempty"`
	IPv4Prefix       int           `json:"ipv4_prefix,omitempty"`
	IPv6Prefix       int           `json:"ipv6_prefix,omitempty"`
	AdmissionWait    time.Duration `json:"admission_wait,omitempty"`
	LockedEvents     LockedEvents  `json:"locked_events,omitempty"`
}

const defaultLockBody = `{"code":"AUTHENTICATION_FAILED","message":"Authentication failed"}`

// Validate rejects bad configuration, naming the field.
func (h *Route) Validate() error {
	for _, f := range []struct {
		name, value string
		allowed     [2]string
	}{
		{"source", h.Source, [2]string{"portal", "manager"}},
		{"on_ambiguous", h.OnAmbiguous, [2]string{"refuse", "count_all"}},
		{"on_missing_principal", h.OnMissingPrincipal, [2]string{"refuse", "forward"}},
		{"multicall", h.Multicall, [2]string{"count", "refuse"}},
		{"mode", h.Mode, [2]string{"enforce", "monitor"}},
		{"refusal", h.Refusal, [2]string{"own", "mimic"}},
	} {
		if f.value != f.allowed[0] && f.value != f.allowed[1] {
			return fmt.Errorf("%s: must be %q or %q, got %q", f.name, f.allowed[0], f.allowed[1], f.value)
		}
	}
	switch h.Action {
	case "login", "logout", "register", "password_change", "reset_confirm",
		"mfa", "mfa_enroll", "mfa_disable", "reset_request":
	default:
		return fmt.Errorf("action: must be login, logout, register, password_change, reset_confirm, mfa, mfa_enroll, mfa_disable or reset_request, got %q", h.Action)
	}
	if err := h.validateMFA(); err != nil {
		return err
	}
	if err := h.validateBreached(); err != nil {
		return err
	}
	if h.PortalID != "" && h.Source != "portal" {
		return fmt.Errorf("portal_id: only for portal routes (source is %q)", h.Source)
	}
	if ps := h.Principal; ps.JSONPointer == "" && ps.FormField == "" && !ps.Basic && ps.Header == "" && ps.XMLRPC == nil {
		return fmt.Errorf("principal: needs a JSON pointer, a form field, basic, a header or xmlrpc")
	}
	if ps := h.Principal; ps.Header != "" && !validHeaderName(ps.Header) {
		return fmt.Errorf("principal header: %q is not a header name", ps.Header)
	}
	if x := h.Principal.XMLRPC; x != nil {
		if x.Param < 0 {
			return fmt.Errorf("principal xmlrpc: the parameter position must be 0 or more, got %d", x.Param)
		}
		for m, i := range x.Methods {
			if i < 0 || m == "" {
				return fmt.Errorf("principal xmlrpc: %s=%d: want <method>=<position>", m, i)
			}
		}
	}
	if al := h.Aliases; al != nil {
		if al.Cookie == "" && al.Body == "" && !al.AccountID {
			return fmt.Errorf("aliases: needs cookie, body or account_id")
		}
		if al.AccountID && h.AccountID == "" {
			return fmt.Errorf("aliases account_id: the route has no account_id pointer")
		}
		if al.Cookie != "" && !ValidCookieName(strings.TrimSuffix(al.Cookie, "*")) {
			return fmt.Errorf("aliases cookie: %q is not a cookie name", al.Cookie)
		}
		if al.CookieRegexp != "" && al.Cookie == "" {
			return fmt.Errorf("aliases cookie_regexp: needs cookie")
		}
		if al.TTL < 0 {
			return fmt.Errorf("aliases ttl: must be positive")
		}
	}
	for name, p := range map[string]string{"principal json": h.Principal.JSONPointer, "account_id": h.AccountID, "display_name": h.DisplayName} {
		if p == "" {
			continue
		}
		if err := policy.ValidPointer(p); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	for i, m := range h.Methods {
		if m == "" || strings.ContainsAny(m, " \t/") {
			return fmt.Errorf("methods[%d]: %q is not a method", i, m)
		}
	}
	if h.SessionCookie != "" && !ValidCookieName(strings.TrimSuffix(h.SessionCookie, "*")) {
		return fmt.Errorf("session_cookie: %q is not a cookie name", h.SessionCookie)
	}
	if h.SessionTTL < 0 {
		return fmt.Errorf("session_ttl: must be positive")
	}
	if _, ok := EntryMethods[h.Entry]; !ok {
		return fmt.Errorf("entry: must be web, api, mobile or reset (or 1, 6, 7, 8), got %q", h.Entry)
	}
	if h.SingleSession && h.SessionCookie == "" {
		return fmt.Errorf("single_session: needs session_cookie")
	}
	if h.Action == "logout" && h.SessionCookie == "" {
		h.logger.Warn("logout route without session_cookie: its LOGOUT events will have no principal")
	}
	l := h.Lockout
	switch {
	case l.MaxFailures < 0:
		return fmt.Errorf("lockout max_failures: must be positive, got %d", l.MaxFailures)
	case l.Window < 0:
		return fmt.Errorf("lockout window: must be positive")
	case l.Duration < 0:
		return fmt.Errorf("lockout duration: must be positive")
	case l.MaxDuration < 0:
		return fmt.Errorf("lockout max_duration: must be positive")
	case l.Backoff && l.Permanent:
		return fmt.Errorf("lockout backoff: has no meaning with a permanent lock")
	case l.Status < 200 || l.Status > 599:
		return fmt.Errorf("lockout status: %d is not an HTTP status", l.Status)
	case l.SlotTTL < 0:
		return fmt.Errorf("lockout slot_ttl: must be positive")
	case l.AdmissionWait < 0:
		return fmt.Errorf("lockout admission_wait: must be positive")
	case l.PerIPMaxFailures < 0:
		return fmt.Errorf("lockout per_ip_max_failures: must be positive, got %d", l.PerIPMaxFailures)
	case l.PerIPMaxFailures > l.MaxFailures:
		return fmt.Errorf("lockout per_ip_max_failures: %d is above max_failures %d, the account's ceiling", l.PerIPMaxFailures, l.MaxFailures)
	case l.KnownIPs < 0:
		return fmt.Errorf("lockout known_ips: must be positive")
	case l.IPv4Prefix < 1 || l.IPv4Prefix > 32:
		return fmt.Errorf("lockout ipv4_prefix: want 1 to 32, got %d", l.IPv4Prefix)
	case l.IPv6Prefix < 1 || l.IPv6Prefix > 128:
		return fmt.Errorf("lockout ipv6_prefix: want 1 to 128, got %d", l.IPv6Prefix)
	}
	if l.RemainingHeader != "" && !validHeaderName(l.RemainingHeader) {
		return fmt.Errorf("lockout remaining_header: %q is not a header name", l.RemainingHeader)
	}
	for i, name := range l.Count {
		r, ok := event.ParseReason(name)
		if !ok {
			return fmt.Errorf("lockout count[%d]: unknown reason %q (want one of %s)", i, name, reasonList())
		}
		if r == event.Locked || r == event.RateLimited {
			return fmt.Errorf("lockout count[%d]: %s is the gateway's own refusal and cannot be counted", i, r)
		}
	}
	return nil
}

func reasonIndex(r event.Reason) int {
	for i, x := range event.Reasons {
		if x == r {
			return i
		}
	}
	return len(event.Reasons) - 1
}

func reasonList() string {
	s := make([]string, len(event.Reasons))
	for i, r := range event.Reasons {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// ValidCookieName reports whether s can name a cookie.
func ValidCookieName(s string) bool {
	c := &http.Cookie{Name: s, Value: "x"}
	return c.Valid() == nil
}

func validHeaderName(s string) bool {
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			return false
		}
	}
	return s != ""
}
