package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/event"
)

// TestForwardedForIgnored: without trusted_proxies, a client that rotates
// X-Forwarded-For is still limited by its real address, and its events carry
// that address, not the header's; so does the example's credential_stuffing
// alert for the five accounts it tried.
func TestForwardedForIgnored(t *testing.T) {
	s := newStack(t, stackOptions{Env: []string{"LOGINGUARD_IP_RATE=5-M"}})
	var statuses []int
	for i := range 8 {
		resp, _ := s.post("/api/login", "application/json", fmt.Sprintf(`{"email":"xff-%d@example.com","password":"x"}`, i),
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1), "X-Real-IP", fmt.Sprintf("203.0.113.%d", i+1))
		statuses = append(statuses, resp.StatusCode)
	}
	for i, st := range statuses {
		want := http.StatusUnauthorized // the portal's: no such account
		if i >= 5 {
			want = http.StatusTooManyRequests
		}
		if st != want {
			t.Errorf("attempt %d: %d, want %d (all %v)", i+1, st, want, statuses)
		}
	}
	evs := waitAttempts(t, func() []event.Event { rest, _ := splitAlerts(s.readEvents()); return rest }, 6)
	alerts := waitAlerts(t, s.readEvents, 1)
	for _, e := range append(evs, alerts...) {
		if e.RemoteAddress != "127.0.0.1" || strings.Contains(e.RemoteAddress, "198.51.100") {
			t.Errorf("event %s from %q, want the client's real address 127.0.0.1", e.EventType, e.RemoteAddress)
		}
	}
	if m := str(alerts[0].Message); !strings.HasPrefix(m, "alert rule=credential_stuffing subject=127.0.0.1 ") {
		t.Errorf("the alert: %q, want credential_stuffing for 127.0.0.1", m)
	}
}
