package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/state"
)

// Lockouts is the lockout state as the admin API sees it. The Caddy app
// implements it over the state store, emitting the lock and unlock events.
type Lockouts interface {
	// LockAccount locks account for d (d <= 0: until unlocked) and emits
	// ACCOUNT_LOCKED; by names who locked it.
	LockAccount(ctx context.Context, account string, d time.Duration, by string) error
	// UnlockAccount lifts a lock, clears the failures and, when the account
	// was locked, emits ACCOUNT_UNLOCKED. It reports whether it was locked.
	UnlockAccount(ctx context.Context, account, by string) (bool, error)
	// BlockIP blocks an IP range (canonical CIDR) for d (d <= 0: until unblocked).
	BlockIP(ctx context.Context, cidr string, d time.Duration, by string) error
	// UnblockIP lifts the block of exactly that range and reports whether
	// there was one.
	UnblockIP(ctx context.Context, cidr, by string) (bool, error)
	// LockedAccounts lists the accounts locked now.
	LockedAccounts(ctx context.Context) ([]state.AccountStatus, error)
	// BlockedIPs lists the blocks in force now.
	BlockedIPs(ctx context.Context) ([]state.IPBlock, error)
	// AccountStatus returns one account's state.
	AccountStatus(ctx context.Context, account string) (state.AccountStatus, error)
}

// Audit event types of the privacy operations.
const (
	// DataExported records a data-access export of one identity's events.
	DataExported event.Type = "DATA_EXPORTED"
	// DataErased records the erasure or pseudonymisation of one identity.
	DataErased event.Type = "DATA_ERASED"
)

// Options configure the admin handler.
type Options struct {
	// Store is the login log. Required.
	Store logstore.Store
	// Lockouts is the lockout state; nil makes the lockout endpoints answer
	// 501 and leaves the users' lock status null.
	Lockouts Lockouts
	// Connectors returns the delivery counters of the connectors; nil: none.
	Connectors func() []connectors.Stats
	// Emit records the audit events of the privacy operations (DataExported,
	// DataErased); nil: they are only logged.
	Emit func(event.Event)
	// Tokens are the accepted bearer tokens. At least one is required.
	Tokens []Token
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives errors and audit records; nil means slog.Default().
	Logger *slog.Logger
	// WideBlockV4 and WideBlockV6: an IP block wider than /WideBlockV4 (IPv4)
	// or /WideBlockV6 (IPv6) needs "force": true. Default: 16 and 48.
	WideBlockV4, WideBlockV6 int
}

// handler is the admin API.
type handler struct {
	store      logstore.Store
	lockouts   Lockouts
	connectors func() []connectors.Stats
	emit       func(event.Event)
	tokens     []Token
	now        func() time.Time
	log        *slog.Logger
	wideV4     int
	wideV6     int
}

// New returns the admin API handler. It serves the paths listed in the
// package documentation relative to its mount point: the Caddy module strips
// its own prefix before calling it.
func New(o Options) (http.Handler, error) {
	if o.Store == nil {
		return nil, errors.New("admin: a login log store is required")
	}
	if len(o.Tokens) == 0 {
		return nil, errors.New("admin: at least one bearer token is required")
	}
	for i, t := range o.Tokens {
		if t.Scope != ScopeRead && t.Scope != ScopeAdmin {
			return nil, fmt.Errorf("admin: tokens[%d]: scope must be read or admin", i)
		}
		if t.Hash == ([32]byte{}) {
			return nil, fmt.Errorf("admin: tokens[%d]: no hash", i)
		}
	}
	h := &handler{store: o.Store, lockouts: o.Lockouts, connectors: o.Connectors, emit: o.Emit,
		tokens: append([]Token(nil), o.Tokens...), now: o.Now, log: o.Logger, wideV4: o.WideBlockV4, wideV6: o.WideBlockV6}
	if h.wideV4 <= 0 {
		h.wideV4 = 16
	}
	if h.wideV6 <= 0 {
		h.wideV6 = 48
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	return h, nil
}

// call is what a route's function gets besides the request.
type call struct {
	token Token
	// tail is the unescaped path parameter ({id}, {principal}, {ip}).
	tail string
}

// route is one method on one path. A route function returns an error to
// answer in the error shape; it returns nil once it has written its answer.
type route struct {
	method string
	scope  Scope
	serve  func(h *handler, w http.ResponseWriter, r *http.Request, c *call) error
	// query lists the query parameters the route takes; checkQuery refuses
	// any other, and a repeated one that takes one value.
	query []string
}

// paths maps each fixed path to its routes.
var paths = map[string][]route{
	"/api/v1/login-logs":        {{http.MethodGet, ScopeRead, (*handler).loginLogs, logsQuery}},
	"/api/v1/stats":             {{http.MethodGet, ScopeRead, (*handler).stats, statsQuery}},
	"/api/v1/users":             {{http.MethodGet, ScopeRead, (*handler).users, usersQuery}},
	"/api/v1/suspicious":        {{http.MethodGet, ScopeRead, (*handler).suspicious, suspiciousQuery}},
	"/api/v1/lockouts":          {{http.MethodGet, ScopeRead, (*handler).lockoutList, nil}},
	"/api/v1/lockouts/accounts": {{http.MethodPost, ScopeAdmin, (*handler).lock, nil}},
	"/api/v1/lockouts/ips":      {{http.MethodPost, ScopeAdmin, (*handler).block, nil}},
	"/api/v1/connectors":        {{http.MethodGet, ScopeRead, (*handler).connectorList, nil}},
	"/api/admin/logins":         {{http.MethodGet, ScopeRead, (*handler).logins, loginsQuery}},
	"/api/v1/privacy/export":    {{http.MethodGet, ScopeAdmin, (*handler).privacyExport, privacyExportQuery}},
	"/api/v1/privacy/erase":     {{http.MethodPost, ScopeAdmin, (*handler).privacyErase, nil}},
	"/api/v1/whoami":            {{http.MethodGet, ScopeRead, (*handler).whoami, nil}},
	"/api/v1/audit-logs":        {{http.MethodGet, ScopeRead, (*handler).auditLogs, auditLogsQuery}},
}

// prefixes maps each path that ends in a parameter to its routes.
var prefixes = []struct {
	prefix string
	routes []route
}{
	{"/api/v1/login-logs/", []route{{http.MethodGet, ScopeRead, (*handler).loginLog, nil}}},
	{"/api/v1/lockouts/accounts/", []route{{http.MethodDelete, ScopeAdmin, (*handler).unlock, nil}}},
	{"/api/v1/lockouts/ips/", []route{{http.MethodDelete, ScopeAdmin, (*handler).unblock, nil}}},
}

// ServeHTTP authenticates, routes and answers one request.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	path := r.URL.EscapedPath()
	if isConsolePath(path) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			h.writeError(w, r, &apiError{http.StatusMethodNotAllowed, api.NameMethodNotAllowed, r.Method + " is not allowed on " + r.URL.Path})
			return
		}
		h.console(w, r)
		return
	}
	if path != "/api" && !strings.HasPrefix(path, "/api/") {
		h.writeError(w, r, notFound("Could not find %q.", r.URL.Path))
		return
	}
	tok, aerr := h.authenticate(r, path)
	if aerr != nil {
		h.writeError(w, r, aerr)
		return
	}
	routes, tail, ok := match(path)
	if !ok {
		h.writeError(w, r, notFound("Could not find %q.", r.URL.Path))
		return
	}
	c := &call{token: tok}
	if tail != "" {
		t, err := url.PathUnescape(tail)
		if err != nil {
			h.writeError(w, r, badParam("path", "malformed escape in %q", tail))
			return
		}
		c.tail = t
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	var rt *route
	allowed := make([]string, 0, 2)
	for i := range routes {
		allowed = append(allowed, routes[i].method)
		if routes[i].method == method {
			rt = &routes[i]
		}
	}
	if rt == nil {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		h.writeError(w, r, &apiError{http.StatusMethodNotAllowed, api.NameMethodNotAllowed,
			r.Method + " is not allowed on " + r.URL.Path + " (allowed: " + strings.Join(allowed, ", ") + ")"})
		return
	}
	if aerr := allow(tok, rt.scope, r); aerr != nil {
		h.writeError(w, r, aerr)
		return
	}
	if err := checkQuery(r.URL.RawQuery, rt.query); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := rt.serve(h, w, r, c); err != nil {
		h.writeError(w, r, err)
	}
}

// match finds the routes of an escaped path and its trailing parameter.
func match(path string) (routes []route, tail string, ok bool) {
	if rs, ok := paths[path]; ok {
		return rs, "", true
	}
	for _, p := range prefixes {
		if t, ok := strings.CutPrefix(path, p.prefix); ok && t != "" {
			return p.routes, t, true
		}
	}
	return nil, "", false
}

// writeJSON answers v as JSON, without HTML escaping.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		// Only values of this package are marshalled: this cannot happen, but
		// answer something well-formed if it does.
		status = http.StatusInternalServerError
		b = []byte(`{"id":"00000000-0000-0000-0000-000000000000","name":"InternalError","message":"cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// marshal encodes v as JSON without HTML escaping and without a newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
