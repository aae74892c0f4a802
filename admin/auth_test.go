package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/admin/internal/admintest"
)

func TestAuthentication(t *testing.T) {
	f := admintest.New(t, nil, nil)
	paths := []string{"/api/v1/login-logs", "/api/v1/stats", "/api/v1/users", "/api/v1/suspicious", "/api/v1/lockouts",
		"/api/v1/connectors", "/api/admin/logins", "/api/v1/login-logs/0195a1b2-0000-7000-8000-000000000000", "/api/v1/nothing-here"}
	for _, p := range paths {
		a := call(t, f, http.MethodGet, p, "", "")
		msg := errShape(t, a, http.StatusUnauthorized, "AuthenticationRequired")
		if !strings.Contains(msg, "no Authorization header") {
			t.Errorf("%s without token: message %q", p, msg)
		}
		if a.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate header", p)
		}
		msg = errShape(t, call(t, f, http.MethodGet, p, "wrong-token", ""), http.StatusUnauthorized, "AuthenticationRequired")
		if !strings.Contains(msg, "not valid") {
			t.Errorf("%s with a wrong token: message %q", p, msg)
		}
		errShape(t, call(t, f, http.MethodGet, p, "", "", "Authorization", "Basic YWRtaW46YWRtaW4="), http.StatusUnauthorized, "AuthenticationRequired")
	}
	// A read token reads, an admin token too.
	for _, tok := range []string{admintest.ReadToken, admintest.AdminToken} {
		if a := call(t, f, http.MethodGet, "/api/v1/stats", tok, ""); a.status != http.StatusOK {
			t.Errorf("GET stats with a valid token: %d %s", a.status, a.body)
		}
	}
	// A read token may not change anything nor export one identity.
	admin403 := []struct{ method, path, body string }{
		{http.MethodPost, "/api/v1/lockouts/accounts", `{"principal":"bob"}`},
		{http.MethodDelete, "/api/v1/lockouts/accounts/bob", ""},
		{http.MethodPost, "/api/v1/lockouts/ips", `{"ip":"10.9.9.9"}`},
		{http.MethodDelete, "/api/v1/lockouts/ips/10.9.9.9", ""},
		{http.MethodGet, "/api/v1/privacy/export?principal=bob", ""},
		{http.MethodPost, "/api/v1/privacy/erase", `{"principal":"bob"}`},
	}
	for _, c := range admin403 {
		msg := errShape(t, call(t, f, c.method, c.path, admintest.ReadToken, c.body), http.StatusForbidden, "NoAccess")
		if !strings.Contains(msg, "admin scope") {
			t.Errorf("%s %s: message %q", c.method, c.path, msg)
		}
	}
	if len(f.Emitted()) != 0 {
		t.Errorf("refused requests emitted %v", f.Emitted())
	}
	if a := call(t, f, http.MethodDelete, "/api/v1/lockouts/accounts/bob", admintest.AdminToken, ""); a.status != http.StatusOK {
		t.Errorf("admin token on unlock: %d %s", a.status, a.body)
	}
}

func TestRouting(t *testing.T) {
	f := admintest.New(t, nil, nil)
	// The console's page needs no token.
	a := call(t, f, http.MethodGet, "/", "", "")
	if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(a.body), "loginguard console") || !strings.Contains(string(a.body), "console/app.js") {
		t.Errorf("GET /: %d %s %s", a.status, a.header.Get("Content-Type"), a.body)
	}
	errShape(t, call(t, f, http.MethodPost, "/", "", ""), http.StatusMethodNotAllowed, "MethodNotAllowedError")
	errShape(t, call(t, f, http.MethodGet, "/favicon.ico", "", ""), http.StatusNotFound, "NotFoundError")
	errShape(t, get(t, f, "/api/v1/nothing-here"), http.StatusNotFound, "NotFoundError")
	a = call(t, f, http.MethodDelete, "/api/v1/login-logs", admintest.AdminToken, "")
	errShape(t, a, http.StatusMethodNotAllowed, "MethodNotAllowedError")
	if a.header.Get("Allow") != "GET" {
		t.Errorf("Allow %q", a.header.Get("Allow"))
	}
	// HEAD is a GET without body.
	if a := call(t, f, http.MethodHead, "/api/v1/stats", admintest.ReadToken, ""); a.status != http.StatusOK || len(a.body) != 0 {
		t.Errorf("HEAD stats: %d %q", a.status, a.body)
	}
}

func TestNewValidates(t *testing.T) {
	f := admintest.New(t, nil, nil)
	tok := []admin.Token{{Hash: admin.HashToken("x"), Scope: admin.ScopeRead}}
	cases := []struct {
		name string
		o    admin.Options
		want string
	}{
		{"no store", admin.Options{Tokens: tok}, "store"},
		{"no tokens", admin.Options{Store: f.Store}, "token"},
		{"bad scope", admin.Options{Store: f.Store, Tokens: []admin.Token{{Hash: admin.HashToken("x")}}}, "scope"},
		{"no hash", admin.Options{Store: f.Store, Tokens: []admin.Token{{Scope: admin.ScopeAdmin}}}, "hash"},
	}
	for _, c := range cases {
		if _, err := admin.New(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one about %s", c.name, err, c.want)
		}
	}
	if s, err := admin.ParseScope(" Admin "); err != nil || s != admin.ScopeAdmin || s.String() != "admin" {
		t.Errorf("ParseScope: %v %v", s, err)
	}
	if _, err := admin.ParseScope("root"); err == nil {
		t.Error("ParseScope(root): no error")
	}
}

// TestRawToken: the clients of Unleash's login history API send
// "Authorization: <token>"; /api/admin/logins takes it, every other route
// wants Bearer, and each 401 says which forms its route accepts.
func TestRawToken(t *testing.T) {
	f := admintest.New(t, nil, nil)
	if a := call(t, f, http.MethodGet, "/api/admin/logins", "", "", "Authorization", admintest.ReadToken); a.status != http.StatusOK {
		t.Fatalf("raw token on /api/admin/logins: %d %s", a.status, a.body)
	}
	if a := call(t, f, http.MethodGet, "/api/admin/logins", admintest.ReadToken, ""); a.status != http.StatusOK {
		t.Fatalf("bearer token on /api/admin/logins: %d %s", a.status, a.body)
	}
	msg := errShape(t, call(t, f, http.MethodGet, "/api/admin/logins", "", "", "Authorization", "wrong-token"), http.StatusUnauthorized, "AuthenticationRequired")
	if !strings.Contains(msg, "not valid") {
		t.Errorf("wrong raw token: message %q", msg)
	}
	msg = errShape(t, call(t, f, http.MethodGet, "/api/admin/logins", "", ""), http.StatusUnauthorized, "AuthenticationRequired")
	if !strings.Contains(msg, "Authorization: Bearer <token> or Authorization: <token>") {
		t.Errorf("/api/admin/logins 401 does not name both forms: %q", msg)
	}
	for _, p := range []string{"/api/v1/login-logs", "/api/v1/stats"} {
		msg := errShape(t, call(t, f, http.MethodGet, p, "", "", "Authorization", admintest.ReadToken), http.StatusUnauthorized, "AuthenticationRequired")
		if !strings.Contains(msg, "send Authorization: Bearer <token>.") || strings.Contains(msg, "or Authorization") {
			t.Errorf("%s with a raw token: message %q, want Bearer only", p, msg)
		}
	}
}
