package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/event"
)

// TestMonitorMode: a route in monitor mode computes and counts every decision
// as enforce mode does, but refuses nothing: a locked account's attempts and
// an ambiguous request reach the portal, and their events say what enforce
// mode would have done (wouldRefuse); the metrics keep them apart from real
// refusals. Switched to enforce by a config reload, the lock earned in
// monitor mode holds at once.
func TestMonitorMode(t *testing.T) {
	cfg := func(mode string) string {
		return config{Handler: `mode ` + mode + `
		lockout {
			max_failures 3
			locked_events all
		}`}.String()
	}
	s := newStack(t, stackOptions{Caddyfile: cfg("monitor")})
	for range 5 {
		if resp, _ := s.login("active@example.com", "wrong"); resp.StatusCode != 401 {
			t.Fatalf("wrong password in monitor mode: %d, want the portal's 401", resp.StatusCode)
		}
	}
	if resp, _ := s.login("active@example.com", password); resp.StatusCode != 200 {
		t.Fatalf("right password of a locked account in monitor mode: %d, want the portal's 200", resp.StatusCode)
	}
	resp, _ := s.post("/api/login", "application/x-www-form-urlencoded", "email=active@example.com&email=decoy@example.com&password=wrong")
	if resp.StatusCode == 400 {
		t.Fatal("an ambiguous request was refused in monitor mode")
	}
	if got := s.received()["active@example.com"]; got < 6 {
		t.Fatalf("the portal received %d attempts for the account, want every one (6+)", got)
	}

	evs := s.waitEvents(3 + 1 + 3 + 1) // 3 failures, the lock, 3 locked attempts, the ambiguous one
	would := map[event.Reason]int{}
	for _, e := range evs {
		if e.WouldRefuse != "" {
			if e.WouldRefuse != e.Reason {
				t.Errorf("event %s: wouldRefuse %s, reason %s", e.ID, e.WouldRefuse, e.Reason)
			}
			would[e.WouldRefuse]++
		}
	}
	if would[event.Locked] != 3 || would[event.AmbiguousPrincipal] != 1 || countReason(evs, event.BadCredentials) != 3 {
		t.Errorf("wouldRefuse %v and %d BAD_CREDENTIALS in %d events; want 3 LOCKED, 1 AMBIGUOUS_PRINCIPAL, 3 failures", would, countReason(evs, event.BadCredentials), len(evs))
	}
	metrics := s.scrape()
	if !regexp.MustCompile(`(?m)^loginguard_monitored_refusals_total\{reason="LOCKED"\} 3$`).MatchString(metrics) {
		t.Errorf("no loginguard_monitored_refusals_total{reason=\"LOCKED\"} 3 on /metrics")
	}
	if strings.Contains(metrics, `loginguard_gateway_refusals_total{reason="LOCKED"}`) {
		t.Error("monitored refusals counted as made")
	}

	// Enforce: the lock earned in monitor mode holds at once.
	before := s.received()["active@example.com"]
	s.reload([]byte(cfg("enforce")))
	if resp, _ := s.login("active@example.com", password); resp.StatusCode == 200 {
		t.Fatal("after the switch to enforce, the locked account logged in")
	}
	if got := s.received()["active@example.com"]; got != before {
		t.Errorf("after the switch to enforce, the portal received %d more attempts", got-before)
	}
}
