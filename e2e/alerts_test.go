package e2e

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/event"
)

// TestAlerts: through real Caddy with the default alert rules (guessed_password
// at 3), each simulated attack fires its rule once, as an ALERT event with the
// rule, subject and count, counted by loginguard_alerts_total; the normal
// traffic beside them fires none.
func TestAlerts(t *testing.T) {
	cf := config{Global: trustXFF, App: `alerts {
			guessed_password 3 1h
		}`, Rules: `rule success {
			status 200
		}
		rule failure {
			status 401
			json /code
			reasons {
				BAD_CREDENTIALS BAD_CREDENTIALS
				USER_NOT_FOUND ACCOUNT_NOT_FOUND
			}
		}`, Handler: `lockout {
			max_failures 10
		}`}.String()
	s := newStack(t, stackOptions{Caddyfile: cf})
	n := 0
	from := func(ip, email, password string) {
		t.Helper()
		s.post("/api/login", "application/json", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password), "X-Forwarded-For", ip)
		n++
	}
	// Normal traffic: two people, a typo each, then the right password.
	for _, ip := range []string{"192.0.2.10", "192.0.2.11"} {
		from(ip, "active@example.com", "typo")
		from(ip, "active@example.com", "correct-horse")
	}
	// 12 wrong passwords from one IP on one account: ip_failures at the
	// 10th, which also locks the account (account_locked).
	for range 12 {
		from("203.0.113.9", "disabled@example.com", "guess")
	}
	// One IP, 6 accounts: credential stuffing.
	for i := range 6 {
		from("198.51.100.7", fmt.Sprintf("nobody%d@example.org", i), "guess")
	}
	// One account from 6 IPs, once each: a distributed attack.
	for i := range 6 {
		from(fmt.Sprintf("10.0.0.%d", i+1), "waiting@example.com", "guess")
	}
	// 3 failures, then the right password: a guessed password.
	for range 3 {
		from("192.0.2.20", "active@example.com", "guess")
	}
	from("192.0.2.20", "active@example.com", "correct-horse")

	evs := s.waitEvents(n + 1 + 5) // the attempts, one ACCOUNT_LOCKED, five alerts
	alerts := byType(evs, event.Alert)
	want := map[string]string{
		"ip_failures":         "alert rule=ip_failures subject=203.0.113.9 count=10 ",
		"account_locked":      "alert rule=account_locked subject=disabled@example.com count=10",
		"credential_stuffing": "alert rule=credential_stuffing subject=198.51.100.7 count=5 ",
		"distributed_attack":  "alert rule=distributed_attack subject=waiting@example.com count=5 ",
		"guessed_password":    "alert rule=guessed_password subject=active@example.com count=3 ",
	}
	if len(alerts) != len(want) || len(evs) != n+1+5 {
		for _, a := range alerts {
			t.Log(*a.Message)
		}
		t.Fatalf("%d ALERT events in %d events, want %d in %d", len(alerts), len(evs), len(want), n+6)
	}
	checkAlerts(t, alerts, want)
	resp, err := http.Get("http://" + s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, rule := range []string{"ip_failures", "account_locked", "credential_stuffing", "distributed_attack", "guessed_password"} {
		if line := `loginguard_alerts_total{rule="` + rule + `"} 1`; !strings.Contains(string(b), line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	if !strings.Contains(s.caddyLog(), `"msg":"loginguard alert"`) {
		t.Error("no alert in Caddy's log")
	}
}

// checkAlerts checks that alerts are one per rule of want, each message
// starting as want says (rule → prefix).
func checkAlerts(t *testing.T, alerts []event.Event, want map[string]string) {
	t.Helper()
	left := maps.Clone(want)
	for _, a := range alerts {
		msg := event.Value(a.Message)
		rule := strings.TrimPrefix(strings.Fields(msg)[1], "rule=")
		if p, ok := left[rule]; !ok || !strings.HasPrefix(msg, p) {
			t.Errorf("alert %q, want one starting %q", msg, want[rule])
		}
		delete(left, rule)
	}
	if len(left) != 0 {
		t.Fatalf("no alert for %v", left)
	}
}
