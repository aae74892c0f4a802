package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/event"
)

// TestExampleOwnerKeepsAccess: Caddyfile.example as a user runs it (its
// known_ips and alerts at their defaults; only the per-IP limit lifted by the
// harness). It listens on 127.0.0.1 and [::1], two client addresses without
// any proxy: the owner logs in over IPv6, five wrong passwords over IPv4 lock
// the account, and then the right password is refused over IPv4 but gets the
// owner in over IPv6. The example's alerts are on: the lock raises
// account_locked, and the owner's success after five failures raises
// guessed_password (from the alert, an admin cannot tell the owner from a bot
// that guessed the password: it names the account and the address).
func TestExampleOwnerKeepsAccess(t *testing.T) {
	s := newStack(t, stackOptions{})
	const user = "active@example.com"
	v4, v6 := s.url, strings.Replace(s.url, "127.0.0.1", "[::1]", 1)
	loginAt := func(base, pw string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+"/api/login", strings.NewReader(`{"email":"`+user+`","password":"`+pw+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, _ := s.do(req)
		return resp.StatusCode
	}
	if st := loginAt(v6, password); st != 200 {
		t.Fatalf("the owner's login over IPv6: %d", st)
	}
	// A success is recorded (and the failure count reset) after its answer is
	// sent, and its event after that: wait for the event, so that the reset
	// cannot land after the failures below.
	s.waitEvents(1)
	for i := range 5 {
		if st := loginAt(v4, "wrong"); st != 401 {
			t.Fatalf("wrong password %d over IPv4: %d", i+1, st)
		}
	}
	if got := s.received()[user]; got != 6 {
		t.Fatalf("portal received %d, want 6", got)
	}
	if st := loginAt(v4, password); st != 401 {
		t.Fatalf("the right password over IPv4 while locked: %d, want 401", st)
	}
	if got := s.received()[user]; got != 6 {
		t.Fatalf("the locked account's attempt over IPv4 reached the portal (%d)", got)
	}
	if st := loginAt(v6, password); st != 200 {
		t.Fatalf("the owner over IPv6 while the account is locked from IPv4: %d, want 200", st)
	}
	if got := s.received()[user]; got != 7 {
		t.Fatalf("portal received %d, want 7", got)
	}
	evs := s.waitEvents(11) // 2 successes, 5 failures, the lock, a refusal, 2 alerts
	rest, _ := splitAlerts(evs)
	if n := len(byType(rest, event.AccountLocked)); n != 1 {
		t.Errorf("%d ACCOUNT_LOCKED events, want 1", n)
	}
	if n := countReason(rest, event.Locked); n != 1 {
		t.Errorf("%d LOCKED refusals, want 1", n)
	}
	for _, e := range byType(rest, event.LoginSuccess) {
		if e.RemoteAddress != "::1" {
			t.Errorf("a success from %q, want only the owner's ::1", e.RemoteAddress)
		}
	}
	alerts := waitAlerts(t, s.readEvents, 2)
	for i, rule := range []string{"account_locked", "guessed_password"} {
		if m := str(alerts[i].Message); !strings.HasPrefix(m, "alert rule="+rule+" subject="+user+" ") {
			t.Errorf("alert %d: %q, want %s for %s", i, m, rule, user)
		}
	}
	if alerts[1].RemoteAddress != "::1" {
		t.Errorf("guessed_password from %q, want the owner's ::1", alerts[1].RemoteAddress)
	}
}
