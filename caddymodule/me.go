package caddymodule

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/gateway"
	"github.com/loginguard/loginguard/selfservice"
)

func init() {
	caddy.RegisterModule(new(MeHandler))
	httpcaddyfile.RegisterDirective("loginguard_me", parseMeDirective)
	httpcaddyfile.RegisterDirectiveOrder("loginguard_me", httpcaddyfile.Before, "reverse_proxy")
}

// MeHandler serves the portal's users their own recent sign-ins (package
// selfservice) at Path on the portal's site: the logins and login failures of
// the account whose session cookie the request carries, the session that a
// loginguard login route recorded at that account's successful login (its
// session_cookie option) and that its logout route has not ended. Any other
// request goes on to the next handler.
type MeHandler struct {
	// Path is where the page is served, matched exactly. Default:
	// /.loginguard/me/logins.
	Path string `json:"path,omitempty"`
	// SessionCookie is the name of the portal's session cookie, as the
	// session_cookie of the login route (a trailing "*" matches any rest of
	// the name). Required.
	SessionCookie string `json:"session_cookie,omitempty"`
	// Realm: only sessions of logins on routes of this realm are honoured.
	// Default: "" (the routes that name no realm).
	Realm string `json:"realm,omitempty"`
	// Limit is the most logins shown, 1 to 1000. Default: 20.
	Limit int `json:"limit,omitempty"`
	// Since is how far back logins are shown. Default: 30d.
	Since caddy.Duration `json:"since,omitempty"`

	app  *App
	page *selfservice.Page
}

// DefaultMePath is where MeHandler serves by default.
const DefaultMePath = "/.loginguard/me/logins"

// maxMeCookies bounds the cookies matching SessionCookie looked up per request.
const maxMeCookies = 4

// CaddyModule returns the Caddy module information.
func (*MeHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.loginguard_me",
		New: func() caddy.Module { return new(MeHandler) },
	}
}

// Provision fills the defaults and finds the loginguard app.
func (m *MeHandler) Provision(ctx caddy.Context) error {
	if m.Path == "" {
		m.Path = DefaultMePath
	}
	if m.Limit == 0 {
		m.Limit = selfservice.DefaultLimit
	}
	if m.Since == 0 {
		m.Since = caddy.Duration(selfservice.DefaultSince)
	}
	appIface, err := ctx.App("loginguard")
	if err != nil {
		return fmt.Errorf("loading loginguard app: %w", err)
	}
	m.app = appIface.(*App)
	m.page = &selfservice.Page{
		Store:  func() selfservice.Querier { return m.app.LogStore() }, // nil when off
		Owner:  m.owner,
		Limit:  m.Limit,
		Since:  time.Duration(m.Since),
		Logger: ctx.Slogger(),
	}
	return nil
}

// Validate rejects a bad config, naming the field.
func (m *MeHandler) Validate() error {
	if !strings.HasPrefix(m.Path, "/") {
		return fmt.Errorf("path: %q must start with /", m.Path)
	}
	if m.SessionCookie == "" {
		return fmt.Errorf("session_cookie: required (the portal's session cookie, as on its loginguard login route)")
	}
	if !gateway.ValidCookieName(strings.TrimSuffix(m.SessionCookie, "*")) {
		return fmt.Errorf("session_cookie: %q is not a cookie name", m.SessionCookie)
	}
	if m.Limit < 1 || m.Limit > selfservice.MaxLimit {
		return fmt.Errorf("limit: must be between 1 and %d, got %d", selfservice.MaxLimit, m.Limit)
	}
	if m.Since < 0 {
		return fmt.Errorf("since: must be positive")
	}
	return nil
}

func (m *MeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if r.URL.Path != m.Path {
		return next.ServeHTTP(w, r)
	}
	m.page.ServeHTTP(w, r)
	return nil
}

// owner finds the session behind the request's session cookie, by the hash
// the login route stored it under (gateway.HashSession), without ending it.
func (m *MeHandler) owner(r *http.Request) (selfservice.Owner, bool, error) {
	tried := 0
	for _, c := range r.Cookies() {
		if c.Value == "" || !gateway.CookieNameMatches(m.SessionCookie, c.Name) {
			continue
		}
		if tried++; tried > maxMeCookies {
			break
		}
		s, ok, err := m.app.Store().Session(r.Context(), gateway.HashSession(c.Value))
		if err != nil {
			m.app.StateError("get_session", err)
			return selfservice.Owner{}, false, err
		}
		if ok && m.realmOf(s.Account) == m.Realm {
			return selfservice.Owner{Source: event.Source(s.Source), Identity: s.Principal, PortalID: s.PortalID}, true, nil
		}
	}
	return selfservice.Owner{}, false, nil
}

// realmOf is the realm of a lockout key (see gateway.AccountKey): the part before
// the first "|" when that is a realm of the config's routes, else "".
func (m *MeHandler) realmOf(account string) string {
	if realm, _, ok := strings.Cut(account, "|"); ok {
		if _, known := m.app.realms.Load(realm); known {
			return realm
		}
	}
	return ""
}

// parseMeDirective reads
//
//	loginguard_me [<path>] {
//	    session_cookie <name pattern>
//	    realm          <realm>
//	    limit          <n>
//	    since          <duration>
//	}
func parseMeDirective(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	m := new(MeHandler)
	if err := m.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return h.NewRoute(nil, m), nil
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler (see parseMeDirective).
func (m *MeHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	if d.NextArg() {
		m.Path = d.Val()
		if !strings.HasPrefix(m.Path, "/") {
			return d.Errf("loginguard_me: the path %q must start with / (matchers are not taken: the path is the page's)", m.Path)
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if !d.NextArg() {
			return d.Errf("loginguard_me %s: missing value", opt)
		}
		v := d.Val()
		if d.NextArg() {
			return d.Errf("loginguard_me %s: want one value", opt)
		}
		switch opt {
		case "session_cookie":
			m.SessionCookie = v
		case "realm":
			m.Realm = v
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil {
				return d.Errf("loginguard_me limit: %q is not a number", v)
			}
			m.Limit = n
		case "since":
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return d.Errf("loginguard_me since: %v", err)
			}
			m.Since = caddy.Duration(dur)
		default:
			return d.Errf("loginguard_me: unknown option %q", opt)
		}
	}
	return nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*MeHandler)(nil)
	_ caddy.Validator             = (*MeHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*MeHandler)(nil)
	_ caddyfile.Unmarshaler       = (*MeHandler)(nil)
)
