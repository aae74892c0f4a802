package caddymodule

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/loginguard/loginguard/gateway"
	"github.com/loginguard/loginguard/policy"
)

func init() {
	caddy.RegisterModule(new(Handler))
}

// Handler watches one login or logout route of a portal. Place it in front of
// the reverse_proxy that reaches the portal: it reads who is logging in from the
// request, refuses locked accounts, lets the attempt through, judges the portal's
// response, counts failures and emits one event per attempt.
type Handler struct {
	// Action is "login" (default), "logout", or a step that sets a password,
	// whose new password is checked and whose portal answer makes one event
	// of the step's type: "register" (USER_CREATED, USER_CREATE_FAILED),
	// "password_change" (USER_PASSWORD_CHANGED, USER_PASSWORD_CHANGE_FAILED)
	// or "reset_confirm" (USER_PASSWORD_RESET, USER_PASSWORD_RESET_FAILED);
	// or "mfa", a one-time code's check after a password (MFA_SUCCESS,
	// MFA_FAILURE; wrong codes are counted per pending login and per account
	// with the route's lockout), or an account step: "mfa_enroll"
	// (USER_MFA_ENABLED, USER_MFA_ENABLE_FAILED), "mfa_disable"
	// (USER_MFA_DISABLED, USER_MFA_DISABLE_FAILED) or "reset_request"
	// (USER_PASSWORD_RESET_REQUESTED, USER_PASSWORD_RESET_REQUEST_FAILED).
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

	// Password says where a login request carries the password, for the
	// breached-password check (the app's pwned set). Default: JSON pointer
	// /password and form field password.
	Password *policy.PasswordSpec `json:"password,omitempty"`

	// NewPassword says where a route that sets a password (action register,
	// password_change or reset_confirm) carries the new one. Default: /password
	// and password for register, /newPassword and newPassword for the others.
	NewPassword *policy.PasswordSpec `json:"new_password,omitempty"`

	// Breached is what the route does with a password in the app's
	// breached-password set: log (default: the event's passwordBreached and a
	// metric), header (the portal gets the named request header, "1"), refuse
	// (answered before the portal, reason BREACHED_PASSWORD) or off.
	Breached *gateway.Breached `json:"breached,omitempty"`

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

	// Entry is the route's entry method: web (default; entry type 1,
	// membership login), api (6, an HTTPS request), mobile (7, a mobile
	// login) or reset (8, a password reset); the number is taken too. Login
	// events carry it as entryMethod, the sessions a success starts as their
	// method.
	Entry string `json:"entry,omitempty"`
	// SingleSession: a successful login ends the account's older sessions
	// (status new_login, a SESSION_ENDED event each). Needs session_cookie.
	// Default: off.
	SingleSession bool `json:"single_session,omitempty"`
	// MFAToken is the token of a login waiting for its second factor. On a
	// login route: a JSON pointer ("json") into the portal's answer; when the
	// answer carries a token there, its account is remembered for the mfa
	// route (the answer is held until then). On an mfa route: where the
	// code's request carries the token back (json, form or header). Default:
	// none on login routes; json /mfaToken and form mfaToken on mfa routes.
	MFAToken *policy.PrincipalSpec `json:"mfa_token,omitempty"`
	// MFATTL is how long a pending login's token is remembered. Default: 10m.
	MFATTL caddy.Duration `json:"mfa_ttl,omitempty"`
	// Uniform (action reset_request only) answers a request for an unknown
	// account (the rules' ACCOUNT_NOT_FOUND) with the route's most recent
	// success answer, after a latency drawn from the successes'. Default: off.
	Uniform bool `json:"uniform,omitempty"`

	app        *App
	logger     *slog.Logger
	route      *gateway.Route // the route that serves; its Config has the defaults filled
	limiterKey string         // the route's limiter in limiterPool
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
	// interval carries the number refused (see gateway/lockedevents.go). A
	// number ≥ 1 or "all" (one event per refusal). Default: 10.
	LockedEvents gateway.LockedEvents `json:"locked_events,omitempty"`
}

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
	rt, err := gateway.New(h.config())
	if err != nil {
		return err
	}
	h.route = rt
	if h.app == nil { // set already by tests that run a handler without Caddy
		appIface, err := ctx.App("loginguard")
		if err != nil {
			return fmt.Errorf("loading loginguard app: %w", err)
		}
		h.app = appIface.(*App)
	}
	h.app.realms.Store(rt.Realm, true)
	if rt.Aliases != nil {
		h.app.aliasRealms.Store(rt.Realm, true)
	}
	return rt.Start(h.app, gateway.Env{
		Logger:      h.logger,
		Pipeline:    h.app.pipe,
		Telemetry:   h.app.tel,
		Mode:        h.app.Mode,
		Limiter:     h.provisionLimits,
		ClientIP:    clientIP,
		ErrorStatus: handlerErrorStatus,
		ASN:         h.app.asnOf,
	})
}

// config is the handler's configuration as the gateway takes it.
func (h *Handler) config() gateway.Config {
	c := gateway.Config{
		Action: h.Action, Source: h.Source, PortalID: h.PortalID, Realm: h.Realm,
		Principal: h.Principal, OnAmbiguous: h.OnAmbiguous, OnMissingPrincipal: h.OnMissingPrincipal,
		Canonical: h.Canonical, Multicall: h.Multicall, Methods: h.Methods, Rules: h.Rules,
		AccountID: h.AccountID, DisplayName: h.DisplayName, SessionCookie: h.SessionCookie,
		SessionTTL: time.Duration(h.SessionTTL), Refusal: h.Refusal, Mode: h.Mode,
		SaveToDatabase: h.SaveToDatabase, Connectors: h.Connectors,
		Password: h.Password, NewPassword: h.NewPassword, Breached: h.Breached,
		Entry: h.Entry, SingleSession: h.SingleSession,
		MFAToken: h.MFAToken, MFATTL: time.Duration(h.MFATTL), Uniform: h.Uniform,
	}
	if al := h.Aliases; al != nil {
		c.Aliases = &gateway.Aliases{Cookie: al.Cookie, CookieRegexp: al.CookieRegexp, Body: al.Body, AccountID: al.AccountID, TTL: time.Duration(al.TTL)}
	}
	if l := h.Lockout; l != nil {
		c.Lockout = &gateway.Lockout{
			Off: l.Off, MaxFailures: l.MaxFailures, Window: time.Duration(l.Window), Duration: time.Duration(l.Duration),
			Permanent: l.Permanent, Backoff: l.Backoff, MaxDuration: time.Duration(l.MaxDuration), Count: l.Count,
			Status: l.Status, Body: l.Body, ContentType: l.ContentType, RemainingHeader: l.RemainingHeader,
			SlotTTL: time.Duration(l.SlotTTL), PerIPMaxFailures: l.PerIPMaxFailures, KnownIPs: time.Duration(l.KnownIPs),
			IPv4Prefix: l.IPv4Prefix, IPv6Prefix: l.IPv6Prefix, AdmissionWait: time.Duration(l.AdmissionWait),
			LockedEvents: l.LockedEvents,
		}
	}
	if h.RateLimit != nil {
		c.SampleInterval = time.Duration(h.RateLimit.SampleInterval)
	}
	return c
}

// Validate rejects bad configuration, naming the field.
func (h *Handler) Validate() error { return h.route.Validate() }

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	return h.route.Serve(w, r, next)
}

// clientIP is the client address as Caddy resolved it (trusted_proxies honoured).
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok {
		return ip
	}
	return ""
}

// handlerErrorStatus is the status of a caddyhttp.HandlerError, 0 for another error.
func handlerErrorStatus(err error) int {
	var he caddyhttp.HandlerError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	return 0
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
