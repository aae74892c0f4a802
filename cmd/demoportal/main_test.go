package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	ctJSON = "application/json"
	ctForm = "application/x-www-form-urlencoded"
)

var (
	portalCookieRe  = regexp.MustCompile(`^portal_session=([0-9a-f]{32}); Path=/; HttpOnly; SameSite=Lax$`)
	managerCookieRe = regexp.MustCompile(`^manager_session=([0-9a-f]{32}); Path=/manager; HttpOnly$`)
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// send runs one request through h.
func send(t *testing.T, h http.Handler, method, path, contentType, body string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func jsonLogin(email, password string) string {
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return string(b)
}

// expect checks a response's status and exact body.
func expect(t *testing.T, rec *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status = %d, want %d (body %s)", rec.Code, status, rec.Body)
	}
	if got := rec.Body.String(); got != body {
		t.Errorf("body = %s\nwant   %s", got, body)
	}
}

// cookieFrom returns the single Set-Cookie of rec, checked against re, as a cookie
// to send back.
func cookieFrom(t *testing.T, rec *httptest.ResponseRecorder, re *regexp.Regexp) *http.Cookie {
	t.Helper()
	set := rec.Result().Header.Values("Set-Cookie")
	if len(set) != 1 {
		t.Fatalf("Set-Cookie = %q, want exactly one", set)
	}
	m := re.FindStringSubmatch(set[0])
	if m == nil {
		t.Fatalf("Set-Cookie = %q, want it to match %s", set[0], re)
	}
	return &http.Cookie{Name: strings.SplitN(set[0], "=", 2)[0], Value: m[1]}
}

// expectExpired checks that rec expires the named cookie on path.
func expectExpired(t *testing.T, rec *httptest.ResponseRecorder, name, path string) {
	t.Helper()
	set := rec.Result().Header.Values("Set-Cookie")
	if len(set) != 1 {
		t.Fatalf("Set-Cookie = %q, want exactly one", set)
	}
	for _, part := range []string{name + "=;", "Path=" + path + ";", "Max-Age=0", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"} {
		if !strings.Contains(set[0], part) {
			t.Errorf("Set-Cookie = %q, want it to contain %q", set[0], part)
		}
	}
}

func TestLoginEveryState(t *testing.T) {
	h := newPortal()
	tests := []struct {
		email  string
		status int
		body   string
	}{
		{"active@example.com", 200, `{"status":"ACTIVE","account":{"id":"acc-active","displayName":"Active User","email":"active@example.com"}}`},
		{"disabled@example.com", 403, `{"code":"DISABLED","message":"Your account has been disabled. Please contact the administrator."}`},
		{"waiting@example.com", 403, `{"code":"WAITING_FOR_APPROVEMENT","message":"Your account is waiting for administrator approval. You will be able to log in after approval."}`},
		{"unconfirmed@example.com", 403, `{"code":"CONFIRMATION_NEEDED","message":"Please verify your email address. You can verify your email address by clicking the link in the registration email."}`},
		{"rejected@example.com", 403, `{"code":"REJECTED","message":"Your account application has been rejected. Please contact the administrator for detailed information."}`},
		{"notapproved@example.com", 403, `{"code":"NOT_APPROVED","message":"Your account has not yet been approved. Please wait for the approval process to complete."}`},
		{"nobody@example.com", 401, `{"code":"USER_NOT_FOUND","message":"No user registered with this email address was found."}`},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			rec := send(t, h, "POST", "/api/login", ctJSON, jsonLogin(tt.email, "correct-horse"))
			expect(t, rec, tt.status, tt.body)
			if ct := rec.Header().Get("Content-Type"); ct != ctJSON {
				t.Errorf("Content-Type = %q, want %q", ct, ctJSON)
			}
			if tt.status == 200 {
				cookieFrom(t, rec, portalCookieRe)
			} else if set := rec.Header().Values("Set-Cookie"); len(set) != 0 {
				t.Errorf("failed login set cookies %q", set)
			}
		})
	}
}

func TestWrongPasswordIsBadCredentialsInEveryState(t *testing.T) {
	h := newPortal()
	const want = `{"code":"BAD_CREDENTIALS","message":"Email or password is incorrect."}`
	for _, email := range []string{"active@example.com", "disabled@example.com", "waiting@example.com",
		"unconfirmed@example.com", "rejected@example.com", "notapproved@example.com"} {
		rec := send(t, h, "POST", "/api/login", ctJSON, jsonLogin(email, "Correct-horse"))
		expect(t, rec, 401, want)
	}
	// The portal never locks: after many failures the right password still works.
	for range 10 {
		send(t, h, "POST", "/api/login", ctJSON, jsonLogin("active@example.com", "nope"))
	}
	expect(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("active@example.com", "correct-horse")), 200,
		`{"status":"ACTIVE","account":{"id":"acc-active","displayName":"Active User","email":"active@example.com"}}`)
}

func TestEmailIsCaseInsensitive(t *testing.T) {
	h := newPortal()
	rec := send(t, h, "POST", "/api/login", ctJSON, jsonLogin("ACTIVE@Example.COM", "correct-horse"))
	expect(t, rec, 200, `{"status":"ACTIVE","account":{"id":"acc-active","displayName":"Active User","email":"active@example.com"}}`)
	c := cookieFrom(t, rec, portalCookieRe)
	expect(t, send(t, h, "GET", "/api/me", "", "", c), 200, `{"email":"active@example.com"}`)

	rec = send(t, h, "POST", "/api/login", ctJSON, jsonLogin("Disabled@EXAMPLE.com", "correct-horse"))
	expect(t, rec, 403, `{"code":"DISABLED","message":"Your account has been disabled. Please contact the administrator."}`)
}

func TestSessionLifecycle(t *testing.T) {
	h := newPortal()
	notLoggedIn := `{"code":"NOT_LOGGED_IN"}`
	expect(t, send(t, h, "GET", "/api/me", "", ""), 401, notLoggedIn)
	expect(t, send(t, h, "POST", "/api/logout", "", ""), 401, notLoggedIn)
	bogus := &http.Cookie{Name: portalCookie, Value: strings.Repeat("a", 32)}
	expect(t, send(t, h, "GET", "/api/me", "", "", bogus), 401, notLoggedIn)
	expect(t, send(t, h, "POST", "/api/logout", "", "", bogus), 401, notLoggedIn)

	c1 := cookieFrom(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("active@example.com", "correct-horse")), portalCookieRe)
	c2 := cookieFrom(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("active@example.com", "correct-horse")), portalCookieRe)
	if c1.Value == c2.Value {
		t.Fatalf("two logins got the same session token %s", c1.Value)
	}
	// A manager cookie with a portal token is not a portal session.
	expect(t, send(t, h, "GET", "/api/me", "", "", &http.Cookie{Name: managerCookie, Value: c1.Value}), 401, notLoggedIn)
	expect(t, send(t, h, "GET", "/api/me", "", "", c1), 200, `{"email":"active@example.com"}`)

	rec := send(t, h, "POST", "/api/logout", "", "", c1)
	expect(t, rec, 204, "")
	expectExpired(t, rec, portalCookie, "/")
	expect(t, send(t, h, "GET", "/api/me", "", "", c1), 401, notLoggedIn)
	expect(t, send(t, h, "POST", "/api/logout", "", "", c1), 401, notLoggedIn)
	// The other session is untouched.
	expect(t, send(t, h, "GET", "/api/me", "", "", c2), 200, `{"email":"active@example.com"}`)
}

func TestFormBodies(t *testing.T) {
	h := newPortal()
	form := url.Values{"email": {"active@example.com"}, "password": {"correct-horse"}}.Encode()
	rec := send(t, h, "POST", "/api/login", ctForm+"; charset=UTF-8", form)
	expect(t, rec, 200, `{"status":"ACTIVE","account":{"id":"acc-active","displayName":"Active User","email":"active@example.com"}}`)
	cookieFrom(t, rec, portalCookieRe)

	form = url.Values{"email": {"rejected@example.com"}, "password": {"correct-horse"}}.Encode()
	expect(t, send(t, h, "POST", "/api/login", ctForm, form), 403,
		`{"code":"REJECTED","message":"Your account application has been rejected. Please contact the administrator for detailed information."}`)
	form = url.Values{"email": {"active@example.com"}, "password": {"x"}}.Encode()
	expect(t, send(t, h, "POST", "/api/login", ctForm, form), 401, `{"code":"BAD_CREDENTIALS","message":"Email or password is incorrect."}`)

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("email", "waiting@example.com")
	_ = mw.WriteField("password", "correct-horse")
	_ = mw.Close()
	expect(t, send(t, h, "POST", "/api/login", mw.FormDataContentType(), body.String()), 403,
		`{"code":"WAITING_FOR_APPROVEMENT","message":"Your account is waiting for administrator approval. You will be able to log in after approval."}`)

	form = url.Values{"username": {"admin"}, "password": {"manager-secret"}}.Encode()
	rec = send(t, h, "POST", "/manager/login", ctForm, form)
	if rec.Code != 302 || rec.Header().Get("Location") != "/manager/home" {
		t.Errorf("manager form login: %d %q, want 302 to /manager/home", rec.Code, rec.Header().Get("Location"))
	}
	cookieFrom(t, rec, managerCookieRe)
}

func TestMalformedLogins(t *testing.T) {
	h := newPortal()
	const (
		malformed = `{"code":"BAD_REQUEST","message":"The request body is malformed."}`
		missing   = `{"code":"BAD_REQUEST","message":"Email and password are required."}`
	)
	tests := []struct {
		name, ct, body, want string
	}{
		{"not JSON", ctJSON, `email=active@example.com`, malformed},
		{"empty body", ctJSON, ``, malformed},
		{"truncated", ctJSON, `{"email":"active@example.com","password":"correct-horse"`, malformed},
		{"array", ctJSON, `[{"email":"active@example.com","password":"correct-horse"}]`, malformed},
		{"null", ctJSON, `null`, malformed},
		{"two objects", ctJSON, `{"email":"a@b.c","password":"x"}{}`, malformed},
		{"email not a string", ctJSON, `{"email":42,"password":"correct-horse"}`, malformed},
		{"password not a string", ctJSON, `{"email":"active@example.com","password":["correct-horse"]}`, malformed},
		{"too large", ctJSON, `{"email":"active@example.com","password":"` + strings.Repeat("x", maxLoginBody) + `"}`, malformed},
		{"bad form escape", ctForm, `email=%zz&password=correct-horse`, malformed},
		{"missing password", ctJSON, `{"email":"active@example.com"}`, missing},
		{"null password", ctJSON, `{"email":"active@example.com","password":null}`, missing},
		{"empty email", ctJSON, `{"email":"","password":"correct-horse"}`, missing},
		{"empty object", ctJSON, `{}`, missing},
		{"form missing password", ctForm, `email=active%40example.com`, missing},
		{"no content type", "", `{"password":"correct-horse"}`, missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := send(t, h, "POST", "/api/login", tt.ct, tt.body)
			expect(t, rec, 400, tt.want)
			if set := rec.Header().Values("Set-Cookie"); len(set) != 0 {
				t.Errorf("malformed login set cookies %q", set)
			}
		})
	}
	// Extra fields are ignored.
	expect(t, send(t, h, "POST", "/api/login", ctJSON, `{"email":"active@example.com","password":"correct-horse","rememberMe":true}`), 200,
		`{"status":"ACTIVE","account":{"id":"acc-active","displayName":"Active User","email":"active@example.com"}}`)
	expect(t, send(t, h, "POST", "/manager/login", ctJSON, `{"username":"admin"`), 400, malformed)
	expect(t, send(t, h, "POST", "/manager/login", ctJSON, `{"username":"admin"}`), 400,
		`{"code":"BAD_REQUEST","message":"Username and password are required."}`)
}

func TestManager(t *testing.T) {
	h := newPortal()
	location := func(rec *httptest.ResponseRecorder, want string) {
		t.Helper()
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != want {
			t.Errorf("got %d Location %q, want 302 to %q", rec.Code, rec.Header().Get("Location"), want)
		}
	}
	location(send(t, h, "GET", "/manager/home", "", ""), "/manager/login")

	for _, body := range []string{
		`{"username":"admin","password":"wrong"}`,
		`{"username":"Admin","password":"manager-secret"}`, // usernames are case-sensitive
		`{"username":"root","password":"manager-secret"}`,
	} {
		rec := send(t, h, "POST", "/manager/login", ctJSON, body)
		location(rec, "/manager/login?error=bad_credentials")
		if set := rec.Header().Values("Set-Cookie"); len(set) != 0 {
			t.Errorf("failed manager login set cookies %q", set)
		}
	}

	rec := send(t, h, "POST", "/manager/login", ctJSON, `{"username":"admin","password":"manager-secret"}`)
	location(rec, "/manager/home")
	c := cookieFrom(t, rec, managerCookieRe)

	rec = send(t, h, "GET", "/manager/home", "", "", c)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Welcome, admin") ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Errorf("manager home: %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	// A manager session is not a portal session.
	expect(t, send(t, h, "GET", "/api/me", "", "", &http.Cookie{Name: portalCookie, Value: c.Value}), 401, `{"code":"NOT_LOGGED_IN"}`)

	rec = send(t, h, "POST", "/manager/logout", "", "", c)
	location(rec, "/manager/login?logout")
	expectExpired(t, rec, managerCookie, "/manager")
	location(send(t, h, "GET", "/manager/home", "", "", c), "/manager/login")
	// Logging out without a session still lands on the login page.
	location(send(t, h, "POST", "/manager/logout", "", ""), "/manager/login?logout")
}

func TestPages(t *testing.T) {
	h := newPortal()
	tests := []struct {
		path     string
		contains []string
		absent   []string
	}{
		{"/", []string{`action="/api/login"`, `name="email"`, `name="password"`}, nil},
		{"/manager/login", []string{`action="/manager/login"`, `name="username"`, `name="password"`}, []string{"role=\"alert\"", "signed out"}},
		{"/manager/login?error=bad_credentials", []string{"Wrong username or password."}, []string{"signed out"}},
		{"/manager/login?logout", []string{"You have been signed out."}, []string{"Wrong username"}},
	}
	for _, tt := range tests {
		rec := send(t, h, "GET", tt.path, "", "")
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("GET %s: %d %q", tt.path, rec.Code, rec.Header().Get("Content-Type"))
		}
		for _, s := range tt.contains {
			if !strings.Contains(rec.Body.String(), s) {
				t.Errorf("GET %s: page lacks %q", tt.path, s)
			}
		}
		for _, s := range tt.absent {
			if strings.Contains(rec.Body.String(), s) {
				t.Errorf("GET %s: page has %q", tt.path, s)
			}
		}
	}
	if rec := send(t, h, "GET", "/nope", "", ""); rec.Code != 404 {
		t.Errorf("GET /nope: %d, want 404", rec.Code)
	}
	if rec := send(t, h, "GET", "/api/login", "", ""); rec.Code != 405 {
		t.Errorf("GET /api/login: %d, want 405", rec.Code)
	}
}

func TestReceivedCountsAndLogsNeverHoldSecrets(t *testing.T) {
	var logs syncBuffer
	h := newPortalWith(options{logger: slog.New(slog.NewTextHandler(&logs, nil))})
	secrets := []string{"correct-horse", "manager-secret", "s3cr3t-typo", "0therTypo"}

	expect(t, send(t, h, "GET", "/api/_received", "", ""), 200, `{}`)
	requests := 1
	login := func(path, ct, body string) *httptest.ResponseRecorder {
		requests++
		return send(t, h, "POST", path, ct, body)
	}
	c := cookieFrom(t, login("/api/login", ctJSON, jsonLogin("Active@Example.com", "correct-horse")), portalCookieRe)
	login("/api/login", ctJSON, jsonLogin("active@example.com", "s3cr3t-typo"))
	login("/api/login", ctForm, url.Values{"email": {"ACTIVE@example.com"}, "password": {"0therTypo"}}.Encode())
	login("/api/login", ctJSON, jsonLogin("Ghost@Example.com", "correct-horse"))
	login("/api/login", ctJSON, jsonLogin("disabled@example.com", "correct-horse"))
	login("/api/login", ctJSON, `{"email":"active@example.com","password":"correct-horse"`) // malformed
	login("/api/login", ctJSON, `s3cr3t-typo`)                                              // malformed
	login("/api/login", ctJSON, `{"email":"waiting@example.com"}`)                          // missing password
	login("/manager/login", ctJSON, `{"username":"admin","password":"manager-secret"}`)
	login("/manager/login", ctForm, "username=admin&password=s3cr3t-typo")
	// Not login requests: not counted.
	send(t, h, "GET", "/api/me", "", "", c)
	send(t, h, "POST", "/api/logout", "", "", c)
	send(t, h, "GET", "/manager/home", "", "")
	requests += 3

	rec := send(t, h, "GET", "/api/_received", "", "")
	requests++
	expect(t, rec, 200, `{"":2,"active@example.com":3,"admin":2,"disabled@example.com":1,"ghost@example.com":1,"waiting@example.com":1}`)
	if ct := rec.Header().Get("Content-Type"); ct != ctJSON {
		t.Errorf("Content-Type = %q", ct)
	}

	expect(t, send(t, h, "DELETE", "/api/_received", "", ""), 204, "")
	expect(t, send(t, h, "GET", "/api/_received", "", ""), 200, `{}`)
	requests += 2

	out := logs.String()
	for _, s := range append(secrets, c.Value) {
		if strings.Contains(out, s) {
			t.Errorf("log holds secret %q:\n%s", s, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != requests {
		t.Errorf("%d log lines for %d requests:\n%s", len(lines), requests, out)
	}
	for _, want := range []string{
		`msg=request method=POST path=/api/login status=401 principal=active@example.com outcome=BAD_CREDENTIALS`,
		`msg=request method=POST path=/api/login status=403 principal=disabled@example.com outcome=DISABLED`,
		`msg=request method=POST path=/manager/login status=302 principal=admin outcome=SUCCESS`,
		`msg=request method=POST path=/api/logout status=204 principal=active@example.com outcome=LOGGED_OUT`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestSlowDelaysLoginsAndCountsOnArrival(t *testing.T) {
	const slow = 150 * time.Millisecond
	h := newPortalWith(options{slow: slow})

	start := time.Now()
	rec := send(t, h, "POST", "/api/login", ctJSON, jsonLogin("active@example.com", "correct-horse"))
	if took := time.Since(start); took < slow {
		t.Errorf("login took %s, want at least %s", took, slow)
	}
	cookieFrom(t, rec, portalCookieRe)
	start = time.Now()
	rec = send(t, h, "POST", "/manager/login", ctJSON, `{"username":"admin","password":"manager-secret"}`)
	if took := time.Since(start); took < slow || rec.Code != 302 {
		t.Errorf("manager login took %s with %d, want at least %s and 302", took, rec.Code, slow)
	}
	start = time.Now()
	send(t, h, "GET", "/api/_received", "", "")
	if took := time.Since(start); took >= slow {
		t.Errorf("non-login request took %s, want no delay", took)
	}

	// A client that leaves while the login is delayed gets nothing and no session,
	// but its request did reach the portal.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/api/login", strings.NewReader(jsonLogin("Waiting@example.com", "correct-horse")))
	req.Header.Set("Content-Type", ctJSON)
	rec = httptest.NewRecorder()
	start = time.Now()
	h.ServeHTTP(rec, req)
	if took := time.Since(start); took >= slow {
		t.Errorf("abandoned login took %s, want it to end with its client", took)
	}
	if rec.Body.Len() != 0 || len(rec.Header().Values("Set-Cookie")) != 0 {
		t.Errorf("abandoned login wrote %q %q", rec.Header(), rec.Body)
	}
	expect(t, send(t, h, "GET", "/api/_received", "", ""), 200, `{"active@example.com":1,"admin":1,"waiting@example.com":1}`)
}

func TestConcurrentLogins(t *testing.T) {
	h := newPortal()
	var wg sync.WaitGroup
	tokens := make(chan string, 40)
	for range 40 {
		wg.Go(func() {
			rec := send(t, h, "POST", "/api/login", ctJSON, jsonLogin("active@example.com", "correct-horse"))
			if m := portalCookieRe.FindStringSubmatch(rec.Header().Get("Set-Cookie")); m != nil {
				tokens <- m[1]
			}
			send(t, h, "GET", "/api/_received", "", "")
		})
	}
	wg.Wait()
	close(tokens)
	seen := map[string]bool{}
	for tok := range tokens {
		if seen[tok] {
			t.Errorf("token %s issued twice", tok)
		}
		seen[tok] = true
		expect(t, send(t, h, "GET", "/api/me", "", "", &http.Cookie{Name: portalCookie, Value: tok}), 200, `{"email":"active@example.com"}`)
	}
	if len(seen) != 40 {
		t.Errorf("%d sessions, want 40", len(seen))
	}
	expect(t, send(t, h, "GET", "/api/_received", "", ""), 200, `{"active@example.com":40}`)
}

// startRun runs the command in the background and returns its address and a
// function that stops it and returns run's error.
func startRun(t *testing.T, args []string, env map[string]string, stderr io.Writer) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, stderr, func(a net.Addr) { addrs <- a })
	}()
	select {
	case a := <-addrs:
		return a.String(), func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		t.Fatalf("run(%q) = %v before listening", args, err)
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("run did not start listening")
	}
	return "", nil
}

func TestRunServesAndShutsDownGracefully(t *testing.T) {
	var logs syncBuffer
	addr, stop := startRun(t, []string{"-addr", "127.0.0.1:0", "-slow", "300ms"}, nil, &logs)
	base := "http://" + addr

	// A login in flight when the signal comes still gets its answer.
	type result struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Post(base+"/api/login", ctJSON, strings.NewReader(jsonLogin("active@example.com", "correct-horse")))
		if err != nil {
			inflight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		inflight <- result{resp.StatusCode, string(b), err}
	}()
	// Wait until the login has reached the portal.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(base + "/api/_received")
		if err != nil {
			t.Fatalf("GET /api/_received: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) == `{"active@example.com":1}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("login never reached the portal: %s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Errorf("run after shutdown = %v, want nil", err)
	}
	r := <-inflight
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, `"status":"ACTIVE"`) {
		t.Errorf("in-flight login: %d %q %v, want 200 ACTIVE", r.status, r.body, r.err)
	}
	if _, err := http.Get(base + "/api/_received"); err == nil {
		t.Error("portal still answers after shutdown")
	}
	if out := logs.String(); !strings.Contains(out, "demoportal shutting down") || strings.Contains(out, "correct-horse") {
		t.Errorf("unexpected log:\n%s", out)
	}
}

func TestRunAddressFromEnvAndFlag(t *testing.T) {
	// The environment gives the address…
	addr, stop := startRun(t, nil, map[string]string{"DEMOPORTAL_ADDR": "127.0.0.1:0"}, io.Discard)
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
		t.Errorf("listening on %s, want 127.0.0.1", addr)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("GET /: %v %v", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
	// …and -addr wins over it.
	_, stop = startRun(t, []string{"-addr", "127.0.0.1:0"}, map[string]string{"DEMOPORTAL_ADDR": "no-such-host.invalid:1"}, io.Discard)
	if err := stop(); err != nil {
		t.Error(err)
	}
}

func TestRunRejectsBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"-slow", "soon"},
		{"-slow", "-1s"},
		{"-nope"},
		{"extra"},
		{"-addr", "256.0.0.1:99999"},
	} {
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard, func(net.Addr) {
			t.Errorf("run(%q) started listening", args)
		})
		if err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}
