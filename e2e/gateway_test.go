package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

const password = "correct-horse"

// byType returns the events of type t.
func byType(evs []event.Event, t event.Type) []event.Event {
	var out []event.Event
	for _, e := range evs {
		if e.EventType == t {
			out = append(out, e)
		}
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// TestPortalStates: every account state of the demo portal gives its reason and
// the login-log page's message, and a success carries accountId and displayName.
func TestPortalStates(t *testing.T) {
	// Alerts off: the events are counted exactly, and the failures of seven
	// accounts from one IP would fire credential_stuffing.
	s := newStack(t, stackOptions{Env: []string{noAlerts}})
	cases := []struct {
		email, password string
		status          int
		typ             event.Type
		reason          event.Reason
		message         string
	}{
		{"active@example.com", password, 200, event.LoginSuccess, "", ""},
		{"disabled@example.com", password, 403, event.LoginFailure, event.Disabled, "Authentication failed -> DISABLED"},
		{"waiting@example.com", password, 403, event.LoginFailure, event.WaitingForApprovement, "Authentication failed -> WAITING_FOR_APPROVEMENT"},
		{"unconfirmed@example.com", password, 403, event.LoginFailure, event.ConfirmationNeeded, "Authentication failed -> CONFIRMATION_NEEDED"},
		{"rejected@example.com", password, 403, event.LoginFailure, event.Rejected, "Authentication failed -> REJECTED"},
		{"notapproved@example.com", password, 403, event.LoginFailure, event.NotApproved, "Authentication failed -> NOT_APPROVED"},
		{"nobody@example.com", password, 401, event.LoginFailure, event.AccountNotFound, "Authentication failed -> Account not found"},
		{"Active@Example.com", "wrong-1", 401, event.LoginFailure, event.BadCredentials, "Account active@example.com failed authentication due to 1 failed login attempts"},
		{"active@example.com", "wrong-2", 401, event.LoginFailure, event.BadCredentials, "Account active@example.com failed authentication due to 2 failed login attempts"},
	}
	for _, c := range cases {
		resp, _ := s.login(c.email, c.password)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.email, resp.StatusCode, c.status)
		}
	}
	evs := s.waitEvents(len(cases))
	if len(evs) != len(cases) {
		t.Fatalf("%d events, want %d", len(evs), len(cases))
	}
	for i, c := range cases {
		e := evs[i]
		if e.EventType != c.typ || e.Reason != c.reason || str(e.Message) != c.message && c.message != "" {
			t.Errorf("%s: got %s %s %q, want %s %s %q", c.email, e.EventType, e.Reason, str(e.Message), c.typ, c.reason, c.message)
		}
		if e.Source != event.SourcePortal || str(e.PortalID) != "demo-portal" || e.Principal != nil {
			t.Errorf("%s: source %s portalId %s principal %s", c.email, e.Source, str(e.PortalID), str(e.Principal))
		}
		if str(e.Email) != strings.ToLower(c.email) {
			t.Errorf("email %q, want %q", str(e.Email), strings.ToLower(c.email))
		}
		if e.RemoteAddress != "127.0.0.1" || e.ID == "" || time.Since(e.EventDate) > time.Minute {
			t.Errorf("%s: remoteAddress %q id %q date %v", c.email, e.RemoteAddress, e.ID, e.EventDate)
		}
	}
	ok := evs[0]
	if ok.Message != nil || ok.ErrorType != nil || str(ok.AccountID) != "acc-active" || str(ok.DisplayName) != "Active User" {
		t.Errorf("success event: message %s errorType %s accountId %s displayName %s", str(ok.Message), str(ok.ErrorType), str(ok.AccountID), str(ok.DisplayName))
	}
	if str(evs[1].ErrorType) != "org.springframework.security.authentication.DisabledException" {
		t.Errorf("errorType %s", str(evs[1].ErrorType))
	}
	if evs[8].FailureCount != 2 {
		t.Errorf("failureCount %d, want 2", evs[8].FailureCount)
	}
}

// TestLockout: with max_failures 5 the 6th wrong password is answered by the
// gateway and never reaches the portal; the right password is refused too.
func TestLockout(t *testing.T) {
	s := newStack(t, stackOptions{})
	for i := 1; i <= 5; i++ {
		resp, _ := s.login("active@example.com", fmt.Sprintf("guess-%d", i))
		if resp.StatusCode != 401 {
			t.Fatalf("attempt %d: status %d", i, resp.StatusCode)
		}
	}
	resp, body := s.login("active@example.com", "guess-6")
	if resp.StatusCode != 401 || !strings.Contains(body, "AUTHENTICATION_FAILED") {
		t.Fatalf("6th attempt: %d %s", resp.StatusCode, body)
	}
	resp, _ = s.login("ACTIVE@example.com", password)
	if resp.StatusCode != 401 {
		t.Fatalf("right password on a locked account: %d", resp.StatusCode)
	}
	if got := s.received()["active@example.com"]; got != 5 {
		t.Fatalf("portal received %d attempts, want 5", got)
	}
	// The refusal does not tell an unknown account from a locked one: both 401,
	// and an unknown account's answer comes from the portal, not a distinct body.
	evs := s.waitEvents(8)
	locks := byType(evs, event.AccountLocked)
	if len(locks) != 1 || str(locks[0].Email) != "active@example.com" {
		t.Fatalf("lock events: %+v", locks)
	}
	var refused []event.Event
	for _, e := range evs {
		if e.Reason == event.Locked {
			refused = append(refused, e)
		}
	}
	if len(refused) != 2 || str(refused[0].Message) != "Authentication failed -> LOCKED" || refused[0].FailureCount != 5 {
		t.Fatalf("refused events: %+v", refused)
	}
	if m := str(byType(evs, event.LoginFailure)[4].Message); m != "Account active@example.com failed authentication due to 5 failed login attempts" {
		t.Fatalf("5th failure message %q", m)
	}
}

// TestSuccessResets: a success clears the count.
func TestSuccessResets(t *testing.T) {
	s := newStack(t, stackOptions{})
	for round := 0; round < 2; round++ {
		for i := 0; i < 4; i++ {
			if resp, _ := s.login("active@example.com", "nope"); resp.StatusCode != 401 {
				t.Fatalf("round %d attempt %d: %d", round, i, resp.StatusCode)
			}
		}
		if resp, _ := s.login("active@example.com", password); resp.StatusCode != 200 {
			t.Fatalf("round %d: success got %d", round, resp.StatusCode)
		}
	}
	if got := s.received()["active@example.com"]; got != 10 {
		t.Fatalf("portal received %d, want 10", got)
	}
	evs := s.waitEvents(10)
	if n := len(byType(evs, event.AccountLocked)); n != 0 {
		t.Fatalf("%d lock events", n)
	}
	if evs[5].FailureCount != 1 {
		t.Fatalf("after a success the count starts again: failureCount %d", evs[5].FailureCount)
	}
}

// TestLogoutAndManager: logout events find their principal from the session
// cookie; manager routes carry the username as principal.
func TestLogoutAndManager(t *testing.T) {
	s := newStack(t, stackOptions{})
	resp, _ := s.login("active@example.com", password)
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "portal_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no portal_session cookie")
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/logout", nil)
	req.AddCookie(session)
	if resp, _ := s.do(req); resp.StatusCode != 204 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	resp, _ = s.post("/manager/login", "application/json", `{"username":"admin","password":"bad"}`)
	if resp.StatusCode != 302 {
		t.Fatalf("manager bad login: %d", resp.StatusCode)
	}
	resp, _ = s.post("/manager/login", "application/x-www-form-urlencoded", "username=admin&password=manager-secret")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/manager/home" {
		t.Fatalf("manager login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var mgr *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "manager_session" {
			mgr = c
		}
	}
	req, _ = http.NewRequest(http.MethodPost, s.url+"/manager/logout", nil)
	req.AddCookie(mgr)
	s.do(req)

	evs := s.waitEvents(5)
	want := []struct {
		typ       event.Type
		src       event.Source
		principal string
		email     string
		reason    event.Reason
	}{
		{event.LoginSuccess, event.SourcePortal, "<nil>", "active@example.com", ""},
		{event.Logout, event.SourcePortal, "<nil>", "active@example.com", ""},
		{event.LoginFailure, event.SourceManager, "admin", "<nil>", event.BadCredentials},
		{event.LoginSuccess, event.SourceManager, "admin", "<nil>", ""},
		{event.Logout, event.SourceManager, "admin", "<nil>", ""},
	}
	for i, w := range want {
		e := evs[i]
		if e.EventType != w.typ || e.Source != w.src || str(e.Principal) != w.principal || str(e.Email) != w.email || e.Reason != w.reason {
			t.Errorf("event %d: %s %s principal=%s email=%s reason=%s, want %+v", i, e.EventType, e.Source, str(e.Principal), str(e.Email), e.Reason, w)
		}
	}
	if m := str(evs[2].Message); m != "Bad credentials" {
		t.Errorf("manager failure message %q", m)
	}
	if evs[2].PortalID != nil {
		t.Errorf("manager event has portalId %s", str(evs[2].PortalID))
	}
}

// TestReloadKeepsCounters: a config reload keeps failure counts and locks.
func TestReloadKeepsCounters(t *testing.T) {
	s := newStack(t, stackOptions{})
	for i := 0; i < 3; i++ {
		s.login("active@example.com", "wrong")
	}
	cfg, err := os.ReadFile(filepath.Join(repoRoot, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	// A real change (a longer session TTL) so that Caddy reloads everything.
	s.reload(bytes.Replace(cfg, []byte("session_cookie portal_session\n\t\tlockout"), []byte("session_cookie portal_session\n\t\tsession_ttl 13h\n\t\tlockout"), 1))
	for i := 0; i < 2; i++ {
		if resp, _ := s.login("active@example.com", "wrong"); resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	s.login("active@example.com", "wrong")
	if got := s.received()["active@example.com"]; got != 5 {
		t.Fatalf("portal received %d attempts across the reload, want 5", got)
	}
	evs := s.waitEvents(7)
	if len(byType(evs, event.AccountLocked)) != 1 {
		t.Fatalf("no lock across the reload: %+v", evs)
	}
}

// echoUpstream records the bodies it receives, and answers 400.
type echoUpstream struct {
	mu     sync.Mutex
	bodies map[string]string // X-Case → sha256 of the body received
	srv    *http.Server
	addr   string
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	u := &echoUpstream{bodies: map[string]string{}}
	u.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	u.srv = &http.Server{Addr: u.addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(b)
		u.mu.Lock()
		u.bodies[r.Header.Get("X-Case")] = r.Method + " " + hex.EncodeToString(sum[:])
		u.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
	})}
	go u.srv.ListenAndServe()
	t.Cleanup(func() { u.srv.Close() })
	waitHTTP(t, "http://"+u.addr)
	return u
}

// TestBadInput: whatever the body, the portal receives it byte for byte, the
// module answers no 5xx of its own, and the event says what could be read.
func TestBadInput(t *testing.T) {
	up := newEchoUpstream(t)
	// Alerts off: the events are counted exactly.
	s := newStack(t, stackOptions{Upstream: up.addr, Env: []string{noAlerts}})
	big := `{"email":"big@example.com","password":"` + strings.Repeat("p", 70<<10) + `"}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"email":"zipped@example.com","password":"x"}`))
	zw.Close()
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("email", "multi@example.com")
	mw.WriteField("password", "x")
	mw.Close()
	cases := []struct {
		name, method, ctype, enc string
		body                     []byte
		chunked                  bool
		email                    string // expected email in the event, "<nil>" for none; "" for no event
		refused                  int    // the gateway's own answer (the attempt never reaches the upstream); 0: the upstream's
	}{
		{"malformed", "POST", "application/json", "", []byte(`{"email": "half@example.com", `), false, "<nil>", 400},
		{"too-large", "POST", "application/json", "", []byte(big), false, "<nil>", 413},
		{"missing", "POST", "application/json", "", []byte(`{"password":"x"}`), false, "<nil>", 400},
		{"gzip", "POST", "application/json", "gzip", gz.Bytes(), false, "zipped@example.com", 0},
		{"chunked", "POST", "application/json", "", []byte(`{"email":"chunked@example.com","password":"x"}`), true, "chunked@example.com", 0},
		{"multipart", "POST", mw.FormDataContentType(), "", mp.Bytes(), false, "multi@example.com", 0},
		{"wrong-type", "POST", "text/plain", "", []byte("email=plain@example.com&password=x"), false, "plain@example.com", 0},
		{"control-chars", "POST", "application/json", "", []byte(`{"email":"evil\n2026-01-01 INFO forged@example.com\u0000","password":"x"}`), false, "evil2026-01-01 info forged@example.com", 0},
		{"put", "PUT", "application/json", "", []byte(`{"email":"put@example.com","password":"x"}`), false, "put@example.com", 0},
		{"get", "GET", "", "", nil, false, "", 0},
	}
	var events int
	for _, c := range cases {
		var body io.Reader = bytes.NewReader(c.body)
		if c.chunked {
			body = io.MultiReader(bytes.NewReader(c.body)) // unknown length: chunked
		}
		req, _ := http.NewRequest(c.method, s.url+"/api/login", body)
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		if c.enc != "" {
			req.Header.Set("Content-Encoding", c.enc)
		}
		req.Header.Set("X-Case", c.name)
		resp, _ := s.do(req)
		if c.refused != 0 {
			up.mu.Lock()
			got, reached := up.bodies[c.name]
			up.mu.Unlock()
			if resp.StatusCode != c.refused || reached {
				t.Errorf("%s: status %d, upstream received %q; want the gateway's %d and nothing upstream", c.name, resp.StatusCode, got, c.refused)
			}
			events++
			continue
		}
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want the upstream's 400", c.name, resp.StatusCode)
		}
		sum := sha256.Sum256(c.body)
		up.mu.Lock()
		got := up.bodies[c.name]
		up.mu.Unlock()
		if want := c.method + " " + hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: upstream received %s, want %s", c.name, got, want)
		}
		if c.email != "" {
			events++
		}
	}
	evs := s.waitEvents(events)
	if len(evs) != events {
		t.Fatalf("%d events, want %d", len(evs), events)
	}
	i := 0
	for _, c := range cases {
		if c.email == "" {
			continue
		}
		e := evs[i]
		i++
		want := event.Unknown
		if c.refused != 0 {
			want = event.MissingPrincipal
		}
		if str(e.Email) != c.email || e.EventType != event.LoginFailure || e.Reason != want {
			t.Errorf("%s: event email %q type %s reason %s, want %q LOGIN_FAILURE %s", c.name, str(e.Email), e.EventType, e.Reason, c.email, want)
		}
	}
	raw, _ := os.ReadFile(s.events)
	if bytes.Contains(raw, []byte("\nforged")) || bytes.Contains(raw, []byte("\x00")) || bytes.Contains(raw, []byte(`\n2026`)) {
		t.Errorf("a control character reached the events file raw")
	}
	if strings.Contains(s.caddyLog(), "\n2026-01-01 INFO forged") {
		t.Errorf("log injection: a forged line reached Caddy's log")
	}
}

// TestLargeResponseNotHeldBack: the response streams through while the upstream
// is still writing it.
func TestLargeResponseNotHeldBack(t *testing.T) {
	release := make(chan struct{})
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.Write([]byte(`{"padding":"` + strings.Repeat("x", 200<<10)))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		w.Write([]byte(`"}`))
	})}
	go srv.ListenAndServe()
	defer srv.Close()
	waitHTTP(t, "http://"+addr)
	s := newStack(t, stackOptions{Upstream: addr})
	req, _ := http.NewRequest("POST", s.url+"/api/login", strings.NewReader(`{"email":"stream@example.com","password":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 150<<10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the first 150 KiB took %v: the response was held back", d)
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	if !strings.HasSuffix(string(rest), `"}`) {
		t.Fatalf("response truncated")
	}
}

// TestNoSecretsWritten: after a run of logins, no file the run wrote and no log
// line contains a password or a raw session cookie.
func TestNoSecretsWritten(t *testing.T) {
	s := newStack(t, stackOptions{})
	secrets := []string{password, "manager-secret", "wr0ng-Pa55word"}
	s.login("active@example.com", password)
	resp, _ := s.login("active@example.com", password)
	for _, c := range resp.Cookies() {
		secrets = append(secrets, c.Value)
	}
	s.login("active@example.com", "wr0ng-Pa55word")
	s.post("/api/login", "application/x-www-form-urlencoded", "email=active%40example.com&password=wr0ng-Pa55word")
	s.post("/manager/login", "application/json", `{"username":"admin","password":"manager-secret"}`)
	s.waitEvents(5)
	s.caddy.stop()
	n := 0
	filepath.Walk(s.dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasPrefix(filepath.Base(path), "demoportal") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		n++
		for _, sec := range secrets {
			if bytes.Contains(b, []byte(sec)) {
				t.Errorf("%s contains the secret %q", path, sec)
			}
		}
		return nil
	})
	if n < 2 {
		t.Fatalf("checked only %d files", n)
	}
}
