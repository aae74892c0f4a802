package gateway

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/policy"
	"github.com/loginguard/loginguard/pwned"
	"github.com/loginguard/loginguard/ratelimit"
	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/telemetry"
)

// App is what a route needs of the app that holds every route of a
// configuration: the lockout state and its health, the admin's IP blocks, the
// metrics, and the lifetime of the event pipeline.
type App interface {
	// Store returns the lockout state store.
	Store() state.Store
	// StateError counts a failed state call (op names it) and warns once per
	// outage; StateOK notes a successful one.
	StateError(op string, err error)
	StateOK()
	// FailClosed reports whether attempts are refused (503) while the state
	// cannot be reached, rather than let through uncounted.
	FailClosed() bool
	// IsBlocked reports whether an admin blocked ip (an unmapped address).
	IsBlocked(ip netip.Addr) bool
	// LearnsAliases reports whether some route of realm learns aliases: every
	// route of that realm then looks its spellings up.
	LearnsAliases(realm string) bool

	// CountAttempt counts an attempt that reached the portal; CountRefusal
	// one the gateway answered itself, or would have (monitored: a route in
	// monitor mode let it through); CountLock an account locked by a route;
	// CountLogout a logout.
	CountAttempt(src event.Source, success bool, reason event.Reason)
	CountRefusal(src event.Source, reason event.Reason, monitored bool)
	CountLock()
	CountLogout(src event.Source)
	// Waited observes how long a request waited for the state store since
	// start, by call (op: "admit" or "finish").
	Waited(op string, start time.Time)

	// Hold marks a user of the app's event pipeline (a route from its Start
	// to its Close, and each request it serves); LetGo ends one. The pipeline
	// closes when the app is cleaned up and its last user lets go.
	Hold()
	LetGo()
	// OnCleanup registers f to run before the event queues close, so the
	// events it emits are delivered.
	OnCleanup(f func())
	// Logger is the app's logger.
	Logger() *slog.Logger

	// Pwned is the breached-password set the routes check passwords
	// against; nil when there is none.
	Pwned() pwned.Checker
	// CountBreachedCheck counts one attempt's breached-password check by its
	// result (CheckBreached, CheckClean, CheckError).
	CountBreachedCheck(result string)
}

// Env is what a route is given to run, besides its app.
type Env struct {
	// Logger is the route's logger. Default: slog.Default().
	Logger *slog.Logger
	// Pipeline is the app's event pipeline: where events go. Required.
	Pipeline *connectors.Pipeline
	// Telemetry exports the attempts' spans and metrics; nil when off.
	Telemetry *telemetry.Telemetry
	// Mode is the app's mode, the route's unless its config sets one.
	// Default: enforce.
	Mode string
	// Limiter builds the route's limiter (rate limits, allow and deny lists);
	// it returns nil when the route has none. Start calls it once, after the
	// route's event targets are checked. Default: none.
	Limiter func() (*ratelimit.Limiter, error)
	// ClientIP returns the client address of a request, as the server resolved
	// it (trusted proxies honoured), "" when it has none. Default: the host of
	// the request's RemoteAddr.
	ClientIP func(*http.Request) string
	// ErrorStatus returns the HTTP status an error of the handlers behind the
	// route carries, 0 when it carries none. Default: none does.
	ErrorStatus func(error) int

	// ASN returns the autonomous system number of a client address, 0 when
	// unknown (a GeoIP ASN database). Default: none, always 0.
	ASN func(addr string) int64
}

// Handler is the next handler of a route's chain, the one that reaches the
// portal (caddyhttp.Handler is one).
type Handler interface {
	ServeHTTP(http.ResponseWriter, *http.Request) error
}

// HandlerFunc makes a Handler of a function.
type HandlerFunc func(http.ResponseWriter, *http.Request) error

// ServeHTTP calls f(w, r).
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) error { return f(w, r) }

// Route watches one login or logout route of a portal; see the package doc.
type Route struct {
	// Config is the route's configuration, its defaults filled. It must not
	// change once the route is started.
	Config

	app         App
	logger      *slog.Logger
	tel         *telemetry.Telemetry
	clientIP    func(*http.Request) string
	errorStatus func(error) int
	classifier  *policy.Classifier
	captureRsp  bool
	source      event.Source
	statePol    state.Policy
	pipe        *connectors.Pipeline // the app's: where events go
	route       connectors.Route     // where this route's events go
	finishDone  func(error)          // reports an asynchronous Finish's error
	counted     [16]bool             // by reasonIndex
	lockBody    []byte
	mimic       *mimic // what refusal mimic learned; nil for refusal own
	limiter     *ratelimit.Limiter
	sampler     *ratelimit.Sampler
	lockEvents  *ratelimit.Sampler // of LOCKED refusals; nil for locked_events all
	flush       *sampledFlush      // reports the samplers' counts when a flood stops
	canonical   policy.Canonical
	aliasBody   *regexp.Regexp
	aliasValue  *regexp.Regexp
	hold        bool // the portal's answer is held until judged (aliases)
	basicOnly   bool // every request with Basic credentials is an attempt, whatever its method
	held        bool // h.app.Hold was called: Close lets go
	asn         func(string) int64

	uniform *mimic // the success answers a uniform reset_request replays; nil when off
}

// New makes the route of cfg: it fills cfg's defaults and compiles what needs
// no app (canonical steps, alias patterns, rules). It does not change cfg.
// Start runs the route.
func New(cfg Config) (*Route, error) {
	if cfg.Principal != nil {
		ps := *cfg.Principal
		cfg.Principal = &ps
	}
	if cfg.Aliases != nil {
		al := *cfg.Aliases
		cfg.Aliases = &al
	}
	if cfg.Lockout != nil {
		l := *cfg.Lockout
		cfg.Lockout = &l
	}
	if cfg.MFAToken != nil {
		t := *cfg.MFAToken
		cfg.MFAToken = &t
	}
	for _, p := range []**policy.PasswordSpec{&cfg.Password, &cfg.NewPassword} {
		if *p != nil {
			ps := **p
			*p = &ps
		}
	}
	if cfg.Breached != nil {
		b := *cfg.Breached
		cfg.Breached = &b
	}
	cfg.Methods = slices.Clone(cfg.Methods)
	h := &Route{Config: cfg}
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
		h.SessionTTL = 12 * time.Hour
	}
	if h.Entry == "" {
		h.Entry = "web"
	} else if e, ok := ParseEntry(h.Entry); ok {
		h.Entry = e
	}
	h.fillBreached()
	if h.OnAmbiguous == "" {
		h.OnAmbiguous = "refuse"
	}
	if h.OnMissingPrincipal == "" {
		h.OnMissingPrincipal = "refuse"
	}
	if h.Multicall == "" {
		h.Multicall = "count"
	}
	if h.SampleInterval <= 0 {
		h.SampleInterval = ratelimit.DefaultSampleInterval
	}
	h.canonical = policy.DefaultCanonical
	if len(h.Canonical) > 0 {
		c, err := policy.ParseCanonical(h.Canonical)
		if err != nil {
			return nil, fmt.Errorf("canonical: %w", err)
		}
		h.canonical = c
	}
	if al := h.Aliases; al != nil {
		if al.TTL == 0 {
			al.TTL = 90 * 24 * time.Hour
		}
		var err error
		if al.Body != "" {
			if h.aliasBody, err = regexp.Compile(al.Body); err != nil {
				return nil, fmt.Errorf("aliases body: %w", err)
			}
		}
		if al.CookieRegexp != "" {
			if h.aliasValue, err = regexp.Compile(al.CookieRegexp); err != nil {
				return nil, fmt.Errorf("aliases cookie_regexp: %w", err)
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
		l.Window = 15 * time.Minute
	}
	if l.Duration == 0 {
		l.Duration = 15 * time.Minute
	}
	if l.MaxDuration == 0 {
		l.MaxDuration = 24 * time.Hour
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
		l.SlotTTL = 30 * time.Second
	}
	if l.AdmissionWait == 0 {
		l.AdmissionWait = 2 * time.Second
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
		return nil, err
	}
	h.classifier = c
	if h.Refusal == "" {
		h.Refusal = "own"
	}
	if h.Refusal == "mimic" {
		h.mimic = new(mimic)
	}
	h.fillMFA()
	if h.Action == "login" && h.MFAToken != nil {
		h.hold = true // the pending login is remembered before its token reaches the client
	}
	h.captureRsp = h.uniform != nil || (h.Action == "login" && h.MFAToken != nil) || h.mimic != nil || c.NeedsBody() || h.AccountID != "" || h.DisplayName != "" || h.hold || h.Principal.XMLRPC != nil

	h.finishDone = func(err error) {
		if err != nil {
			h.app.StateError("finish", err)
		}
	}
	h.statePol = state.Policy{
		MaxFailures:     l.MaxFailures,
		Window:          l.Window,
		LockDuration:    l.Duration,
		Backoff:         l.Backoff,
		MaxLockDuration: l.MaxDuration,
		LockMemory:      24 * time.Hour,
		SlotTTL:         l.SlotTTL,

		PerPrefixMaxFailures: l.PerIPMaxFailures,
		KnownPrefixTTL:       l.KnownIPs,
	}
	if l.Permanent {
		h.statePol.LockDuration = 0
	}
	return h, nil
}

// Start connects the route to its app: it holds the app's event pipeline
// until Close, fills the defaults that are the app's, checks the route's
// event targets, builds its samplers and limiter and starts the reporter of
// sampled refusals. Validate checks the route after Start.
func (h *Route) Start(app App, env Env) error {
	h.app = app
	h.logger = cmp.Or(env.Logger, slog.Default())
	h.tel = env.Telemetry
	h.clientIP = env.ClientIP
	if h.clientIP == nil {
		h.clientIP = remoteHost
	}
	h.errorStatus = env.ErrorStatus
	h.asn = env.ASN
	h.app.Hold()
	h.held = true
	if h.Mode == "" {
		h.Mode = cmp.Or(env.Mode, "enforce")
	}
	if h.SaveToDatabase == nil {
		on := true
		h.SaveToDatabase = &on
	}
	h.pipe = env.Pipeline
	var err error
	if h.route, err = h.pipe.Route("connectors", h.Connectors, *h.SaveToDatabase); err != nil {
		return err
	}
	if len(h.pipe.Names(h.route)) == 0 {
		h.logger.Warn("login events of this route are lost: save_to_database is off (or the store is) and no active sink or connector receives them; add one or turn save_to_database on")
	}
	h.provisionLockedEvents()
	// Every route samples its refusals (admin IP blocks too), limits or not;
	// with Redis state, the fleet shares one budget per route.
	h.sampler = h.fleetSampler(ratelimit.NewSampler(h.SampleInterval, 0), "refused")
	if env.Limiter != nil {
		if h.limiter, err = env.Limiter(); err != nil {
			return err
		}
	}
	h.startFlush()
	return nil
}

// Close stops the reporter of sampled refusals, emitting the counts it still
// holds, and lets go of the app. It may be called more than once, and on a
// route whose Start failed.
func (h *Route) Close() {
	h.stopFlush()
	if h.held {
		h.held = false
		h.app.LetGo() // after the flush's last events
	}
}

// Serve serves one request of the route: a login attempt is read, admitted or
// refused, forwarded to next, judged and recorded; any other request goes to
// next untouched.
func (h *Route) Serve(w http.ResponseWriter, r *http.Request, next Handler) error {
	if !h.isAttemptRequest(r) {
		return next.ServeHTTP(w, r)
	}
	h.app.Hold()
	defer h.app.LetGo()
	switch {
	case h.Action == "logout":
		return h.serveLogout(w, r, next)
	case h.Action == "mfa":
		return h.serveMFA(w, r, next)
	case stepTypes[h.Action] != [2]event.Type{}:
		return h.serveStep(w, r, next)
	}
	return h.serveLogin(w, r, next)
}

// remoteHost is the host of r's RemoteAddr, the client IP when the server
// that runs the route says nothing else (Env.ClientIP).
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// isAttemptRequest reports whether r is a login attempt: by its method, or on a
// route that reads only HTTP Basic credentials, by carrying them (a REST API
// checks them on every method).
func (h *Route) isAttemptRequest(r *http.Request) bool {
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
func (h *Route) isAttempt(method string) bool {
	if len(h.Methods) > 0 {
		return slices.Contains(h.Methods, method)
	}
	if h.Action == "logout" {
		return method != http.MethodHead && method != http.MethodOptions
	}
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}
