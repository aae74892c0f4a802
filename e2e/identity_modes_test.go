package e2e

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

const modesCaddyfile = `{
	admin {$CADDY_ADMIN}
	loginguard {
		sink file {$LOGINGUARD_EVENTS}
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
