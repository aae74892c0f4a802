package caddymodule

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/policy"
	"github.com/loginguard/loginguard/ratelimit"
	"github.com/loginguard/loginguard/state"
)

func init() {
	caddy.RegisterModule(new(Handler))
}

// Handler watches one login or logout route of a portal. Place it in front of
// the reverse_proxy that reaches the portal: it reads who is logging in from the
// request, refuses locked accounts, lets the attempt through, judges the portal's
// response, counts failures and emits one event per attempt.
type Handler struct {
	// Action is "login" (default) or "logout".
	Action string `json:"action,omitempty"`

	// Source is "portal" (default; events carry email and portalId) or
	// "manager" (events carry the username as principal).
	Source string `json:"source,omitempty"`

	// PortalID is the portalId of this route's events (portal source only).
	PortalID string `json:"portal_id,omitempty"`

	// Realm scopes lockout counters: routes with the same realm (default: "",
	// all routes of the app) share one counter per account, so an account's
	// failures on one login form count on the others too.
	Realm string `json:"realm,omitempty"`

	// Principal says where the login request carries the username or email.
	// Default: JSON pointer /email and form field email for portal routes,
	// /username and username for manager routes.
	Principal *policy.PrincipalSpec `json:"principal,omitempty"`

	// OnAmbiguous is what happens to a request that could name more than one
	// account (a repeated field, an array, the query string beside the body, a
	// field-name variant, a JSON duplicate key, a body of another type than
	// declared): "refuse" (default) answers 400 before the portal, reason
	// AMBIGUOUS_PRINCIPAL, and counts a failure against every candidate;
	// "count_all" forwards it, refused if any candidate is locked, and counts
	// the portal's verdict against every candidate.
	OnAmbiguous string `json:"on_ambiguous,omitempty"`

	// OnMissingPrincipal is what happens to an attempt whose principal cannot
	// be read (no field, an unreadable encoding or content type): "refuse"
	// (default) answers 400, reason MISSING_PRINCIPAL; "forward" lets it through
	// uncounted, and a success is reported by the unattributed_success alert.
	// Either way it is rate-limited and recorded. A body over 64 KiB is always
	// refused (413).
	OnMissingPrincipal string `json:"on_missing_principal,omitempty"`

	// Canonical lists the presets and steps (policy.Canonical) that turn the
	// spellings of one account into its key for locks, rate limits and the
	// users view: email, username, wordpress, none; percent, octets, tags,
	// entities, nfkc, accents, ignorable, space, lower. Default: username
	// (every step but octets).
	Canonical []string `json:"canonical,omitempty"`

	// Aliases learns from the portal's answers which spellings name one
	// account, so they share one counter. Default: none.
	Aliases *Aliases `json:"aliases,omitempty"`

	// Multicall is what happens to an XML-RPC system.multicall on a route with
	// an XML-RPC principal: "count" (default) counts each call that logs in
	// as one attempt, refused when the account has not that many failures
	// left; "refuse" answers 400 to every multicall.
	Multicall string `json:"multicall,omitempty"`

	// Methods are the request methods that are login attempts; requests with
	// other methods pass through untouched and emit nothing. Default: every
	// method but GET, HEAD and OPTIONS; on a route whose only principal is
	// basic, every request with Basic credentials, whatever its method; on a
	// logout route every method but HEAD and OPTIONS (many portals log out
	// with a GET link; an answer of 400 or more emits nothing).
	Methods []string `json:"methods,omitempty"`

	// Rules decide from the portal's response whether the login succeeded and
	// why not; the first rule whose conditions all hold decides. Default (no
	// rules): 2xx success, 401 BAD_CREDENTIALS, 5xx UPSTREAM_ERROR, else UNKNOWN.
	Rules []policy.Rule `json:"rules,omitempty"`

	// AccountID is a JSON pointer into a successful login's response body whose
	// value becomes the event's accountId. Default: none.
	AccountID string `json:"account_id,omitempty"`

	// DisplayName is a JSON pointer into a successful login's response body whose
	// value becomes the event's displayName. Default: none.
	DisplayName string `json:"display_name,omitempty"`

	// SessionCookie is the name of the cookie the portal sets on a successful
	// login (a trailing "*" matches any rest of the name, e.g.
	// wordpress_logged_in_*). Login routes remember a hash of its value; logout routes find the
	// principal by it. Default: none (logout events then have no principal).
	SessionCookie string `json:"session_cookie,omitempty"`

	// SessionTTL is how long a session hash is remembered. Default: 12h.
	SessionTTL caddy.Duration `json:"session_ttl,omitempty"`

	// Lockout configures counting failures and locking accounts.
	Lockout *Lockout `json:"lockout,omitempty"`

	// Refusal is how a locked account's attempt is answered: "own" (default)
	// with the lockout response (status, body, content_type), at once;
	// "mimic" (recommended) with the portal's own most recent wrong-password
	// answer on this route (reason BAD_CREDENTIALS or ACCOUNT_NOT_FOUND: its
	// status, body and headers but Set-Cookie, at most 64 KiB), after a delay
	// drawn from its last 64 wrong-password latencies, so that a locked account
	// cannot be told from a wrong password (OWASP ASVS 6.3.8). Until the route
	// has seen one, mimic answers with the lockout response.
	Refusal string `json:"refusal,omitempty"`

	// Mode is enforce (refusals are answered) or monitor: every decision is
	// computed and counted as in enforce mode, but a refusal is not made:
	// its event carries wouldRefuse and the attempt goes on to the portal.
	// Default: the app's mode (enforce).
	Mode string `json:"mode,omitempty"`

	// SaveToDatabase writes this route's events to the login log store.
	// Default: true. Off, they go to the sinks only; with no sink either,
	// they would be lost, and Caddy warns at load.
	SaveToDatabase *bool `json:"save_to_database,omitempty"`

	// Connectors names the connectors of the loginguard app that this
	// route's events go to (the connector settings' Connector Targets); the sinks get
	// every event. Default (nil): every connector; empty: none.
	Connectors *[]string `json:"connectors,omitempty"`

	// RateLimit limits attempts per client IP, per account and per route.
	// Default: no limits.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`

	// Allow lists client IPs or CIDRs that skip the rate limits (not the
	// lockout of accounts). Default: none.
	Allow []string `json:"allow,omitempty"`

	// Deny lists client IPs or CIDRs whose attempts are refused with 403 and
	// never reach the portal. Default: none.
	Deny []string `json:"deny,omitempty"`

	app        *App
	logger     *slog.Logger
	classifier *policy.Classifier
	captureRsp bool
	source     event.Source
	statePol   state.Policy
	pipe       *connectors.Pipeline // the app's: where events go
	route      connectors.Route     // where this route's events go
	finishDone func(error)          // reports an asynchronous Finish's error
	counted    [16]bool             // by reasonIndex
	lockBody   []byte
	mimic      *mimic // what refusal mimic learned; nil for refusal own
	limiter    *ratelimit.Limiter
	limiterKey string
	sampler    *ratelimit.Sampler
	lockEvents *ratelimit.Sampler // of LOCKED refusals; nil for locked_events all
	flush      *sampledFlush      // reports the samplers' counts when a flood stops
	canonical  policy.Canonical
	aliasBody  *regexp.Regexp
	aliasValue *regexp.Regexp
	hold       bool // the portal's answer is held until judged (aliases)
	basicOnly  bool // every request with Basic credentials is an attempt, whatever its method
	held       bool // h.app.hold was called: Cleanup lets go
}

// Aliases configures how the account behind a spelling is learned from the
// portal's answers. The name learned is put through the route's canonical
// steps; from then on the spelling counts against that account (kept in the
// state, so in Redis for a fleet). While any alias source is set, the route
// holds the portal's answer (up to 64 KiB) until it is judged, so that a
// success for an account that turns out to be locked is refused before the
// client gets its session.
type Aliases struct {
	// Cookie is the name of a cookie a successful login sets whose value names
	// the account (a trailing "*" matches any rest of the name). Default: none.
	Cookie string `json:"cookie,omitempty"`
	// CookieRegexp picks the name out of the cookie's URL-decoded value: its
	// first group, else its whole match. Default: the whole value.
	CookieRegexp string `json:"cookie_regexp,omitempty"`
	// Body is a regexp on the portal's answer (success or failure) whose first
	// group names the account, e.g. WordPress's "for the username
	// <strong>([^<]+)</strong>". Default: none.
	Body string `json:"body,omitempty"`
	// AccountID: a success's account_id names the account. Default: off.
	AccountID bool `json:"account_id,omitempty"`
	// TTL is how long an alias is kept after it was last seen. Default: 90 days.
	TTL caddy.Duration `json:"ttl,omitempty"`
}

// Lockout configures how failures are counted and accounts locked.
type Lockout struct {
	// Off turns lockout off for the route: failures are still reported.
	Off bool `json:"off,omitempty"`
	// MaxFailures counted failures within Window lock the account. Default: 5.
	MaxFailures int `json:"max_failures,omitempty"`
	// Window is how long a counted failure is remembered. Default: 15m.
	Window caddy.Duration `json:"window,omitempty"`
	// Duration of a lock. Default: 15m. Ignored when Permanent is set.
	Duration caddy.Duration `json:"duration,omitempty"`
	// Permanent locks last until an admin unlocks the account. Default: off.
	Permanent bool `json:"permanent,omitempty"`
	// Backoff doubles the duration of each new lock of an account, up to
	// MaxDuration; the level is forgotten 24h after the last lock ends.
	// Default: off.
	Backoff bool `json:"backoff,omitempty"`
	// MaxDuration caps a doubled lock. Default: 24h.
	MaxDuration caddy.Duration `json:"max_duration,omitempty"`
	// Count lists the reasons that count as failures. Default: [BAD_CREDENTIALS].
	Count []string `json:"count,omitempty"`
	// Status of the gateway's answer to a locked account's attempt. Default: 401.
	Status int `json:"status,omitempty"`
	// Body of that answer. Default: {"code":"AUTHENTICATION_FAILED","message":"Authentication failed"}.
	// It is the same for every account, existing or not.
	Body *string `json:"body,omitempty"`
	// ContentType of that answer. Default: application/json.
	ContentType string `json:"content_type,omitempty"`
	// RemainingHeader, when set, names a response header that tells how many
	// more counted failures the account may have before it is locked, assuming
	// this attempt failed (e.g. X-Remaining-Attempts). Default: none.
	RemainingHeader string `json:"remaining_header,omitempty"`
	// SlotTTL is how long an attempt may stay in flight before its slot is
	// given back (set it above the upstream's timeout). Default: 30s.
	SlotTTL caddy.Duration `json:"slot_ttl,omitempty"`
	// PerIPMaxFailures, when set, counts failures per (account, client IP
	// prefix) too: that many from one prefix lock the account for that prefix
	// only, and MaxFailures becomes the ceiling that locks it for everyone. An
	// attacker then cannot lock a victim out from elsewhere before the ceiling.
	// Default: 0, off.
	PerIPMaxFailures int `json:"per_ip_max_failures,omitempty"`
	// KnownIPs, when set, remembers for that long every IP prefix an account
	// logged in from successfully; from a known prefix the account keeps access
	// while it is locked by failures from elsewhere (not when an admin locked
	// it). The Caddyfile's `known_ips` alone means 30 days. Default: off.
	KnownIPs caddy.Duration `json:"known_ips,omitempty"`
	// IPv4Prefix and IPv6Prefix are the prefix lengths that make one client
	// for per_ip_max_failures and known_ips. Default: 32 and 64.
	IPv4Prefix int `json:"ipv4_prefix,omitempty"`
	IPv6Prefix int `json:"ipv6_prefix,omitempty"`
	// AdmissionWait is how long an attempt waits for a slot while as many
	// attempts as the account has failures left are already in flight; then it
	// is answered 429. Default: 2s.
	AdmissionWait caddy.Duration `json:"admission_wait,omitempty"`
	// LockedEvents: per account and sample interval, how many refusals of a
	// locked account are stored one event each; past that, one event per
	// interval carries the number refused (see lockedevents.go). A number ≥ 1
	// or "all" (one event per refusal). Default: 10.
	LockedEvents LockedEvents `json:"locked_events,omitempty"`
}

const defaultLockBody = `{"code":"AUTHENTICATION_FAILED","message":"Authentication failed"}`

// CaddyModule returns the Caddy module information.
func (*Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.loginguard",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision fills defaults and connects the handler to the loginguard app.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Slogger()
	if h.Action == "" {
		h.Action = "login"
	}
	if h.Source == "" {
		h.Source = "portal"
	}
	switch h.Source {
	case "portal":
		h.source = event.SourcePortal
	case "manager":
		h.source = event.SourceManager
	}
	if h.Principal == nil {
		h.Principal = &policy.PrincipalSpec{JSONPointer: "/email", FormField: "email"}
		if h.Source == "manager" {
			h.Principal = &policy.PrincipalSpec{JSONPointer: "/username", FormField: "username"}
		}
	}
	// A principal read from only one body format could be dodged by sending the
	// other: fill the missing half from a one-segment pointer or a field name.
	if ps := h.Principal; ps.FormField == "" && strings.Count(ps.JSONPointer, "/") == 1 && !strings.Contains(ps.JSONPointer, "~") {
		ps.FormField = ps.JSONPointer[1:]
	} else if ps.JSONPointer == "" && ps.FormField != "" {
		ps.JSONPointer = "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(ps.FormField)
	}
	if h.SessionTTL == 0 {
		h.SessionTTL = caddy.Duration(12 * time.Hour)
	}
	if h.OnAmbiguous == "" {
		h.OnAmbiguous = "refuse"
	}
	if h.OnMissingPrincipal == "" {
		h.OnMissingPrincipal = "refuse"
	}
	if h.Multicall == "" {
		h.Multicall = "count"
	}
	h.canonical = policy.DefaultCanonical
	if len(h.Canonical) > 0 {
		c, err := policy.ParseCanonical(h.Canonical)
		if err != nil {
			return fmt.Errorf("canonical: %w", err)
		}
		h.canonical = c
	}
	if al := h.Aliases; al != nil {
		if al.TTL == 0 {
			al.TTL = caddy.Duration(90 * 24 * time.Hour)
		}
		var err error
		if al.Body != "" {
			if h.aliasBody, err = regexp.Compile(al.Body); err != nil {
				return fmt.Errorf("aliases body: %w", err)
			}
		}
		if al.CookieRegexp != "" {
			if h.aliasValue, err = regexp.Compile(al.CookieRegexp); err != nil {
				return fmt.Errorf("aliases cookie_regexp: %w", err)
			}
		}
		h.hold = al.Body != "" || al.Cookie != "" || al.AccountID
	}
	ps := h.Principal
	h.basicOnly = len(h.Methods) == 0 && ps.Basic && ps.JSONPointer == "" && ps.FormField == "" && ps.Header == "" && ps.XMLRPC == nil
	for i, m := range h.Methods {
		h.Methods[i] = strings.ToUpper(m)
	}
	if h.Lockout == nil {
		h.Lockout = new(Lockout)
	}
	l := h.Lockout
	if l.MaxFailures == 0 {
		l.MaxFailures = 5
	}
	if l.Window == 0 {
		l.Window = caddy.Duration(15 * time.Minute)
	}
	if l.Duration == 0 {
		l.Duration = caddy.Duration(15 * time.Minute)
	}
	if l.MaxDuration == 0 {
		l.MaxDuration = caddy.Duration(24 * time.Hour)
	}
	if len(l.Count) == 0 {
		l.Count = []string{string(event.BadCredentials)}
	}
	if l.Status == 0 {
		l.Status = http.StatusUnauthorized
	}
	if l.Body == nil {
		b := defaultLockBody
		l.Body = &b
	}
	if l.ContentType == "" {
		l.ContentType = "application/json"
	}
	if l.SlotTTL == 0 {
		l.SlotTTL = caddy.Duration(30 * time.Second)
	}
	if l.AdmissionWait == 0 {
		l.AdmissionWait = caddy.Duration(2 * time.Second)
	}
	if l.IPv4Prefix == 0 {
		l.IPv4Prefix = 32
	}
	if l.IPv6Prefix == 0 {
		l.IPv6Prefix = 64
	}
	h.lockBody = []byte(*l.Body)
	for _, name := range l.Count {
		if r, ok := event.ParseReason(name); ok {
			h.counted[reasonIndex(r)] = true
		}
	}

	c, err := policy.Compile(h.Rules)
	if err != nil {
		return err
	}
	h.classifier = c
	if h.Refusal == "" {
		h.Refusal = "own"
	}
	if h.Refusal == "mimic" {
		h.mimic = new(mimic)
	}
	h.captureRsp = h.mimic != nil || c.NeedsBody() || h.AccountID != "" || h.DisplayName != "" || h.hold || h.Principal.XMLRPC != nil

	h.finishDone = func(err error) {
		if err != nil {
			h.app.stateError("finish", err)
		}
	}
	h.statePol = state.Policy{
		MaxFailures:     l.MaxFailures,
		Window:          time.Duration(l.Window),
		LockDuration:    time.Duration(l.Duration),
		Backoff:         l.Backoff,
		MaxLockDuration: time.Duration(l.MaxDuration),
		LockMemory:      24 * time.Hour,
		SlotTTL:         time.Duration(l.SlotTTL),

		PerPrefixMaxFailures: l.PerIPMaxFailures,
		KnownPrefixTTL:       time.Duration(l.KnownIPs),
	}
	if l.Permanent {
		h.statePol.LockDuration = 0
	}

	if h.app == nil { // set already by tests that run a handler without Caddy
		appIface, err := ctx.App("loginguard")
		if err != nil {
			return fmt.Errorf("loading loginguard app: %w", err)
		}
		h.app = appIface.(*App)
	}
	h.app.hold()
	h.held = true
	if h.Mode == "" {
		h.Mode = cmp.Or(h.app.Mode, "enforce")
	}
	if h.SaveToDatabase == nil {
		on := true
		h.SaveToDatabase = &on
	}
	h.app.realms.Store(h.Realm, true)
	if h.Aliases != nil {
		h.app.aliasRealms.Store(h.Realm, true)
	}
	h.pipe = h.app.pipe
	if h.route, err = h.pipe.Route("connectors", h.Connectors, *h.SaveToDatabase); err != nil {
		return err
	}
	if len(h.pipe.Names(h.route)) == 0 {
		h.logger.Warn("login events of this route are lost: save_to_database is off (or the store is) and no active sink or connector receives them; add one or turn save_to_database on")
	}
	h.provisionLockedEvents()
	if err := h.provisionLimits(); err != nil {
		return err
	}
	h.startFlush()
	return nil
}

// Validate rejects bad configuration, naming the field.
func (h *Handler) Validate() error {
	for _, f := range []struct {
		name, value string
		allowed     [2]string
	}{
		{"action", h.Action, [2]string{"login", "logout"}},
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
		if al.Cookie != "" && !validCookieName(strings.TrimSuffix(al.Cookie, "*")) {
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
	if h.SessionCookie != "" && !validCookieName(strings.TrimSuffix(h.SessionCookie, "*")) {
		return fmt.Errorf("session_cookie: %q is not a cookie name", h.SessionCookie)
	}
	if h.SessionTTL < 0 {
		return fmt.Errorf("session_ttl: must be positive")
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

// isAttemptRequest reports whether r is a login attempt: by its method, or on a
// route that reads only HTTP Basic credentials, by carrying them (a REST API
// checks them on every method).
func (h *Handler) isAttemptRequest(r *http.Request) bool {
	if h.basicOnly {
		return hasBasic(r.Header.Get("Authorization"))
	}
	return h.isAttempt(r.Method)
}

func hasBasic(auth string) bool {
	scheme, _, _ := strings.Cut(strings.TrimSpace(auth), " ")
	return strings.EqualFold(scheme, "basic")
}

// isAttempt reports whether a request with this method is a login attempt.
func (h *Handler) isAttempt(method string) bool {
	if len(h.Methods) > 0 {
		return slices.Contains(h.Methods, method)
	}
	if h.Action == "logout" {
		return method != http.MethodHead && method != http.MethodOptions
	}
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
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

func validCookieName(s string) bool {
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

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
