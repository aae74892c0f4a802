package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/gateway"
)

// sessionsConfig is the demo portal behind a login route that records
// sessions (single_session), a logout route, and loginguard_sessions on every
// other route, with client IPs taken from X-Forwarded-For; watch is the
// loginguard_sessions block's options.
func sessionsConfig(watch string) string {
	return `{
	admin {$CADDY_ADMIN}
	` + trustXFF + `
	loginguard {
		connector events file {$LOGINGUARD_EVENTS}
	}
}
http://127.0.0.1:{$LOGINGUARD_PORT} {
	route {
		loginguard /api/login {
			rule success {
				status 200
			}
			rule failure BAD_CREDENTIALS {
				status 401
				json /code ^BAD_CREDENTIALS$
			}
			session_cookie portal_session
			single_session
			entry web
			lockout {
				ipv4_prefix 32
			}
		}
		loginguard /api/logout logout {
			session_cookie portal_session
		}
		loginguard_sessions {
			session_cookie portal_session
			` + watch + `
		}
		reverse_proxy {$PORTAL_UPSTREAM}
	}
}
`
}

// sessionLogin logs email in from ip and returns its session cookie.
func (s *stack) sessionLogin(email, ip string) *http.Cookie {
	s.t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": "correct-horse"})
	resp, body := s.post("/api/login", "application/json", string(b), "X-Forwarded-For", ip)
	for _, c := range resp.Cookies() {
		if c.Name == "portal_session" && c.Value != "" {
			return c
		}
	}
	s.t.Fatalf("login of %s: no session cookie (%d %s)", email, resp.StatusCode, body)
	return nil
}

// withCookie sends method path with the cookie (nil: none) from ip.
func (s *stack) withCookie(method, path string, c *http.Cookie, ip string) int {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if c != nil {
		req.AddCookie(c)
	}
	req.Header.Set("X-Forwarded-For", ip)
	resp, _ := s.do(req)
	return resp.StatusCode
}

// sessionIDOf is the sessionId the events of c's session carry.
func sessionIDOf(c *http.Cookie) string { return gateway.SessionID(gateway.HashSession(c.Value)) }

// waitSessionEvent waits (10s at most) for an event of type t, session id
// (any when ""), and status; it fails the test if none comes.
func (s *stack) waitSessionEvent(t event.Type, id, status string) event.Event {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, ev := range s.readEvents() {
			if ev.EventType == t && (id == "" || ev.SessionID == id) && ev.SessionStatus == status {
				return ev
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %s event of session %q with status %q in %+v", t, id, status, s.readEvents())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// count is the number of events of type t (of session id, any when "").
func count(evs []event.Event, t event.Type, id string) int {
	n := 0
	for _, ev := range evs {
		if ev.EventType == t && (id == "" || ev.SessionID == id) {
			n++
		}
	}
	return n
}

// TestSessionsWatched: through real Caddy and the demo portal, a session
// ends completed at its logout, new_login when the account logs in again,
// ip_conflict when its cookie comes from another network (refused); a
// logged-out and an unknown cookie are invalid user sessions, sampled; login
// events carry the entry method; a request without the cookie makes no event.
func TestSessionsWatched(t *testing.T) {
	s := newStack(t, stackOptions{Caddyfile: sessionsConfig("on_ip_conflict refuse")})
	const home = "198.51.100.7"

	// Completed: the logout ends the session; its cookie is then invalid.
	c1 := s.sessionLogin("active@example.com", home)
	if code := s.withCookie("GET", "/api/me", c1, home); code != 200 {
		t.Fatalf("GET /api/me with a live session: %d", code)
	}
	if code := s.withCookie("GET", "/api/me", nil, home); code == 0 {
		t.Fatal("no answer")
	}
	s.withCookie("POST", "/api/logout", c1, home)
	out := s.waitSessionEvent(event.Logout, sessionIDOf(c1), "completed")
	if event.Value(out.Email) != "active@example.com" {
		t.Errorf("logout event: %+v", out)
	}
	s.withCookie("GET", "/api/me", c1, "198.51.100.20")
	inv := s.waitSessionEvent(event.SessionInvalid, sessionIDOf(c1), "completed")
	if event.Value(inv.Email) != "active@example.com" || inv.RemoteAddress != "198.51.100.20" {
		t.Errorf("invalid session event of a logged-out cookie: %+v", inv)
	}

	// Unknown: a forged cookie, sent 20 times from one address: one event.
	forged := &http.Cookie{Name: "portal_session", Value: "00112233445566778899aabbccddeeff"}
	for range 20 {
		s.withCookie("GET", "/api/me", forged, "192.0.2.66")
	}
	s.waitSessionEvent(event.SessionInvalid, sessionIDOf(forged), "unknown")

	// New login: single_session ends the older session.
	c2 := s.sessionLogin("active@example.com", home)
	c3 := s.sessionLogin("active@example.com", home)
	s.waitSessionEvent(event.SessionEnded, sessionIDOf(c2), "new_login")

	// IP conflict: c3 is fine from its /24, refused from another network.
	if code := s.withCookie("GET", "/api/me", c3, "198.51.100.99"); code != 200 {
		t.Fatalf("GET /api/me from the login's /24: %d", code)
	}
	if code := s.withCookie("GET", "/api/me", c3, "203.0.113.9"); code != http.StatusForbidden {
		t.Fatalf("GET /api/me with the cookie from another network: %d, want 403", code)
	}
	conflict := s.waitSessionEvent(event.SessionIPConflict, sessionIDOf(c3), "ip_conflict")
	if conflict.RemoteAddress != "203.0.113.9" || event.Value(conflict.Email) != "active@example.com" {
		t.Errorf("IP conflict event: %+v", conflict)
	}
	s.waitSessionEvent(event.SessionEnded, sessionIDOf(c3), "ip_conflict")
	s.withCookie("GET", "/api/me", c3, "198.51.100.30")
	s.waitSessionEvent(event.SessionInvalid, sessionIDOf(c3), "ip_conflict")

	evs := s.readEvents()
	if n := count(evs, event.SessionInvalid, sessionIDOf(forged)); n != 1 {
		t.Errorf("20 forged cookies from one address: %d events, want 1 (sampled)", n)
	}
	if n := count(evs, event.SessionIPConflict, ""); n != 1 {
		t.Errorf("IP conflict events: %d, want 1 (the same /24 is no conflict)", n)
	}
	for _, ev := range evs {
		if ev.EventType == event.LoginSuccess && ev.EntryMethod != "web" {
			t.Errorf("login event without entryMethod web: %+v", ev)
		}
	}
}

// TestSessionsIdleTimeout: a session no request carries for the idle
// timeout is ended by the app's sweep (SESSION_ENDED idle_timeout), and its
// cookie is then an invalid user session.
func TestSessionsIdleTimeout(t *testing.T) {
	s := newStack(t, stackOptions{Caddyfile: sessionsConfig("idle_timeout 1s\n\t\t\tsweep_interval 200ms")})
	c := s.sessionLogin("active@example.com", "198.51.100.7")
	ended := s.waitSessionEvent(event.SessionEnded, sessionIDOf(c), "idle_timeout")
	if event.Value(ended.Email) != "active@example.com" {
		t.Errorf("idle timeout event: %+v", ended)
	}
	s.withCookie("GET", "/api/me", c, "198.51.100.7")
	s.waitSessionEvent(event.SessionInvalid, sessionIDOf(c), "idle_timeout")
}
