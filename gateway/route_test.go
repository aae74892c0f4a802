package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// TestPrincipalSpecCompleted: configuring one body format fills the other, so a
// client cannot dodge lockout by switching from JSON to a form.
func TestPrincipalSpecCompleted(t *testing.T) {
	h := provisioned(t, `{"principal":{"json":"/login"}}`)
	if h.Principal.FormField != "login" {
		t.Errorf("form field %q, want login", h.Principal.FormField)
	}
	h = provisioned(t, `{"principal":{"form":"user"}}`)
	if h.Principal.JSONPointer != "/user" {
		t.Errorf("pointer %q, want /user", h.Principal.JSONPointer)
	}
	h = provisioned(t, `{"principal":{"json":"/a/b"}}`)
	if h.Principal.FormField != "" {
		t.Errorf("a nested pointer has no form twin, got %q", h.Principal.FormField)
	}
}

// portalStub answers like the demo portal's /api/login.
type portalStub struct{ ok bool }

func (p portalStub) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	if p.ok {
		w.Header().Add("Set-Cookie", "portal_session=0123456789abcdef0123456789abcdef; Path=/; HttpOnly")
		w.WriteHeader(200)
		_, err := w.Write([]byte(`{"status":"ACTIVE","account":{"id":"acc-active","displayName":"Active User"}}`))
		return err
	}
	w.WriteHeader(401)
	_, err := w.Write([]byte(`{"code":"USER_NOT_FOUND","message":"No user registered with this email address was found."}`))
	return err
}

const benchConfig = `{
	"portal_id": "bench",
	"rules": [
		{"outcome": "success", "status": ["200"], "cookie": "portal_session"},
		{"outcome": "failure", "status": ["4xx"], "json": "/code",
		 "reasons": {"BAD_CREDENTIALS": "BAD_CREDENTIALS", "USER_NOT_FOUND": "ACCOUNT_NOT_FOUND"}}
	],
	"account_id": "/account/id",
	"display_name": "/account/displayName",
	"session_cookie": "portal_session"
}`

// BenchmarkHandlerLogin measures the route's whole hot path for one login
// attempt (read the body, admit, forward to a stub, classify, record, emit) with
// the in-memory state and no sink. Compare with BenchmarkHandlerBaseline, the
// same request served by the stub alone.
func BenchmarkHandlerLogin(b *testing.B) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"success", true}, {"unknown-account", false}} {
		b.Run(tc.name, func(b *testing.B) {
			h := provisioned(b, benchConfig)
			benchServe(b, tc.ok, func(w http.ResponseWriter, r *http.Request) error {
				return h.Serve(w, r, portalStub{tc.ok})
			})
		})
	}
}

// BenchmarkHandlerBaseline is the stub portal alone: the floor of BenchmarkHandlerLogin.
func BenchmarkHandlerBaseline(b *testing.B) {
	benchServe(b, true, portalStub{true}.ServeHTTP)
}

func benchServe(b *testing.B, ok bool, serve func(http.ResponseWriter, *http.Request) error) {
	body := `{"email":"user@example.org","password":"correct-horse"}`
	if ok {
		body = `{"email":"active@example.com","password":"correct-horse"}`
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest(http.MethodPost, "/api/login", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = "192.0.2.10:40000"
		w := httptest.NewRecorder()
		if err := serve(w, r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMulticallWithoutPrincipal: a multicall whose calls carry no readable
// username, on a route that forwards such attempts, is forwarded uncounted (it
// once indexed an empty list of accounts).
func TestMulticallWithoutPrincipal(t *testing.T) {
	h := provisioned(t, `{"principal":{"xmlrpc":{"param":1}},"on_missing_principal":"forward"}`)
	call := `<value><struct><member><name>methodName</name><value><string>wp.getPosts</string></value></member>` +
		`<member><name>params</name><value><array><data><value><string>1</string></value><value><struct></struct></value></data></array></value></member></struct></value>`
	body := `<?xml version="1.0"?><methodCall><methodName>system.multicall</methodName><params><param><value><array><data>` +
		call + call + `</data></array></value></param></params></methodCall>`
	r := httptest.NewRequest(http.MethodPost, "/xmlrpc.php", strings.NewReader(body))
	r.Header.Set("Content-Type", "text/xml")
	reached := false
	w := httptest.NewRecorder()
	err := h.Serve(w, r, HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		reached = true
		w.WriteHeader(http.StatusOK)
		return nil
	}))
	if err != nil || !reached || w.Code != http.StatusOK {
		t.Fatalf("err %v, reached %v, status %d; want it forwarded", err, reached, w.Code)
	}
}

// TestRouteHoldsTheApp: a started route holds the app's pipeline until Close,
// each request for its duration, and registers its last report of sampled
// refusals with the app.
func TestRouteHoldsTheApp(t *testing.T) {
	h := provisioned(t, `{}`)
	app := h.app.(*testApp)
	if app.users != 1 || len(app.cleanups) != 1 {
		t.Fatalf("after Start: %d holds, %d cleanups; want 1 and 1", app.users, len(app.cleanups))
	}
	r := httptest.NewRequest(http.MethodPost, "/api/login", strings.NewReader(`{"email":"a@example.com","password":"x"}`))
	r.Header.Set("Content-Type", "application/json")
	holds := 0
	if err := h.Serve(httptest.NewRecorder(), r, HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		holds = app.users
		return portalStub{}.ServeHTTP(w, r)
	})); err != nil {
		t.Fatal(err)
	}
	h.Close()
	h.Close()
	if holds != 2 || app.users != 0 {
		t.Errorf("%d holds while serving, %d after Close; want 2 and 0", holds, app.users)
	}
}

// TestBlockedIP: an attempt from an IP the admin blocked is answered 403 and
// never reaches the portal; the client IP is the request's RemoteAddr when
// the server gives none.
func TestBlockedIP(t *testing.T) {
	h := provisioned(t, `{}`)
	h.app.(*testApp).blocked = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	r := httptest.NewRequest(http.MethodPost, "/api/login", strings.NewReader(`{"email":"a@example.com","password":"x"}`))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = "192.0.2.9:5555"
	w := httptest.NewRecorder()
	if err := h.Serve(w, r, HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		t.Error("a blocked IP's attempt reached the portal")
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusForbidden {
		t.Errorf("status %d, want 403", w.Code)
	}
}
