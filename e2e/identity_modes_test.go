package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

const modesCaddyfile = `{
	admin {$CADDY_ADMIN}
	loginguard {
		connector events file {$LOGINGUARD_EVENTS}
		APP
	}
}
http://:{$LOGINGUARD_PORT} {
	bind 127.0.0.1
	loginguard /api/login {
		principal form email
		on_ambiguous count_all
		on_missing_principal forward
		rule success {
			status 200
		}
		rule failure BAD_CREDENTIALS {
			status 401
		}
	}
	reverse_proxy {$PORTAL_UPSTREAM}
}
`

// TestAmbiguousCountAll: with on_ambiguous count_all an ambiguous attempt reaches
// the portal and its failure counts against every account it named, so both lock.
func TestAmbiguousCountAll(t *testing.T) {
	s := newStack(t, stackOptions{Caddyfile: strings.Replace(modesCaddyfile, "APP", "", 1)})
	for i := range 5 {
		resp, _ := s.post("/api/login", "application/x-www-form-urlencoded", "email=active@example.com&email=waiting@example.com&password=wrong")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("ambiguous attempt %d: status %d, want the portal's 401", i+1, resp.StatusCode)
		}
	}
	if got := s.received()["active@example.com"]; got != 5 {
		t.Fatalf("the portal received %d attempts, want 5 (forwarded)", got)
	}
	for _, who := range []string{"active@example.com", "waiting@example.com"} {
		resp, body := s.post("/api/login", "application/x-www-form-urlencoded", "email="+who+"&password=correct-horse")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "AUTHENTICATION_FAILED") {
			t.Errorf("%s after 5 ambiguous failures: %d %s; want the gateway's lock answer", who, resp.StatusCode, body)
		}
	}
	evs := waitAttempts(t, s.readEvents, 7)
	var locked []string
	for _, e := range evs {
		if e.EventType == event.AccountLocked {
			locked = append(locked, str(e.Email))
		}
		if e.EventType == event.LoginFailure && e.Reason == event.BadCredentials && len(e.Candidates) != 2 {
			t.Errorf("ambiguous failure without its two candidates: %+v", e.Candidates)
		}
	}
	slices.Sort(locked)
	if !slices.Equal(locked, []string{"active@example.com", "waiting@example.com"}) {
		t.Errorf("locked %v, want both candidates", locked)
	}
}

// TestMissingPrincipalForward: with on_missing_principal forward an attempt
// without a principal reaches the portal; when the portal lets it in, the event
// says MISSING_PRINCIPAL and the unattributed_success alert fires.
func TestMissingPrincipalForward(t *testing.T) {
	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK) // a portal that lets anyone in
	}))
	defer portal.Close()
	cf := strings.Replace(modesCaddyfile, "APP", "alerts {\n\t\t\tunattributed_success\n\t\t}", 1)
	s := newStack(t, stackOptions{Caddyfile: cf, Upstream: strings.TrimPrefix(portal.URL, "http://")})
	resp, _ := s.post("/api/login", "application/x-www-form-urlencoded", "user=someone&password=x")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want the portal's 200", resp.StatusCode)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		evs := s.readEvents()
		var success, alert bool
		for _, e := range evs {
			success = success || (e.EventType == event.LoginSuccess && e.Reason == event.MissingPrincipal && e.Email == nil)
			alert = alert || (e.EventType == event.Alert && e.Message != nil && strings.Contains(*e.Message, "rule=unattributed_success"))
		}
		if success && alert {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %+v: want a LOGIN_SUCCESS with reason MISSING_PRINCIPAL and an unattributed_success alert", evs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// doorsCaddyfile has a route per door of a stub portal: a form login whose
// aliases come from the account id, XML-RPC with multicall refused, and a
// header-borne principal.
const doorsCaddyfile = `{
	admin {$CADDY_ADMIN}
	loginguard {
		connector events file {$LOGINGUARD_EVENTS}
	}
}
http://:{$LOGINGUARD_PORT} {
	bind 127.0.0.1
	loginguard /login {
		source manager
		principal form user
		account_id /account/id
		aliases {
			account_id
		}
		rule success {
			status 200
		}
		rule failure BAD_CREDENTIALS {
			status 401
		}
	}
	loginguard /xmlrpc {
		source manager
		principal xmlrpc
		multicall refuse
		rule failure BAD_CREDENTIALS {
			body "<int>403</int>"
		}
		rule success {
			status 200
		}
	}
	loginguard /sso {
		source manager
		realm sso
		principal header X-User
		rule success {
			status 200
		}
		rule failure BAD_CREDENTIALS {
			status 401
		}
	}
	reverse_proxy {$PORTAL_UPSTREAM}
}
`

// stubPortal answers logins for one account that has two names (alice and
// alice@example.com, account id 42) and counts the requests it receives.
type stubPortal struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int // path → requests
}

func newStubPortal(t *testing.T) *stubPortal {
	p := &stubPortal{hits: map[string]int{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.hits[r.URL.Path]++
		p.mu.Unlock()
		user, pass := r.PostFormValue("user"), r.PostFormValue("password")
		if r.URL.Path == "/sso" {
			user, pass = r.Header.Get("X-User"), r.Header.Get("X-Password")
		}
		if r.URL.Path == "/xmlrpc" {
			_, _ = io.WriteString(w, `<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>403</int></value></member></struct></value></fault></methodResponse>`)
			return
		}
		if (user == "alice" || user == "alice@example.com") && pass == "right" {
			_, _ = io.WriteString(w, `{"account":{"id":"42"}}`)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *stubPortal) count(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[path]
}

// TestDoors: aliases learned from the account id share one counter; a multicall
// is refused with `multicall refuse`; a header carries a principal.
func TestDoors(t *testing.T) {
	portal := newStubPortal(t)
	s := newStack(t, stackOptions{Caddyfile: doorsCaddyfile, Upstream: strings.TrimPrefix(portal.URL, "http://")})
	form := "application/x-www-form-urlencoded"

	// The owner logs in under both names: each is learned as account 42.
	for _, name := range []string{"alice@example.com", "alice"} {
		if resp, _ := s.post("/login", form, "user="+name+"&password=right"); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d, want 200", name, resp.StatusCode)
		}
	}
	for i := range 5 {
		if resp, _ := s.post("/login", form, "user=alice&password=wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i+1, resp.StatusCode)
		}
	}
	before := portal.count("/login")
	resp, body := s.post("/login", form, "user=alice%40example.com&password=right")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "AUTHENTICATION_FAILED") || portal.count("/login") != before {
		t.Errorf("the other name of the locked account: %d %s (portal reached: %v); want the gateway's refusal", resp.StatusCode, body, portal.count("/login") != before)
	}

	// multicall refuse: never forwarded; a single call is.
	mc := `<?xml version="1.0"?><methodCall><methodName>system.multicall</methodName><params><param><value><array><data>` +
		`<value><struct><member><name>methodName</name><value><string>wp.getUsersBlogs</string></value></member>` +
		`<member><name>params</name><value><array><data><value><string>bob</string></value><value><string>x</string></value></data></array></value></member></struct></value>` +
		`</data></array></value></param></params></methodCall>`
	if resp, _ := s.post("/xmlrpc", "text/xml", mc); resp.StatusCode != http.StatusBadRequest || portal.count("/xmlrpc") != 0 {
		t.Errorf("multicall: %d, portal reached %d times; want 400 and never", resp.StatusCode, portal.count("/xmlrpc"))
	}
	single := `<?xml version="1.0"?><methodCall><methodName>wp.getUsersBlogs</methodName><params><param><value><string>bob</string></value></param><param><value><string>x</string></value></param></params></methodCall>`
	if resp, _ := s.post("/xmlrpc", "text/xml", single); resp.StatusCode != http.StatusOK || portal.count("/xmlrpc") != 1 {
		t.Errorf("single call: %d, portal reached %d times; want the portal's answer", resp.StatusCode, portal.count("/xmlrpc"))
	}

	// A header names the principal: 5 failures lock it.
	for i := range 6 {
		resp, _ := s.post("/sso", form, "", "X-User", "Carol", "X-Password", "wrong")
		want := http.StatusUnauthorized
		if resp.StatusCode != want {
			t.Fatalf("header attempt %d: %d", i+1, resp.StatusCode)
		}
	}
	if got := portal.count("/sso"); got != 5 {
		t.Errorf("the portal saw %d header attempts, want 5 (the 6th refused)", got)
	}

	evs := waitAttempts(t, s.readEvents, 16)
	var locked []string
	for _, e := range evs {
		if e.EventType == event.AccountLocked {
			locked = append(locked, str(e.Principal))
		}
	}
	slices.Sort(locked)
	if !slices.Equal(locked, []string{"alice", "carol"}) {
		t.Errorf("locked %v, want alice (account 42) and carol", locked)
	}
}
