package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	// 10 s into a 30-second step, so that ±1 step is ±20..40 s away.
	return &fakeClock{now: time.Date(2026, 12, 7, 12, 0, 10, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// jsonBody returns the JSON object of the key/value pairs kv.
func jsonBody(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// demoCode is the code of the demo MFA account at t.
func demoCode(t time.Time) string { return totpCode(demoMFAKey(), t) }

// Answers the flows tests compare byte for byte.
const (
	mfaUserBody       = `{"status":"ACTIVE","account":{"id":"acc-mfa","displayName":"MFA User","email":"mfa@example.com"}}`
	activeUserBody    = `{"status":"ACTIVE","account":{"id":"acc-active","displayName":"Active User","email":"active@example.com"}}`
	invalidCodeBody   = `{"code":"INVALID_MFA_CODE","message":"The verification code is incorrect."}`
	ticketExpiredBody = `{"code":"MFA_TOKEN_EXPIRED","message":"The sign-in has expired. Please sign in again."}`
	notLoggedInBody   = `{"code":"NOT_LOGGED_IN"}`
	weakPasswordBody  = `{"code":"WEAK_PASSWORD","message":"The password must be at least 8 characters long."}`
	invalidTokenBody  = `{"code":"INVALID_TOKEN","message":"The reset link is invalid or has expired."}`
	malformedBody     = `{"code":"BAD_REQUEST","message":"The request body is malformed."}`
	userNotFoundBody  = `{"code":"USER_NOT_FOUND","message":"No user registered with this email address was found."}`
	badCurrentBody    = `{"code":"BAD_CREDENTIALS","message":"The current password is incorrect."}`
	emailTakenBody    = `{"code":"EMAIL_TAKEN","message":"An account with this email address already exists."}`
	invalidEmailBody  = `{"code":"INVALID_EMAIL","message":"The email address is not valid."}`
)

var ticketRe = regexp.MustCompile(`^\{"mfaRequired":true,"mfaToken":"([0-9a-f]{32})"\}$`)

// mfaTicket checks that rec asks for an MFA code, without a session, and returns
// its ticket.
func mfaTicket(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	m := ticketRe.FindStringSubmatch(rec.Body.String())
	if rec.Code != http.StatusOK || m == nil {
		t.Fatalf("got %d %s, want 200 asking for an MFA code", rec.Code, rec.Body)
	}
	if set := rec.Header().Values("Set-Cookie"); len(set) != 0 {
		t.Errorf("a login waiting for its MFA code set cookies %q", set)
	}
	return m[1]
}

// loginAs logs email in with password and returns the session cookie.
func loginAs(t *testing.T, h http.Handler, email, password string) *http.Cookie {
	t.Helper()
	return cookieFrom(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin(email, password)), portalCookieRe)
}

func sendMFA(t *testing.T, h http.Handler, ticket, code string) *httptest.ResponseRecorder {
	t.Helper()
	return send(t, h, "POST", "/api/login/mfa", ctJSON, jsonBody("mfaToken", ticket, "code", code))
}

func TestMFALogin(t *testing.T) {
	clock := newFakeClock()
	h := newPortalWith(options{now: clock.Now})

	// A wrong password is a wrong password, MFA or not: no ticket.
	expect(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("mfa@example.com", "wrong-horse")), 401,
		`{"code":"BAD_CREDENTIALS","message":"Email or password is incorrect."}`)

	ticket := mfaTicket(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("MFA@example.com", "correct-horse")))
	// The ticket is not a session.
	expect(t, send(t, h, "GET", "/api/me", "", "", &http.Cookie{Name: portalCookie, Value: ticket}), 401, notLoggedInBody)

	// Wrong codes are not limited by the portal: the ticket takes any number.
	right := demoCode(clock.Now())
	for i := range 20 {
		wrong := fmt.Sprintf("%06d", i)
		if wrong == right {
			continue
		}
		rec := sendMFA(t, h, ticket, wrong)
		expect(t, rec, 401, invalidCodeBody)
		if set := rec.Header().Values("Set-Cookie"); len(set) != 0 {
			t.Fatalf("a wrong code set cookies %q", set)
		}
	}
	expect(t, sendMFA(t, h, ticket, "12345"), 401, invalidCodeBody)
	expect(t, sendMFA(t, h, ticket, "abcdef"), 401, invalidCodeBody)

	rec := sendMFA(t, h, ticket, right)
	expect(t, rec, 200, mfaUserBody)
	c := cookieFrom(t, rec, portalCookieRe)
	expect(t, send(t, h, "GET", "/api/me", "", "", c), 200, `{"email":"mfa@example.com"}`)

	// A ticket ends with its login; unknown tickets are expired ones.
	expect(t, sendMFA(t, h, ticket, right), 401, ticketExpiredBody)
	expect(t, sendMFA(t, h, strings.Repeat("0", 32), right), 401, ticketExpiredBody)
	expect(t, sendMFA(t, h, "not-a-ticket", right), 401, ticketExpiredBody)

	// Malformed or incomplete requests.
	const missing = `{"code":"BAD_REQUEST","message":"mfaToken and code are required."}`
	expect(t, send(t, h, "POST", "/api/login/mfa", ctJSON, `{"mfaToken":"x"}`), 400, missing)
	expect(t, send(t, h, "POST", "/api/login/mfa", ctJSON, `{"code":"123456"}`), 400, missing)
	expect(t, send(t, h, "POST", "/api/login/mfa", ctJSON, `{"mfaToken":"x","code":123456}`), 400, malformedBody)
	expect(t, send(t, h, "POST", "/api/login/mfa", ctJSON, `{"mfaToken":"x"`), 400, malformedBody)

	// A form body works as well (the /login/mfa page posts one).
	ticket = mfaTicket(t, send(t, h, "POST", "/api/login", ctForm, url.Values{"email": {"mfa@example.com"}, "password": {"correct-horse"}}.Encode()))
	rec = send(t, h, "POST", "/api/login/mfa", ctForm, url.Values{"mfaToken": {ticket}, "code": {demoCode(clock.Now())}}.Encode())
	expect(t, rec, 200, mfaUserBody)
	cookieFrom(t, rec, portalCookieRe)

	// Accounts without MFA still log in in one step.
	expect(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("active@example.com", "correct-horse")), 200, activeUserBody)
}

func TestMFALoginAcceptsOneStepOfSkew(t *testing.T) {
	clock := newFakeClock()
	h := newPortalWith(options{now: clock.Now})
	for _, tt := range []struct {
		offset time.Duration // of the code's time from the portal's clock
		ok     bool
	}{
		{-2 * totpStep, false},
		{-totpStep, true},
		{0, true},
		{totpStep, true},
		{2 * totpStep, false},
	} {
		ticket := mfaTicket(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("mfa@example.com", "correct-horse")))
		rec := sendMFA(t, h, ticket, demoCode(clock.Now().Add(tt.offset)))
		if tt.ok {
			expect(t, rec, 200, mfaUserBody)
		} else {
			expect(t, rec, 401, invalidCodeBody)
		}
	}
}

func TestMFATicketExpiresAfterFiveMinutes(t *testing.T) {
	clock := newFakeClock()
	h := newPortalWith(options{now: clock.Now})
	login := func() string {
		return mfaTicket(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("mfa@example.com", "correct-horse")))
	}

	early := login()
	clock.Advance(mfaTicketTTL - time.Second)
	expect(t, sendMFA(t, h, early, demoCode(clock.Now())), 200, mfaUserBody)

	late := login()
	clock.Advance(mfaTicketTTL - time.Second)
	expect(t, sendMFA(t, h, late, "000000"), 401, invalidCodeBody) // still pending
	clock.Advance(time.Second)
	expect(t, sendMFA(t, h, late, demoCode(clock.Now())), 401, ticketExpiredBody)
	// Expired stays expired.
	expect(t, sendMFA(t, h, late, demoCode(clock.Now())), 401, ticketExpiredBody)
}

func TestTicketStoreSweepsExpiredTickets(t *testing.T) {
	clock := newFakeClock()
	s := newTicketStore(time.Minute, clock.Now)
	for range 1000 {
		if _, err := s.issue("a@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Minute)
	// Enough valid tickets to go through several sweeps: each drops the expired
	// tickets and only those.
	kept, _ := s.issue("b@example.com")
	for range 5000 {
		_, _ = s.issue("c@example.com")
	}
	s.mu.Lock()
	n := len(s.tickets)
	s.mu.Unlock()
	if n != 5001 {
		t.Errorf("%d tickets kept, want the 5001 valid ones", n)
	}
	if email, ok := s.peek(kept); !ok || email != "b@example.com" {
		t.Errorf("a valid ticket was swept: %q %v", email, ok)
	}
}

func TestTicketStoreRedemption(t *testing.T) {
	clock := newFakeClock()
	s := newTicketStore(time.Minute, clock.Now)
	issue := func(email string) string {
		t.Helper()
		tok, err := s.issue(email)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	a1, a2, b := issue("a@example.com"), issue("a@example.com"), issue("b@example.com")
	if email, ok := s.peek(a1); !ok || email != "a@example.com" {
		t.Fatalf("peek = %q %v", email, ok)
	}
	if email, ok := s.take(a1); !ok || email != "a@example.com" {
		t.Fatalf("take = %q %v", email, ok)
	}
	if _, ok := s.take(a1); ok {
		t.Error("a token was taken twice")
	}
	a3 := issue("a@example.com")
	if email, ok := s.takeAll(a3); !ok || email != "a@example.com" {
		t.Fatalf("takeAll = %q %v", email, ok)
	}
	if _, ok := s.peek(a2); ok {
		t.Error("takeAll left another token of the account")
	}
	if _, ok := s.peek(b); !ok {
		t.Error("takeAll ended another account's token")
	}

	// At its TTL a token is over, for peek, take and takeAll alike.
	p, tk, ta := issue("c@example.com"), issue("d@example.com"), issue("e@example.com")
	clock.Advance(time.Minute - time.Nanosecond)
	if _, ok := s.peek(p); !ok {
		t.Error("a token ended before its TTL")
	}
	clock.Advance(time.Nanosecond)
	if _, ok := s.peek(p); ok {
		t.Error("peek: a token outlived its TTL")
	}
	if _, ok := s.take(tk); ok {
		t.Error("take: a token outlived its TTL")
	}
	if _, ok := s.takeAll(ta); ok {
		t.Error("takeAll: a token outlived its TTL")
	}
}

// TestTicketsRedeemOnce: of many requests redeeming one MFA ticket or one reset
// token at once, exactly one succeeds. -slow holds them all until they are all
// in, to make the race likely.
func TestTicketsRedeemOnce(t *testing.T) {
	clock := newFakeClock()
	h := newPortalWith(options{now: clock.Now, slow: 20 * time.Millisecond})
	ticket := mfaTicket(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("mfa@example.com", "correct-horse")))
	token := resetToken(t, h, "active@example.com")
	const n = 20
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[string]int{}
	)
	for i := range n {
		wg.Go(func() {
			mfa := sendMFA(t, h, ticket, demoCode(clock.Now())).Code
			reset := sendReset(t, h, token, fmt.Sprintf("new-password-%d", i)).Code
			mu.Lock()
			codes[fmt.Sprint("mfa ", mfa)]++
			codes[fmt.Sprint("reset ", reset)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	want := map[string]int{"mfa 200": 1, "mfa 401": n - 1, "reset 200": 1, "reset 400": n - 1}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("answers %v, want %v", codes, want)
	}
}

func TestMFAEnrolAndDisable(t *testing.T) {
	clock := newFakeClock()
	h := newPortalWith(options{now: clock.Now})
	post := func(path, body string, c ...*http.Cookie) *httptest.ResponseRecorder {
		t.Helper()
		return send(t, h, "POST", path, ctJSON, body, c...)
	}
	code := func(code string) string { return jsonBody("code", code) }

	// Without a session, nothing.
	expect(t, post("/api/mfa/enroll", ""), 401, notLoggedInBody)
	expect(t, post("/api/mfa/enroll/confirm", code("123456")), 401, notLoggedInBody)
	expect(t, post("/api/mfa/disable", code("123456")), 401, notLoggedInBody)

	c := loginAs(t, h, "active@example.com", "correct-horse")
	expect(t, post("/api/mfa/enroll/confirm", code("123456"), c), 409,
		`{"code":"MFA_ENROLLMENT_NOT_STARTED","message":"Start the MFA enrolment first."}`)
	expect(t, post("/api/mfa/disable", code("123456"), c), 409,
		`{"code":"MFA_NOT_ENABLED","message":"MFA is not on for this account."}`)
	expect(t, post("/api/mfa/enroll/confirm", `{}`, c), 400, `{"code":"BAD_REQUEST","message":"code is required."}`)

	enrol := func() []byte {
		t.Helper()
		rec := post("/api/mfa/enroll", "", c)
		var got mfaEnrolment
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &got) != nil {
			t.Fatalf("enroll: %d %s", rec.Code, rec.Body)
		}
		key, err := decodeTOTPSecret(got.Secret)
		if err != nil || len(key) != totpKeyBytes {
			t.Fatalf("enroll: secret %q: %v", got.Secret, err)
		}
		if want := otpauthURI(key, "active@example.com"); got.OTPAuthURI != want {
			t.Errorf("enroll: otpauthUri %q, want %q", got.OTPAuthURI, want)
		}
		return key
	}
	first := enrol()
	second := enrol() // replaces the first, still pending
	if string(first) == string(second) {
		t.Fatal("two enrolments got the same secret")
	}
	// Pending is not on: the password alone still logs in.
	expect(t, post("/api/login", jsonLogin("active@example.com", "correct-horse")), 200, activeUserBody)
	expect(t, post("/api/mfa/enroll/confirm", code(totpCode(first, clock.Now())), c), 401, invalidCodeBody)
	expect(t, post("/api/mfa/enroll/confirm", code(totpCode(second, clock.Now())), c), 200, `{"mfaEnabled":true}`)
	expect(t, post("/api/mfa/enroll", "", c), 409, `{"code":"MFA_ALREADY_ENABLED","message":"MFA is already on for this account."}`)
	expect(t, post("/api/mfa/enroll/confirm", code(totpCode(second, clock.Now())), c), 409,
		`{"code":"MFA_ALREADY_ENABLED","message":"MFA is already on for this account."}`)

	// Now the login needs a code of the new secret.
	ticket := mfaTicket(t, post("/api/login", jsonLogin("active@example.com", "correct-horse")))
	expect(t, sendMFA(t, h, ticket, totpCode(first, clock.Now())), 401, invalidCodeBody)
	expect(t, sendMFA(t, h, ticket, totpCode(second, clock.Now())), 200, activeUserBody)

	// Turning it off takes a right code too.
	clock.Advance(time.Hour)
	expect(t, post("/api/mfa/disable", code(totpCode(second, clock.Now().Add(-time.Hour))), c), 401, invalidCodeBody)
	expect(t, post("/api/mfa/disable", code(totpCode(second, clock.Now())), c), 200, `{"mfaEnabled":false}`)
	expect(t, post("/api/login", jsonLogin("active@example.com", "correct-horse")), 200, activeUserBody)

	// The demo MFA account can turn its MFA off with a code of DemoMFASecret.
	ticket = mfaTicket(t, post("/api/login", jsonLogin("mfa@example.com", "correct-horse")))
	rec := sendMFA(t, h, ticket, demoCode(clock.Now()))
	mc := cookieFrom(t, rec, portalCookieRe)
	// A ticket issued before MFA went off is void.
	stale := mfaTicket(t, post("/api/login", jsonLogin("mfa@example.com", "correct-horse")))
	expect(t, post("/api/mfa/disable", code(demoCode(clock.Now())), mc), 200, `{"mfaEnabled":false}`)
	expect(t, sendMFA(t, h, stale, demoCode(clock.Now())), 401, ticketExpiredBody)
	expect(t, post("/api/login", jsonLogin("mfa@example.com", "correct-horse")), 200, mfaUserBody)
}

// resetToken asks for a reset of email and returns the mailed token.
func resetToken(t *testing.T, h http.Handler, email string) string {
	t.Helper()
	expect(t, send(t, h, "POST", "/api/password/reset-request", ctJSON, jsonBody("email", email)), 200, `{"status":"sent"}`)
	rec := send(t, h, "GET", "/api/_mailbox?email="+url.QueryEscape(email), "", "")
	var mail sentMail
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &mail) != nil || len(mail.Token) != 32 {
		t.Fatalf("mailbox of %s: %d %s", email, rec.Code, rec.Body)
	}
	return mail.Token
}

func sendReset(t *testing.T, h http.Handler, token, password string) *httptest.ResponseRecorder {
	t.Helper()
	return send(t, h, "POST", "/api/password/reset", ctJSON, jsonBody("token", token, "newPassword", password))
}

func TestPasswordReset(t *testing.T) {
	clock := newFakeClock()
	h := newPortalWith(options{now: clock.Now})

	// The portal tells who has an account.
	expect(t, send(t, h, "POST", "/api/password/reset-request", ctJSON, jsonBody("email", "ghost@example.com")), 404, userNotFoundBody)
	expect(t, send(t, h, "GET", "/api/_mailbox?email=ghost@example.com", "", ""), 404,
		`{"code":"NO_MAIL","message":"No mail was sent to this address."}`)
	expect(t, send(t, h, "GET", "/api/_mailbox", "", ""), 400,
		`{"code":"BAD_REQUEST","message":"The parameter \"email\" is required."}`)
	expect(t, send(t, h, "POST", "/api/password/reset-request", ctJSON, `{}`), 400,
		`{"code":"BAD_REQUEST","message":"Email is required."}`)
	expect(t, send(t, h, "POST", "/api/password/reset-request", ctJSON, `["active@example.com"]`), 400, malformedBody)

	// The request is for the account, whatever the case of its email; the mail
	// shows the token and the page that takes it.
	expect(t, send(t, h, "POST", "/api/password/reset-request", ctJSON, jsonBody("email", "Active@Example.COM")), 200, `{"status":"sent"}`)
	rec := send(t, h, "GET", "/api/_mailbox?email=ACTIVE@example.com", "", "")
	var mail sentMail
	if err := json.Unmarshal(rec.Body.Bytes(), &mail); err != nil || rec.Code != 200 {
		t.Fatalf("mailbox: %d %s", rec.Code, rec.Body)
	}
	want := fmt.Sprintf(`{"email":"active@example.com","token":"%s","link":"/password/reset/confirm?token=%s"}`, mail.Token, mail.Token)
	expect(t, rec, 200, want)

	expect(t, sendReset(t, h, "", "new-password-1"), 400, `{"code":"BAD_REQUEST","message":"token and newPassword are required."}`)
	expect(t, sendReset(t, h, mail.Token, ""), 400, `{"code":"BAD_REQUEST","message":"token and newPassword are required."}`)
	expect(t, sendReset(t, h, strings.Repeat("f", 32), "new-password-1"), 400, invalidTokenBody)
	// A weak password leaves the token usable.
	expect(t, sendReset(t, h, mail.Token, "short12"), 400, weakPasswordBody)
	expect(t, sendReset(t, h, mail.Token, "new-password-1"), 200, `{"status":"reset"}`)
	expect(t, sendReset(t, h, mail.Token, "new-password-2"), 400, invalidTokenBody)

	expect(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("active@example.com", "correct-horse")), 401,
		`{"code":"BAD_CREDENTIALS","message":"Email or password is incorrect."}`)
	expect(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("active@example.com", "new-password-1")), 200, activeUserBody)

	// A reset ends every reset token of the account, older ones too.
	older := resetToken(t, h, "active@example.com")
	newer := resetToken(t, h, "active@example.com")
	other := resetToken(t, h, "markup@example.com")
	expect(t, sendReset(t, h, newer, "new-password-3"), 200, `{"status":"reset"}`)
	expect(t, sendReset(t, h, older, "new-password-4"), 400, invalidTokenBody)
	expect(t, sendReset(t, h, other, "new-password-5"), 200, `{"status":"reset"}`)

	// Tokens expire after an hour.
	token := resetToken(t, h, "waiting@example.com")
	clock.Advance(resetTicketTTL - time.Second)
	expect(t, sendReset(t, h, token, "short"), 400, weakPasswordBody)
	clock.Advance(time.Second)
	expect(t, sendReset(t, h, token, "new-password-6"), 400, invalidTokenBody)
	// The reset of an account in a refused state sets its password; the state
	// still refuses it.
	token = resetToken(t, h, "waiting@example.com")
	expect(t, sendReset(t, h, token, "new-password-6"), 200, `{"status":"reset"}`)
	expect(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("waiting@example.com", "new-password-6")), 403,
		`{"code":"WAITING_FOR_APPROVEMENT","message":"Your account is waiting for administrator approval. You will be able to log in after approval."}`)

	// MFA survives a reset.
	token = resetToken(t, h, "mfa@example.com")
	expect(t, sendReset(t, h, token, "new-password-7"), 200, `{"status":"reset"}`)
	mfaTicket(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("mfa@example.com", "new-password-7")))
}

func TestPasswordChange(t *testing.T) {
	h := newPortal()
	change := func(body string, c ...*http.Cookie) *httptest.ResponseRecorder {
		t.Helper()
		return send(t, h, "POST", "/api/password/change", ctJSON, body, c...)
	}
	body := func(current, next string) string { return jsonBody("currentPassword", current, "newPassword", next) }

	expect(t, change(body("correct-horse", "new-password-1")), 401, notLoggedInBody)
	expect(t, change(body("correct-horse", "new-password-1"), &http.Cookie{Name: portalCookie, Value: strings.Repeat("a", 32)}), 401, notLoggedInBody)

	c := loginAs(t, h, "active@example.com", "correct-horse")
	expect(t, change(body("wrong-horse", "new-password-1"), c), 401, badCurrentBody)
	expect(t, change(body("correct-horse", "1234567"), c), 400, weakPasswordBody)
	// Seven characters of two bytes each are still seven characters.
	expect(t, change(body("correct-horse", "ééééééé"), c), 400, weakPasswordBody)
	// A weak new password is refused before the current one is checked.
	expect(t, change(body("wrong-horse", "short"), c), 400, weakPasswordBody)
	expect(t, change(`{"currentPassword":"correct-horse"}`, c), 400,
		`{"code":"BAD_REQUEST","message":"currentPassword and newPassword are required."}`)
	expect(t, change(`{"currentPassword":"correct-horse","newPassword":["x"]}`, c), 400, malformedBody)

	expect(t, change(body("correct-horse", "éééééééé"), c), 200, `{"status":"changed"}`)
	expect(t, change(body("correct-horse", "new-password-1"), c), 401, badCurrentBody)
	expect(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("active@example.com", "correct-horse")), 401,
		`{"code":"BAD_CREDENTIALS","message":"Email or password is incorrect."}`)
	expect(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("active@example.com", "éééééééé")), 200, activeUserBody)
	// The session that changed it goes on; other accounts are untouched.
	expect(t, send(t, h, "GET", "/api/me", "", "", c), 200, `{"email":"active@example.com"}`)
	expectCode(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("markup@example.com", "correct-horse")), 200)
}

// expectCode is expect for answers whose body varies.
func expectCode(t *testing.T, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status = %d, want %d (body %s)", rec.Code, status, rec.Body)
	}
}

var registeredRe = regexp.MustCompile(`^\{"status":"ACTIVE","account":\{"id":"acc-[0-9a-f]{16}","displayName":"(.*)","email":"(.*)"\}\}$`)

func TestRegister(t *testing.T) {
	h := newPortal()
	register := func(email, password, name string) *httptest.ResponseRecorder {
		t.Helper()
		return send(t, h, "POST", "/api/register", ctJSON, jsonBody("email", email, "password", password, "displayName", name))
	}
	registered := func(rec *httptest.ResponseRecorder, name, email string) {
		t.Helper()
		m := registeredRe.FindStringSubmatch(rec.Body.String())
		if rec.Code != http.StatusCreated || m == nil || m[1] != name || m[2] != email {
			t.Errorf("got %d %s, want 201 with %q %q", rec.Code, rec.Body, name, email)
		}
		if set := rec.Header().Values("Set-Cookie"); len(set) != 0 {
			t.Errorf("registration set cookies %q", set)
		}
	}

	registered(register("New.User@Example.org", "long-enough", "New User"), "New User", "new.user@example.org")
	expectCode(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("new.user@example.org", "long-enough")), 200)
	rec := send(t, h, "POST", "/api/login", ctJSON, jsonLogin("NEW.USER@example.org", "long-enough"))
	if m := registeredRe.FindStringSubmatch(rec.Body.String()); rec.Code != 200 || m == nil || m[2] != "new.user@example.org" {
		t.Errorf("new account's login: %d %s", rec.Code, rec.Body)
	}
	// Without a display name, the part before the @.
	registered(register("nameless@example.org", "long-enough", ""), "nameless", "nameless@example.org")
	// Form bodies (the /register page).
	registered(send(t, h, "POST", "/api/register", ctForm,
		url.Values{"email": {"form@example.org"}, "password": {"long-enough"}, "displayName": {"Form"}}.Encode()), "Form", "form@example.org")

	for _, email := range []string{"new.user@example.org", "NEW.USER@EXAMPLE.ORG", "active@example.com", "Disabled@Example.com", "mfa@example.com"} {
		expect(t, register(email, "long-enough", "Again"), 409, emailTakenBody)
	}
	for _, email := range []string{"no-at-sign", "@example.org", "user@", "user@localhost", "user@.org", "user@example.", "a b@example.org",
		"User <user@example.org>", "user@example.org (comment)", "us\x00er@example.org", "üser@example.org", "user@exämple.org",
		strings.Repeat("a", 250) + "@example.org"} {
		expect(t, register(email, "long-enough", ""), 400, invalidEmailBody)
	}
	expect(t, register("weak@example.org", "1234567", ""), 400, weakPasswordBody)
	expectCode(t, register("weak@example.org", "12345678", ""), 201)
	const missing = `{"code":"BAD_REQUEST","message":"Email and password are required."}`
	expect(t, send(t, h, "POST", "/api/register", ctJSON, `{"email":"x@example.org"}`), 400, missing)
	expect(t, send(t, h, "POST", "/api/register", ctJSON, `{"password":"long-enough"}`), 400, missing)
	expect(t, send(t, h, "POST", "/api/register", ctJSON, `{"email":"x@example.org","password":"long-enough","displayName":7}`), 400, malformedBody)
	// A bad display name is not an account: the email is still free.
	registered(register("x@example.org", "long-enough", `<b>X</b>`), `\u003cb\u003eX\u003c/b\u003e`, "x@example.org")
}

func TestConcurrentRegistrationAndLogins(t *testing.T) {
	clock := newFakeClock()
	h := newPortalWith(options{now: clock.Now})
	const workers = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created = map[string]int{} // status of each contested registration → count
	)
	for i := range workers {
		wg.Go(func() {
			// Each worker registers its own account, logs it in, changes its
			// password and logs in with the new one…
			email := fmt.Sprintf("worker%d@example.org", i)
			expectCode(t, send(t, h, "POST", "/api/register", ctJSON, jsonBody("email", email, "password", "first-password")), 201)
			rec := send(t, h, "POST", "/api/login", ctJSON, jsonLogin(email, "first-password"))
			m := portalCookieRe.FindStringSubmatch(rec.Header().Get("Set-Cookie"))
			if m == nil {
				t.Errorf("%s: login %d %s", email, rec.Code, rec.Body)
				return
			}
			expect(t, send(t, h, "POST", "/api/password/change", ctJSON,
				jsonBody("currentPassword", "first-password", "newPassword", "second-password"),
				&http.Cookie{Name: portalCookie, Value: m[1]}), 200, `{"status":"changed"}`)
			expectCode(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin(email, "second-password")), 200)
			// …all race to register one same email…
			rec = send(t, h, "POST", "/api/register", ctJSON, jsonBody("email", "contested@example.org", "password", fmt.Sprintf("password-%d", i)))
			mu.Lock()
			created[fmt.Sprint(rec.Code)]++
			mu.Unlock()
			// …while the seeded accounts log in, with and without MFA.
			for range 10 {
				expect(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("active@example.com", "correct-horse")), 200, activeUserBody)
				rec := send(t, h, "POST", "/api/login", ctJSON, jsonLogin("mfa@example.com", "correct-horse"))
				m := ticketRe.FindStringSubmatch(rec.Body.String())
				if m == nil {
					t.Errorf("MFA login: %d %s", rec.Code, rec.Body)
					return
				}
				expect(t, sendMFA(t, h, m[1], demoCode(clock.Now())), 200, mfaUserBody)
			}
		})
	}
	wg.Wait()
	if created["201"] != 1 || created["409"] != workers-1 {
		t.Errorf("contested registration: %v, want one 201 and %d 409", created, workers-1)
	}
	// The winner's password is the only one that logs in.
	logins := 0
	for i := range workers {
		if send(t, h, "POST", "/api/login", ctJSON, jsonLogin("contested@example.org", fmt.Sprintf("password-%d", i))).Code == 200 {
			logins++
		}
	}
	if logins != 1 {
		t.Errorf("%d passwords log in to the contested account, want 1", logins)
	}
	got := map[string]int{}
	if err := json.Unmarshal(send(t, h, "GET", "/api/_received?by=route", "", "").Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"/api/register":        2 * workers,
		"/api/login":           2*workers + 2*10*workers + workers, // the last for the contested passwords
		"/api/password/change": workers,
		"/api/login/mfa":       10 * workers,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("received by route = %v, want %v", got, want)
	}
}

func TestReceivedCountsEveryRoute(t *testing.T) {
	clock := newFakeClock()
	h := newPortalWith(options{now: clock.Now})
	post := func(path, body string, c ...*http.Cookie) { send(t, h, "POST", path, ctJSON, body, c...) }

	ticket := mfaTicket(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("mfa@example.com", "correct-horse")))
	post("/api/login/mfa", jsonBody("mfaToken", ticket, "code", "000000"))
	post("/api/login/mfa", jsonBody("mfaToken", ticket, "code", demoCode(clock.Now())))
	post("/api/login/mfa", jsonBody("mfaToken", "unknown", "code", "000000")) // no account
	c := loginAs(t, h, "active@example.com", "correct-horse")
	post("/api/mfa/enroll", "", c)
	post("/api/mfa/enroll", "") // no session
	post("/api/mfa/enroll/confirm", jsonBody("code", "000000"), c)
	post("/api/mfa/disable", jsonBody("code", "000000"), c)
	post("/api/password/reset-request", jsonBody("email", "Ghost@Example.com"))
	token := resetToken(t, h, "disabled@example.com")
	post("/api/password/reset", jsonBody("token", token, "newPassword", "new-password"))
	post("/api/password/reset", jsonBody("token", token, "newPassword", "new-password")) // used: no account
	post("/api/password/change", jsonBody("currentPassword", "x", "newPassword", "new-password"), c)
	post("/api/register", jsonBody("email", "Someone@Example.org", "password", "long-enough"))
	post("/api/register", `{"email":`)
	// Not counted: session and test-only routes.
	send(t, h, "GET", "/api/me", "", "", c)
	send(t, h, "GET", "/api/_mailbox?email=disabled@example.com", "", "")

	expect(t, send(t, h, "GET", "/api/_received", "", ""), 200, `{`+
		`"/api/login/mfa ":1,"/api/login/mfa mfa@example.com":2,`+
		`"/api/mfa/disable active@example.com":1,`+
		`"/api/mfa/enroll ":1,"/api/mfa/enroll active@example.com":1,`+
		`"/api/mfa/enroll/confirm active@example.com":1,`+
		`"/api/password/change active@example.com":1,`+
		`"/api/password/reset ":1,"/api/password/reset disabled@example.com":1,`+
		`"/api/password/reset-request disabled@example.com":1,"/api/password/reset-request ghost@example.com":1,`+
		`"/api/register ":1,"/api/register someone@example.org":1,`+
		`"active@example.com":1,"mfa@example.com":1}`)
	expect(t, send(t, h, "GET", "/api/_received?by=route", "", ""), 200, `{`+
		`"/api/login":2,"/api/login/mfa":3,"/api/mfa/disable":1,"/api/mfa/enroll":2,"/api/mfa/enroll/confirm":1,`+
		`"/api/password/change":1,"/api/password/reset":2,"/api/password/reset-request":2,"/api/register":2}`)
	expect(t, send(t, h, "GET", "/api/_received?by=principal", "", ""), 400,
		`{"code":"BAD_REQUEST","message":"The parameter \"by\" must be \"route\" or absent."}`)
	expect(t, send(t, h, "DELETE", "/api/_received", "", ""), 204, "")
	expect(t, send(t, h, "GET", "/api/_received", "", ""), 200, `{}`)
	expect(t, send(t, h, "GET", "/api/_received?by=route", "", ""), 200, `{}`)
}

func TestFlowsLogNoSecrets(t *testing.T) {
	var logs syncBuffer
	clock := newFakeClock()
	h := newPortalWith(options{now: clock.Now, logger: slog.New(slog.NewTextHandler(&logs, nil))})
	secrets := []string{"correct-horse", "brand-new-pass", "second-new-pass", "third-new-pass", DemoMFASecret}

	ticket := mfaTicket(t, send(t, h, "POST", "/api/login", ctJSON, jsonLogin("mfa@example.com", "correct-horse")))
	rec := sendMFA(t, h, ticket, demoCode(clock.Now()))
	c := cookieFrom(t, rec, portalCookieRe)
	token := resetToken(t, h, "active@example.com")
	sendReset(t, h, token, "brand-new-pass")
	send(t, h, "POST", "/api/password/change", ctJSON, jsonBody("currentPassword", "correct-horse", "newPassword", "second-new-pass"), c)
	send(t, h, "POST", "/api/register", ctJSON, jsonBody("email", "logged@example.org", "password", "third-new-pass"))
	rec = send(t, h, "POST", "/api/mfa/enroll", "", "", loginAs(t, h, "markup@example.com", "correct-horse"))
	var enrolment mfaEnrolment
	_ = json.Unmarshal(rec.Body.Bytes(), &enrolment)

	out := logs.String()
	for _, s := range append(secrets, ticket, c.Value, token, enrolment.Secret) {
		if s == "" || strings.Contains(out, s) {
			t.Errorf("log holds secret %q:\n%s", s, out)
		}
	}
	for _, want := range []string{
		`path=/api/login status=200 principal=mfa@example.com outcome=MFA_REQUIRED`,
		`path=/api/login/mfa status=200 principal=mfa@example.com outcome=ACTIVE`,
		`path=/api/password/reset-request status=200 principal=active@example.com outcome=SENT`,
		`path=/api/password/reset status=200 principal=active@example.com outcome=PASSWORD_RESET`,
		`path=/api/password/change status=200 principal=mfa@example.com outcome=PASSWORD_CHANGED`,
		`path=/api/register status=201 principal=logged@example.org outcome=REGISTERED`,
		`path=/api/mfa/enroll status=200 principal=markup@example.com outcome=MFA_ENROLLMENT_STARTED`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestSlowDelaysAccountRoutes(t *testing.T) {
	const slow = 100 * time.Millisecond
	h := newPortalWith(options{slow: slow})
	for _, tt := range []struct{ path, body string }{
		{"/api/register", jsonBody("email", "slow@example.org", "password", "long-enough")},
		{"/api/password/reset-request", jsonBody("email", "active@example.com")},
		{"/api/login/mfa", jsonBody("mfaToken", "x", "code", "000000")},
		{"/api/mfa/enroll", ""},
	} {
		start := time.Now()
		send(t, h, "POST", tt.path, ctJSON, tt.body)
		if took := time.Since(start); took < slow {
			t.Errorf("%s took %s, want at least %s", tt.path, took, slow)
		}
	}
	start := time.Now()
	send(t, h, "GET", "/api/_mailbox?email=active@example.com", "", "")
	if took := time.Since(start); took >= slow {
		t.Errorf("the mailbox took %s, want no delay", took)
	}
}

func TestFlowPages(t *testing.T) {
	h := newPortal()
	tests := []struct {
		path     string
		contains []string
	}{
		{"/login/mfa?mfaToken=abc123", []string{`action="/api/login/mfa"`, `name="mfaToken" value="abc123"`, `name="code"`}},
		{"/login/mfa?mfaToken=" + url.QueryEscape(`"><script>x</script>`), []string{`value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"`}},
		{"/register", []string{`action="/api/register"`, `name="email"`, `name="password"`, `name="displayName"`}},
		{"/password/reset", []string{`action="/api/password/reset-request"`, `name="email"`}},
		{"/password/reset/confirm?token=t0k", []string{`action="/api/password/reset"`, `name="token" value="t0k"`, `name="newPassword"`}},
		{"/password/change", []string{`action="/api/password/change"`, `name="currentPassword"`, `name="newPassword"`}},
		{"/account/mfa", []string{`action="/api/mfa/enroll"`, `action="/api/mfa/enroll/confirm"`, `action="/api/mfa/disable"`}},
	}
	for _, tt := range tests {
		rec := send(t, h, "GET", tt.path, "", "")
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("GET %s: %d %q", tt.path, rec.Code, rec.Header().Get("Content-Type"))
		}
		for _, s := range tt.contains {
			if !strings.Contains(rec.Body.String(), s) {
				t.Errorf("GET %s: page lacks %q:\n%s", tt.path, s, rec.Body)
			}
		}
		if strings.Contains(rec.Body.String(), "<script>") {
			t.Errorf("GET %s: unescaped markup:\n%s", tt.path, rec.Body)
		}
	}
	for _, path := range []string{"/api/register", "/api/login/mfa", "/api/password/reset"} {
		if rec := send(t, h, "GET", path, "", ""); rec.Code != 405 {
			t.Errorf("GET %s: %d, want 405", path, rec.Code)
		}
	}
}
