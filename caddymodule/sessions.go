package caddymodule

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/loginguard/loginguard/gateway"
)

func init() {
	caddy.RegisterModule(new(SessionsHandler))
	httpcaddyfile.RegisterDirective("loginguard_sessions", parseSessionsDirective)
	httpcaddyfile.RegisterDirectiveOrder("loginguard_sessions", httpcaddyfile.Before, "reverse_proxy")
}

// SessionsHandler follows, on the portal's other routes, the sessions that a
// loginguard login route recorded (its session_cookie): each request with
// the cookie touches its session; a cookie with no live session (unknown or
// ended) is an invalid user session (SESSION_INVALID, sampled); a live
// session used from another network than its login's is an IP conflict
// (SESSION_IP_CONFLICT). The app ends sessions past IdleTimeout or
// AbsoluteTimeout (SESSION_ENDED). A request without the cookie costs
// nothing.
type SessionsHandler struct {
	// SessionCookie is the portal's session cookie, as the login route's
	// session_cookie (a trailing "*" matches any rest of the name). Required.
	SessionCookie string `json:"session_cookie,omitempty"`
	// IdleTimeout ends a session that no request carried for that long.
	// Default: 0, off.
	IdleTimeout caddy.Duration `json:"idle_timeout,omitempty"`
	// AbsoluteTimeout ends a session that long after its login. Default: 0,
	// off.
	AbsoluteTimeout caddy.Duration `json:"absolute_timeout,omitempty"`
	// SweepInterval is how often the app looks for sessions past a timeout.
	// Default: 30s.
	SweepInterval caddy.Duration `json:"sweep_interval,omitempty"`
	// IPConflict is how far a session's requests may stray from the network
	// it logged in from. Default: ipv4_prefix 24, ipv6_prefix 48, asn on.
	IPConflict *gateway.IPConflict `json:"ip_conflict,omitempty"`
	// OnIPConflict is log (default: an event, the request goes on) or refuse
	// (403 and the session ends with status ip_conflict).
	OnIPConflict string `json:"on_ip_conflict,omitempty"`
	// OnInvalid is log (default: a sampled event, the request goes on) or
	// refuse (401) for a cookie with no live session.
	OnInvalid string `json:"on_invalid,omitempty"`

	app *App
	w   *gateway.Sessions
}

// CaddyModule returns the Caddy module information.
func (*SessionsHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.loginguard_sessions",
		New: func() caddy.Module { return new(SessionsHandler) },
	}
}

// Provision finds the loginguard app, builds the watcher and gives the app
// the timeouts to sweep.
func (m *SessionsHandler) Provision(ctx caddy.Context) error {
	if m.SweepInterval == 0 {
		m.SweepInterval = caddy.Duration(30 * time.Second)
	}
	if m.SweepInterval < 0 {
		return fmt.Errorf("sweep_interval: must be positive")
	}
	appIface, err := ctx.App("loginguard")
	if err != nil {
		return fmt.Errorf("loading loginguard app: %w", err)
	}
	m.app = appIface.(*App)
	w, err := gateway.NewSessions(gateway.SessionsConfig{
		SessionCookie: m.SessionCookie, IdleTimeout: time.Duration(m.IdleTimeout), AbsoluteTimeout: time.Duration(m.AbsoluteTimeout),
		IPConflict: m.IPConflict, OnIPConflict: m.OnIPConflict, OnInvalid: m.OnInvalid,
	}, m.app, gateway.Env{Logger: ctx.Slogger(), Pipeline: m.app.pipe, ClientIP: clientIP, ASN: m.app.asnOf})
	if err != nil {
		return err
	}
	m.w = w
	if m.IdleTimeout > 0 || m.AbsoluteTimeout > 0 {
		m.app.sweep.Add(time.Duration(m.SweepInterval), time.Duration(m.IdleTimeout), time.Duration(m.AbsoluteTimeout))
	}
	return nil
}

func (m *SessionsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	return m.w.ServeHTTP(w, r, next)
}

// asnOf is the autonomous system of addr from the enricher's ASN database, 0
// when unknown or none.
func (a *App) asnOf(addr string) int64 {
	if a.enricher == nil {
		return 0
	}
	return a.enricher.Geo(addr).ASN
}

// parseSessionsDirective reads
//
//	loginguard_sessions {
//	    session_cookie   <name pattern>
//	    idle_timeout     <duration>
//	    absolute_timeout <duration>
//	    sweep_interval   <duration>
//	    ip_conflict {
//	        ipv4_prefix <bits>
//	        ipv6_prefix <bits>
//	        asn         on|off
//	    }
//	    on_ip_conflict   log|refuse
//	    on_invalid       log|refuse
//	}
func parseSessionsDirective(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	m := new(SessionsHandler)
	if err := m.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return h.NewRoute(nil, m), nil
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler (see parseSessionsDirective).
func (m *SessionsHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	if d.NextArg() {
		return d.Errf("loginguard_sessions: takes no arguments (matchers are not taken: put it in a route)")
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if opt == "ip_conflict" {
			if d.NextArg() {
				return d.ArgErr()
			}
			if err := m.parseIPConflict(d); err != nil {
				return err
			}
			continue
		}
		if !d.NextArg() {
			return d.Errf("loginguard_sessions %s: missing value", opt)
		}
		v := d.Val()
		if d.NextArg() {
			return d.Errf("loginguard_sessions %s: want one value", opt)
		}
		switch opt {
		case "session_cookie":
			m.SessionCookie = v
		case "idle_timeout", "absolute_timeout", "sweep_interval":
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return d.Errf("loginguard_sessions %s: %v", opt, err)
			}
			*map[string]*caddy.Duration{"idle_timeout": &m.IdleTimeout, "absolute_timeout": &m.AbsoluteTimeout, "sweep_interval": &m.SweepInterval}[opt] = caddy.Duration(dur)
		case "on_ip_conflict":
			m.OnIPConflict = v
		case "on_invalid":
			m.OnInvalid = v
		default:
			return d.Errf("loginguard_sessions: unknown option %q", opt)
		}
	}
	return nil
}

func (m *SessionsHandler) parseIPConflict(d *caddyfile.Dispenser) error {
	c := new(gateway.IPConflict)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if !d.NextArg() {
			return d.Errf("loginguard_sessions ip_conflict %s: missing value", opt)
		}
		v := d.Val()
		if d.NextArg() {
			return d.Errf("loginguard_sessions ip_conflict %s: want one value", opt)
		}
		switch opt {
		case "ipv4_prefix", "ipv6_prefix":
			n, err := strconv.Atoi(v)
			if err != nil {
				return d.Errf("loginguard_sessions ip_conflict %s: %q is not a number", opt, v)
			}
			*map[string]*int{"ipv4_prefix": &c.IPv4Prefix, "ipv6_prefix": &c.IPv6Prefix}[opt] = n
		case "asn":
			on := v == "on"
			if !on && v != "off" {
				return d.Errf("loginguard_sessions ip_conflict asn: want on or off, got %q", v)
			}
			c.ASN = &on
		default:
			return d.Errf("loginguard_sessions ip_conflict: unknown option %q", opt)
		}
	}
	m.IPConflict = c
	return nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*SessionsHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*SessionsHandler)(nil)
	_ caddyfile.Unmarshaler       = (*SessionsHandler)(nil)
	_ gateway.SessionsApp         = (*App)(nil)
)
