package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/event"
)

// TestAdminActionsOnRecord: an admin's block, unblock, lock and unlock through
// the admin API are events (IP_BLOCKED, IP_UNBLOCKED, ACCOUNT_LOCKED,
// ACCOUNT_UNLOCKED) naming the token, with the admin's address and user agent;
// a block wider than /16 or covering the admin's own address needs force.
func TestAdminActionsOnRecord(t *testing.T) {
	// Alerts off: the admin's lock would fire account_locked among the events
	// checked one by one.
	s := newStack(t, stackOptions{Env: []string{noAlerts}})
	call := func(method, path, body string, want int) string {
		t.Helper()
		st, b := s.callAPI(method, path, adminToken, "", body)
		if st != want {
			t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, st, b, want)
		}
		return b
	}
	if b := call("POST", "/api/v1/lockouts/ips", `{"cidr":"10.0.0.0/8"}`, http.StatusBadRequest); !strings.Contains(b, "force") {
		t.Errorf("a /8 without force: %s; want the error to name force", b)
	}
	if b := call("POST", "/api/v1/lockouts/ips", `{"cidr":"127.0.0.0/24"}`, http.StatusBadRequest); !strings.Contains(b, "your own address") {
		t.Errorf("a block of the admin's own address: %s", b)
	}
	call("POST", "/api/v1/lockouts/ips", `{"cidr":"10.0.0.0/8","force":true}`, http.StatusOK)
	call("DELETE", "/api/v1/lockouts/ips/10.0.0.0%2F8", "", http.StatusOK)
	call("POST", "/api/v1/lockouts/accounts", `{"principal":"waiting@example.com"}`, http.StatusOK)
	call("DELETE", "/api/v1/lockouts/accounts/waiting@example.com", "", http.StatusOK)

	want := []event.Type{event.IPBlocked, event.IPUnblocked, event.AccountLocked, event.AccountUnlocked}
	evs := s.waitEvents(len(want))
	for i, e := range evs[:len(want)] {
		msg := str(e.Message)
		if e.EventType != want[i] || e.RemoteAddress != "127.0.0.1" || !strings.HasPrefix(e.UserAgent, "Go-http-client") || !strings.Contains(msg, " by token ") {
			t.Errorf("event %d: %s from %q (%q): %s; want %s from the admin's address, naming the token", i, e.EventType, e.RemoteAddress, e.UserAgent, msg, want[i])
		}
	}
	if m := str(evs[0].Message); !strings.Contains(m, "10.0.0.0/8") {
		t.Errorf("block event message %q does not name the range", m)
	}
}
