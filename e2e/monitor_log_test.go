package e2e

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// TestMonitorModeInTheLog: through real Caddy and its log store, the refusals
// a route in monitor mode did not make are kept with their wouldRefuse: the
// admin API finds them (wouldRefuse=true, wouldRefuse=<reason>), shows the
// field on each, and counts them in the stats apart from the refusals made
// (none here), by reason.
func TestMonitorModeInTheLog(t *testing.T) {
	cf := config{Handler: `mode monitor
		lockout {
			max_failures 3
			locked_events all
		}`}.String() + `
http://127.0.0.1:{$LOGINGUARD_ADMIN_PORT} {
	loginguard_admin {
		admin_token {env.LOGINGUARD_ADMIN_TOKEN}
		read_token {env.LOGINGUARD_READ_TOKEN}
	}
}
`
	s := newStack(t, stackOptions{Caddyfile: cf})
	for range 3 {
		s.login("active@example.com", "wrong")
	}
	// The account is locked: two attempts it would refuse, one right.
	s.login("active@example.com", "wrong")
	s.login("active@example.com", password)
	s.post("/api/login", "application/x-www-form-urlencoded", "email=active@example.com&email=decoy@example.com&password=wrong")
	evs := s.waitEvents(3 + 1 + 2 + 1) // 3 failures, the lock, 2 locked attempts, the ambiguous one
	want := map[event.Reason]int{}
	for _, e := range evs {
		if e.WouldRefuse != "" {
			want[e.WouldRefuse]++
		}
	}
	if want[event.Locked] != 2 || want[event.AmbiguousPrincipal] != 1 {
		t.Fatalf("the gateway's events: wouldRefuse %v, want 2 LOCKED and 1 AMBIGUOUS_PRINCIPAL", want)
	}
	waitTargets(t, "the events stored", func() bool { return s.apiTotal("") == len(evs) })

	for q, n := range map[string]int{"wouldRefuse=true": 3, "wouldRefuse=LOCKED": 2, "wouldRefuse=ambiguous_principal": 1,
		"wouldRefuse=RATE_LIMITED": 0, "wouldRefuse=true&status=FAILURE&reason=LOCKED": 2} {
		if got := s.apiTotal(q); got != n {
			t.Errorf("login-logs?%s: %d events, want %d", q, got, n)
		}
	}
	st, b := s.callAPI("GET", "/api/v1/login-logs?wouldRefuse=true", readToken, "", "")
	var pg page
	if err := json.Unmarshal([]byte(b), &pg); st != 200 || err != nil {
		t.Fatalf("login-logs?wouldRefuse=true: %d %s", st, b)
	}
	for _, e := range pg.Content {
		if e.WouldRefuse == "" || e.WouldRefuse != e.Reason {
			t.Errorf("stored event %s: wouldRefuse %q, reason %q", e.ID, e.WouldRefuse, e.Reason)
		}
	}
	if st, b := s.callAPI("GET", "/api/v1/login-logs?wouldRefuse=no", readToken, "", ""); st != 400 {
		t.Errorf("wouldRefuse=no: %d %s, want 400", st, b)
	}

	st, b = s.callAPI("GET", "/api/v1/stats", readToken, "", "")
	var stats api.Stats
	if err := json.Unmarshal([]byte(b), &stats); st != 200 || err != nil {
		t.Fatalf("stats: %d %s", st, b)
	}
	byReason := []logstore.ReasonCount{{Reason: event.Locked, Count: 2}, {Reason: event.AmbiguousPrincipal, Count: 1}}
	if stats.WouldRefuse != 3 || stats.Refused != 0 || !slices.Equal(stats.WouldRefuseByReason, byReason) {
		t.Errorf("stats: wouldRefuse %d %v, refused %d; want 3 %v, 0", stats.WouldRefuse, stats.WouldRefuseByReason, stats.Refused, byReason)
	}
	var series int64
	for _, b := range stats.Series {
		series += b.WouldRefuse
	}
	if series != 3 {
		t.Errorf("stats series: %d attempts that would have been refused, want 3", series)
	}
}
