package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

// demoMFASecret is the demo portal's TOTP secret of mfa@example.com.
const demoMFASecret = "NRXWO2LOM52WC4TEFVSGK3LPFVWWMYJB"

// totp is the RFC 6238 code of secret (base32) at t: HMAC-SHA1, 30-second
// steps, 6 digits.
func totp(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(strings.ToUpper(secret), "="))
	if err != nil {
		t.Fatal(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// wrongCodes returns n codes that are none of the codes the portal accepts
// now (one step of skew either way, and a step more for the test's time).
func wrongCodes(t *testing.T, n int) []string {
	now := time.Now()
	right := map[string]bool{}
	for _, d := range []time.Duration{-60 * time.Second, -30 * time.Second, 0, 30 * time.Second, 60 * time.Second} {
		right[totp(t, demoMFASecret, now.Add(d))] = true
	}
	var out []string
	for i := 0; len(out) < n; i++ {
		c := fmt.Sprintf("%06d", (123457+i*7919)%1_000_000)
		if !right[c] {
			out = append(out, c)
		}
	}
	return out
}

// mfaConfig: the login route remembers the pending logins' tokens, the mfa
// route counts codes (5 wrong ones void a pending login and lock the
// account's MFA step), the MFA disabling is a step of the session's account,
// and the reset request is limited per IP (5 a minute; the uniform answers'
// IPs are allowed past the limits) and answers uniformly.
func mfaConfig(uniform bool) string {
	u := ""
	if uniform {
		u = "uniform"
	}
	return `{
	admin {$CADDY_ADMIN}
	` + trustXFF + `
	loginguard {
		connector events file {$LOGINGUARD_EVENTS}
	}
}
http://127.0.0.1:{$LOGINGUARD_PORT} {
	loginguard /api/login {
		rule success {
			status 200
		}
		rule failure BAD_CREDENTIALS {
			status 401
		}
		session_cookie portal_session
		mfa_token /mfaToken
	}
	loginguard /api/login/mfa {
		action mfa
		mfa_token json /mfaToken
		session_cookie portal_session
		lockout {
			max_failures 5
		}
	}
	loginguard /api/mfa/disable {
		action mfa_disable
		session_cookie portal_session
	}
	loginguard /api/password/reset-request {
		action reset_request
		rule success {
			status 200
		}
		rule failure ACCOUNT_NOT_FOUND {
			status 404
		}
		rate_limit {
			ip 5-M
			account 3-M
		}
		allow 203.0.113.20 203.0.113.22
		` + u + `
	}
	reverse_proxy {$PORTAL_UPSTREAM}
}
`
}

// receivedBy returns the demo portal's counts of requests by route.
func (s *stack) receivedBy() map[string]int {
	s.t.Helper()
	return s.receivedAt("/api/_received?by=route")
}

// mfaLogin logs mfa@example.com in with its password and returns the token
// of the pending login.
func mfaLogin(t *testing.T, s *stack) string {
	t.Helper()
	resp, body := s.post("/api/login", "application/json", `{"email":"mfa@example.com","password":"correct-horse"}`, "X-Forwarded-For", "203.0.113.10")
	var ch struct {
		MFARequired bool   `json:"mfaRequired"`
		MFAToken    string `json:"mfaToken"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &ch) != nil || !ch.MFARequired || ch.MFAToken == "" {
		t.Fatalf("login: %d %s, want 200 with an MFA token", resp.StatusCode, body)
	}
	return ch.MFAToken
}

func mfaCode(s *stack, token, code string) (*http.Response, string) {
	b, _ := json.Marshal(map[string]string{"mfaToken": token, "code": code})
	return s.post("/api/login/mfa", "application/json", string(b), "X-Forwarded-For", "203.0.113.10")
}

// eventsOf returns the events of type in evs, in order.
func eventsOf(evs []event.Event, types ...event.Type) []event.Event {
	var out []event.Event
	for _, e := range evs {
		for _, t := range types {
			if e.EventType == t {
				out = append(out, e)
			}
		}
	}
	return out
}

// TestMFACodes: through real Caddy in front of the demo portal, whose MFA
// step takes any number of guesses, a right code within the limit ends the
// login (MFA_SUCCESS with mfaUsed, the session known to the next steps); a
// brute force of a pending login stops at 5 wrong codes that reach the
// portal, and its right code after them is refused before the portal; the
// account's MFA step stays locked for a new pending login, while its
// password login is not.
func TestMFACodes(t *testing.T) {
	s := newStack(t, stackOptions{Caddyfile: mfaConfig(false)})

	// Two wrong codes, then the right one.
	token := mfaLogin(t, s)
	for _, c := range wrongCodes(t, 2) {
		if resp, body := mfaCode(s, token, c); resp.StatusCode != 401 {
			t.Fatalf("wrong code: %d %s, want the portal's 401", resp.StatusCode, body)
		}
	}
	resp, body := mfaCode(s, token, totp(t, demoMFASecret, time.Now()))
	if resp.StatusCode != 200 {
		t.Fatalf("right code: %d %s, want 200", resp.StatusCode, body)
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "portal_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("the right code set no session cookie")
	}
	evs := s.waitEvents(4)
	mfa := eventsOf(evs, event.MFASuccess, event.MFAFailure)
	if len(mfa) != 3 || mfa[0].EventType != event.MFAFailure || mfa[1].EventType != event.MFAFailure || mfa[2].EventType != event.MFASuccess {
		t.Fatalf("MFA events %+v, want 2 MFA_FAILURE then MFA_SUCCESS", mfa)
	}
	if ok := mfa[2]; !ok.MFAUsed || event.Value(ok.Email) != "mfa@example.com" || ok.Reason != "" {
		t.Errorf("MFA_SUCCESS %+v: want mfaUsed, email mfa@example.com, no reason", ok)
	}
	if f := mfa[0]; event.Value(f.Email) != "mfa@example.com" || f.Reason != event.BadCredentials || f.FailureCount != 1 || f.MFAUsed {
		t.Errorf("first MFA_FAILURE %+v: want mfa@example.com, BAD_CREDENTIALS, failureCount 1, no mfaUsed", f)
	}

	// The session the MFA step set names the account on the next steps.
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/mfa/disable", strings.NewReader(`{"code":"`+wrongCodes(t, 1)[0]+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(session)
	if resp, body := s.do(req); resp.StatusCode < 400 {
		t.Fatalf("disabling with a wrong code: %d %s, want a failure", resp.StatusCode, body)
	}
	evs = s.waitEvents(5)
	dis := eventsOf(evs, event.UserMFADisableFailed)
	if len(dis) != 1 || event.Value(dis[0].Email) != "mfa@example.com" {
		t.Fatalf("USER_MFA_DISABLE_FAILED events %+v, want one of mfa@example.com", dis)
	}

	// A brute force of a new pending login.
	before := s.receivedBy()["/api/login/mfa"]
	n := len(s.readEvents())
	token = mfaLogin(t, s)
	for i, c := range wrongCodes(t, 8) {
		resp, body := mfaCode(s, token, c)
		if i < 5 && resp.StatusCode != 401 {
			t.Fatalf("code %d: %d %s, want 401", i+1, resp.StatusCode, body)
		}
	}
	resp, body = mfaCode(s, token, totp(t, demoMFASecret, time.Now()))
	if resp.StatusCode == 200 || strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), ";"), "portal_session") {
		t.Fatalf("the right code after the limit: %d %s, want a refusal and no session", resp.StatusCode, body)
	}
	if got := s.receivedBy()["/api/login/mfa"] - before; got != 5 {
		t.Errorf("the portal received %d codes of the brute force, want exactly 5", got)
	}
	waitAttempts(t, s.readEvents, n+1+9) // the login and 9 codes (the lock is not an attempt)
	s.waitEvents(n + 1 + 9 + 1)
	evs = s.readEvents()
	mfa = eventsOf(evs[n:], event.MFAFailure, event.MFASuccess)
	if len(mfa) < 6 {
		t.Fatalf("%d MFA events of the brute force, want 5 failures and the refusals: %+v", len(mfa), mfa)
	}
	for i, e := range mfa[:5] {
		if e.EventType != event.MFAFailure || e.Reason != event.BadCredentials || e.FailureCount != i+1 {
			t.Errorf("brute force event %d: %s %s failureCount %d, want MFA_FAILURE BAD_CREDENTIALS %d", i+1, e.EventType, e.Reason, e.FailureCount, i+1)
		}
	}
	for _, e := range mfa[5:] {
		if e.EventType != event.MFAFailure || e.Reason != event.MFAFailed || event.Value(e.Email) != "mfa@example.com" {
			t.Errorf("refusal %+v: want MFA_FAILURE MFA_FAILED of mfa@example.com", e)
		}
	}
	if locks := eventsOf(evs[n:], event.AccountLocked); len(locks) != 1 || event.Value(locks[0].Email) != "mfa@example.com" {
		t.Errorf("ACCOUNT_LOCKED events %+v, want one for mfa@example.com's MFA step", locks)
	}

	// The password login is not locked; the account's MFA step is, on a new
	// pending login too: refused before the portal with LOCKED.
	before = s.receivedBy()["/api/login/mfa"]
	n = len(s.readEvents())
	token = mfaLogin(t, s)
	if resp, body := mfaCode(s, token, totp(t, demoMFASecret, time.Now())); resp.StatusCode == 200 {
		t.Fatalf("a right code of a locked MFA step: %d %s, want a refusal", resp.StatusCode, body)
	}
	if got := s.receivedBy()["/api/login/mfa"] - before; got != 0 {
		t.Errorf("the portal received %d codes of a locked MFA step, want 0", got)
	}
	evs = s.waitEvents(n + 2)
	if e := eventsOf(evs[n:], event.MFAFailure); len(e) != 1 || e[0].Reason != event.Locked {
		t.Errorf("events after the lock %+v, want one MFA_FAILURE LOCKED", evs[n:])
	}
}

// dateRE is the Date header line of a dumped response.
var dateRE = regexp.MustCompile(`(?m)^Date: .*\r\n`)

// resetRequest posts a reset request for email from ip and returns the
// answer dumped whole (status line, headers, body), Date left out.
func resetRequest(t *testing.T, s *stack, email, ip string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/password/reset-request", strings.NewReader(`{"email":"`+email+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dump, err := httputil.DumpResponse(resp, true)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, dateRE.ReplaceAll(dump, nil)
}

// TestResetRequests: a reset request is an event of its own; with uniform,
// the answer for an unknown email is byte for byte the known one's (but
// Date); a flood from one IP, or for one account from many, stops at its
// rate limit.
func TestResetRequests(t *testing.T) {
	s := newStack(t, stackOptions{Caddyfile: mfaConfig(true)})

	status, known := resetRequest(t, s, "active@example.com", "203.0.113.20")
	if status != 200 {
		t.Fatalf("known email: %d\n%s", status, known)
	}
	// (Both IPs are on the allow list: no rate limit headers, which are
	// each request's own.)
	_, unknown := resetRequest(t, s, "ghost@example.com", "203.0.113.22")
	if !bytes.Equal(known, unknown) {
		t.Errorf("the answers tell the accounts apart:\nknown:\n%s\nunknown:\n%s", known, unknown)
	}
	evs := s.waitEvents(2)
	if evs[0].EventType != event.PasswordResetRequested || event.Value(evs[0].Email) != "active@example.com" {
		t.Errorf("first event %+v, want USER_PASSWORD_RESET_REQUESTED of active@example.com", evs[0])
	}
	if evs[1].EventType != event.PasswordResetRequestFailed || evs[1].Reason != event.AccountNotFound || event.Value(evs[1].Email) != "ghost@example.com" {
		t.Errorf("second event %+v, want USER_PASSWORD_RESET_REQUEST_FAILED ACCOUNT_NOT_FOUND of ghost@example.com", evs[1])
	}

	// A flood from one IP: 5 a minute reach the portal.
	before := s.receivedBy()["/api/password/reset-request"]
	limited := 0
	for i := range 12 {
		status, _ := resetRequest(t, s, fmt.Sprintf("ghost%d@example.com", i), "203.0.113.21")
		if status == http.StatusTooManyRequests {
			limited++
		}
	}
	if got := s.receivedBy()["/api/password/reset-request"] - before; got != 5 {
		t.Errorf("the portal received %d reset requests of the flood, want 5", got)
	}
	if limited != 7 {
		t.Errorf("%d requests of the flood limited, want 7", limited)
	}
	// Requests for one account from many IPs: 3 a minute reach the portal.
	before = s.receivedBy()["/api/password/reset-request"]
	for i := range 6 {
		resetRequest(t, s, "Target@example.com", fmt.Sprintf("203.0.113.%d", 30+i))
	}
	if got := s.receivedBy()["/api/password/reset-request"] - before; got != 3 {
		t.Errorf("the portal received %d reset requests for one account, want 3", got)
	}
	evs = waitAttempts(t, s.readEvents, 2+12+6)
	if n := countReason(evs, event.RateLimited); n == 0 {
		t.Error("no RATE_LIMITED event of the flood")
	}
	for _, e := range evs {
		if e.Reason == event.RateLimited && e.EventType != event.PasswordResetRequestFailed {
			t.Errorf("rate-limited reset request recorded as %s, want USER_PASSWORD_RESET_REQUEST_FAILED", e.EventType)
		}
	}
}
