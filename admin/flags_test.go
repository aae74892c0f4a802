package admin_test

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/admin/internal/admintest"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// flaggedIDs returns the ids of the events of evs that keep says to, sorted.
func flaggedIDs(evs []event.Event, keep func(e event.Event) bool) []string {
	var out []string
	for _, e := range evs {
		if keep(e) {
			out = append(out, e.ID)
		}
	}
	slices.Sort(out)
	return out
}

// TestLoginLogsFlagFilters: wouldRefuse=true finds the refusals a route in
// monitor mode did not make, wouldRefuse=<reason> (any case) those of one
// reason, breached=true the attempts with a breached password, alone and with
// the other filters, on the login log, its CSV (which has the two columns)
// and Unleash's login history; reason=BREACHED_PASSWORD the refusals for
// one. Other values are a 400 naming the parameter.
func TestLoginLogsFlagFilters(t *testing.T) {
	f := admintest.New(t, admintest.Flagged(), nil)
	monitored := func(e event.Event) bool { return e.WouldRefuse != "" }
	for _, c := range []struct {
		query string
		keep  func(e event.Event) bool
		n     int
	}{
		{"wouldRefuse=true", monitored, 3},
		{"wouldRefuse=TRUE&status=FAILURE", monitored, 3},
		{"wouldRefuse=LOCKED", func(e event.Event) bool { return e.WouldRefuse == event.Locked }, 2},
		{"wouldRefuse=rate_limited", func(e event.Event) bool { return e.WouldRefuse == event.RateLimited }, 1},
		{"wouldRefuse=true&reason=LOCKED", func(e event.Event) bool { return e.WouldRefuse == event.Locked }, 2},
		{"reason=LOCKED", func(e event.Event) bool { return e.Reason == event.Locked }, 2},
		{"wouldRefuse=MFA_FAILED", func(event.Event) bool { return false }, 0},
		{"breached=true", func(e event.Event) bool { return e.PasswordBreached }, 4},
		{"breached=true&status=SUCCESS", func(e event.Event) bool { return e.PasswordBreached && e.EventType == event.LoginSuccess }, 2},
		{"breached=true&email=" + admintest.Breached, func(e event.Event) bool { return e.PasswordBreached && event.Value(e.Email) == admintest.Breached }, 3},
		{"breached=true&wouldRefuse=true", func(event.Event) bool { return false }, 0},
		{"reason=BREACHED_PASSWORD", func(e event.Event) bool { return e.Reason == event.BreachedPassword }, 1},
	} {
		var p api.Page[event.Event]
		decode(t, get(t, f, "/api/v1/login-logs?size=100&"+c.query), &p)
		var got []string
		for _, e := range p.Content {
			got = append(got, e.ID)
		}
		slices.Sort(got)
		want := flaggedIDs(f.Events, func(e event.Event) bool {
			return c.keep(e) && !e.EventDate.Before(admintest.Now.Add(-logsDefaultRange))
		})
		if len(want) != c.n || p.TotalElements != int64(c.n) || !slices.Equal(got, want) {
			t.Errorf("%s: %d events %v; want %d %v", c.query, p.TotalElements, got, c.n, want)
		}
		for _, e := range p.Content {
			if strings.Contains(c.query, "wouldRefuse=") && c.n > 0 && e.WouldRefuse == "" || strings.Contains(c.query, "breached=") && !e.PasswordBreached {
				t.Errorf("%s: event %s has wouldRefuse %q, passwordBreached %v", c.query, e.ID, e.WouldRefuse, e.PasswordBreached)
			}
		}
	}
	// The CSV export: every matching row, with the two columns.
	a := get(t, f, "/api/v1/login-logs?format=csv&wouldRefuse=true")
	rows, err := csv.NewReader(strings.NewReader(string(a.body))).ReadAll()
	if a.status != http.StatusOK || err != nil || len(rows) != 4 {
		t.Fatalf("CSV of wouldRefuse=true: %d, %d rows, %v: %s", a.status, len(rows), err, a.body)
	}
	wr, pb := slices.Index(rows[0], "wouldRefuse"), slices.Index(rows[0], "passwordBreached")
	if wr < 0 || pb < 0 {
		t.Fatalf("CSV columns %v lack wouldRefuse or passwordBreached", rows[0])
	}
	for _, r := range rows[1:] {
		if r[wr] != "LOCKED" && r[wr] != "RATE_LIMITED" || r[pb] != "" {
			t.Errorf("CSV row: wouldRefuse %q, passwordBreached %q", r[wr], r[pb])
		}
	}
	a = get(t, f, "/api/v1/login-logs?format=csv&breached=true&status=SUCCESS")
	rows, err = csv.NewReader(strings.NewReader(string(a.body))).ReadAll()
	if err != nil || len(rows) != 3 || rows[1][pb] != "true" || rows[2][pb] != "true" {
		t.Fatalf("CSV of breached successes: %v %q", err, rows)
	}
	// Unleash's login history takes the filters too.
	var h api.LoginHistory
	decode(t, get(t, f, "/api/admin/logins?breached=true"), &h)
	if len(h.Events) != 4 {
		t.Errorf("login history of breached=true: %d events, want 4", len(h.Events))
	}
	for _, bad := range []struct{ query, param string }{
		{"wouldRefuse=false", "wouldRefuse"},
		{"wouldRefuse=yes", "wouldRefuse"},
		{"wouldRefuse=NOT_A_REASON", "wouldRefuse"},
		{"breached=false", "breached"},
		{"breached=1", "breached"},
		{"breached=true&breached=true", "breached"},
	} {
		msg := errShape(t, get(t, f, "/api/v1/login-logs?"+bad.query), http.StatusBadRequest, "BadRequestError")
		if !strings.HasPrefix(msg, bad.param+": ") {
			t.Errorf("%s: message %q does not name %s", bad.query, msg, bad.param)
		}
	}
}

// TestStatsFlags: the stats answer counts the refusals a route in monitor
// mode did not make apart from those made (totals, by reason, per bucket),
// and the attempts with a breached password and the successes among them;
// the users view counts them per identity.
func TestStatsFlags(t *testing.T) {
	f := admintest.New(t, admintest.Flagged(), nil)
	var s api.Stats
	decode(t, get(t, f, "/api/v1/stats?from=2025-03-12&to=2025-03-15&interval=day"), &s)
	// Refusals made in the data set: none but the attacker's breached
	// password; monitored: carol's 5 attempts.
	if s.WouldRefuse != 5 || s.Refused != 1 || s.Breached != 4 || s.BreachedSuccesses != 2 {
		t.Fatalf("stats: wouldRefuse %d, refused %d, breached %d (%d successes); want 5, 1, 4 (2)", s.WouldRefuse, s.Refused, s.Breached, s.BreachedSuccesses)
	}
	if want := []logstore.ReasonCount{{Reason: event.Locked, Count: 4}, {Reason: event.RateLimited, Count: 1}}; !slices.Equal(s.WouldRefuseByReason, want) {
		t.Errorf("wouldRefuseByReason %v, want %v", s.WouldRefuseByReason, want)
	}
	if want := []logstore.ReasonCount{{Reason: event.BreachedPassword, Count: 1}}; !slices.Equal(s.RefusedByReason, want) {
		t.Errorf("refusedByReason %v, want %v", s.RefusedByReason, want)
	}
	var would, breached []int64
	for _, b := range s.Series {
		would, breached = append(would, b.WouldRefuse), append(breached, b.Breached)
	}
	// Days 03-12, 13, 14, 15: dave's first success on the 13th, the rest
	// on the 15th.
	if !slices.Equal(would, []int64{0, 0, 0, 5}) || !slices.Equal(breached, []int64{0, 1, 0, 3}) {
		t.Errorf("series: wouldRefuse %v, breached %v; want [0 0 0 5], [0 1 0 3]", would, breached)
	}
	var none api.Stats
	decode(t, get(t, f, "/api/v1/stats?from=2025-03-01&to=2025-03-02"), &none)
	if none.WouldRefuseByReason == nil || none.WouldRefuse != 0 || none.Breached != 0 {
		t.Errorf("an empty range: %+v", none)
	}
	var users api.Page[api.User]
	decode(t, get(t, f, "/api/v1/users?size=100"), &users)
	seen := 0
	for _, u := range users.Content {
		want := [2]int64{}
		switch u.Identity {
		case admintest.Breached:
			want = [2]int64{3, 2}
		case "v1@example.net":
			want = [2]int64{1, 0}
		}
		if got := [2]int64{u.BreachedAttempts, u.BreachedSuccesses}; got != want {
			t.Errorf("user %s: breached attempts, successes %v; want %v", u.Identity, got, want)
		}
		if want[0] > 0 {
			seen++
		}
	}
	if seen != 2 {
		t.Errorf("%d users with breached passwords listed, want 2", seen)
	}
}
