package admin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/admin/internal/admintest"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/state"
)

func TestStats(t *testing.T) {
	f := admintest.New(t, nil, nil)
	from, to := time.Date(2025, 3, 5, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 16, 0, 0, 0, 0, time.UTC)
	var total, succ, fail int64
	reasons, users := map[event.Reason]int64{}, map[string]int64{}
	var hours [24]int64
	for _, e := range f.Events {
		if e.EventDate.Before(from) || !e.EventDate.Before(to) || (e.EventType != event.LoginSuccess && e.EventType != event.LoginFailure) {
			continue
		}
		total++
		hours[e.EventDate.Hour()]++
		users[e.Identity()]++
		if e.EventType == event.LoginSuccess {
			succ++
		} else {
			fail++
			reasons[e.Reason]++
		}
	}
	var s api.Stats
	decode(t, get(t, f, "/api/v1/stats?from=2025-03-05&to=2025-03-15&interval=day&top=3"), &s)
	if s.Interval != "day" || !s.From.Equal(from) || !s.To.Equal(to) || s.Total != total || s.Successes != succ || s.Failures != fail {
		t.Fatalf("stats %+v, want total %d successes %d failures %d", s, total, succ, fail)
	}
	if r := float64(succ) / float64(total); s.SuccessRate != r || s.FailureRate != 1-r && s.FailureRate != float64(fail)/float64(total) {
		t.Errorf("rates %v %v", s.SuccessRate, s.FailureRate)
	}
	for _, rc := range s.ByReason {
		if reasons[rc.Reason] != rc.Count {
			t.Errorf("reason %s: %d, want %d", rc.Reason, rc.Count, reasons[rc.Reason])
		}
	}
	if len(s.ByReason) != len(reasons) {
		t.Errorf("byReason %v, want %v", s.ByReason, reasons)
	}
	if len(s.TopUsers) != 3 || s.TopUsers[0].Key != "alice@example.com" || s.TopUsers[0].Count != users["alice@example.com"] {
		t.Errorf("topUsers %v", s.TopUsers)
	}
	if len(s.TopIPs) == 0 || s.TopIPs[0] != (logstore.Count{Key: admintest.Attacker, Count: 12}) {
		t.Errorf("topIps %v", s.TopIPs)
	}
	if len(s.Series) != 11 || !s.Series[0].Start.Equal(from) {
		t.Errorf("series of %d buckets from %v", len(s.Series), s.Series)
	}
	var sum int64
	for _, b := range s.Series {
		sum += b.Successes + b.Failures
	}
	if sum != total || s.ByHour != hours {
		t.Errorf("series sum %d, byHour %v, want %d %v", sum, s.ByHour, total, hours)
	}
	// One day: hourly by default.
	decode(t, get(t, f, "/api/v1/stats?from=2025-03-14&to=2025-03-14"), &s)
	if s.Interval != "hour" || len(s.Series) != 24 {
		t.Errorf("one day: interval %s, %d buckets", s.Interval, len(s.Series))
	}
	// Default: the last 30 days up to now, by day; lists are never null.
	a := get(t, f, "/api/v1/stats")
	decode(t, a, &s)
	if s.Interval != "day" || !s.To.Equal(admintest.Now) || !s.From.Equal(admintest.Now.Add(-admin.DefaultRange)) {
		t.Errorf("default range %v..%v by %s", s.From, s.To, s.Interval)
	}
	decode(t, get(t, f, "/api/v1/stats?from=2020-01-01&to=2020-01-02"), &s)
	if s.Total != 0 || s.ByReason == nil || s.TopUsers == nil || s.TopIPs == nil || s.SuccessRate != 0 {
		t.Errorf("empty range: %+v", s)
	}
	if strings.Contains(string(get(t, f, "/api/v1/stats?from=2020-01-01&to=2020-01-02").body), "null") {
		t.Error("empty stats hold a null")
	}
}

func TestSuspicious(t *testing.T) {
	f := admintest.New(t, nil, nil)
	var s api.Suspicious
	decode(t, get(t, f, "/api/v1/suspicious"), &s)
	if !s.Since.Equal(admintest.Now.Add(-time.Hour)) || s.MinIPFailures != 10 || s.MinAccountIPs != 3 || s.MinIPAccounts != 3 {
		t.Errorf("defaults: %+v", s)
	}
	if len(s.FailingIPs) != 1 || s.FailingIPs[0].IP != admintest.Attacker || s.FailingIPs[0].Failures != 12 || s.FailingIPs[0].Accounts != 4 {
		t.Errorf("failingIps %+v", s.FailingIPs)
	}
	if len(s.SprayingIPs) != 1 || s.SprayingIPs[0].IP != admintest.Attacker {
		t.Errorf("sprayingIps %+v", s.SprayingIPs)
	}
	if len(s.AttackedAccounts) != 0 {
		t.Errorf("attackedAccounts in the last hour: %+v", s.AttackedAccounts)
	}
	// Two hours back, v1 failed from three IPs.
	decode(t, get(t, f, "/api/v1/suspicious?window=2h"), &s)
	if len(s.AttackedAccounts) != 1 || s.AttackedAccounts[0].Identity != "v1@example.net" || s.AttackedAccounts[0].IPs != 3 {
		t.Errorf("attackedAccounts in 2h: %+v", s.AttackedAccounts)
	}
	// Thresholds.
	decode(t, get(t, f, "/api/v1/suspicious?minIpFailures=13&minIpAccounts=5"), &s)
	if len(s.FailingIPs) != 0 || len(s.SprayingIPs) != 0 || s.MinIPFailures != 13 {
		t.Errorf("raised thresholds: %+v", s)
	}
	decode(t, get(t, f, "/api/v1/suspicious?since=2025-03-14T00:00:00Z&minIpFailures=1&limit=2"), &s)
	if len(s.FailingIPs) != 2 || s.FailingIPs[0].IP != admintest.Attacker {
		t.Errorf("since, limit 2: %+v", s.FailingIPs)
	}
}

func TestUsers(t *testing.T) {
	f := admintest.New(t, nil, nil)
	if a := call(t, f, http.MethodPost, "/api/v1/lockouts/accounts", admintest.AdminToken, `{"principal":"Bob","duration":"permanent"}`); a.status != http.StatusOK {
		t.Fatalf("lock: %d %s", a.status, a.body)
	}
	var p api.Page[api.User]
	decode(t, get(t, f, "/api/v1/users?size=100"), &p)
	by := map[string]api.User{}
	for _, u := range p.Content {
		by[u.Identity] = u
	}
	if p.TotalElements != 8 || len(p.Content) != 8 {
		t.Fatalf("%d users (total %d): %v", len(p.Content), p.TotalElements, by)
	}
	alice, carol, bob, v1 := by["alice@example.com"], by["carol@example.com"], by["bob"], by["v1@example.net"]
	at := func(s string) time.Time { x, _ := time.Parse(time.RFC3339, s); return x }
	if alice.Status != api.StatusActive || !alice.SessionActive || alice.Locked == nil || *alice.Locked ||
		!alice.LastLogin.Equal(admintest.Now.Add(-2*time.Hour)) || !alice.LastLogout.Equal(at("2025-03-14T17:00:00Z")) ||
		!alice.LastFailure.Equal(at("2025-03-14T08:59:00Z")) || alice.LastIP != "10.0.0.1" {
		t.Errorf("alice %+v", alice)
	}
	if carol.Status != api.StatusLoggedOut || carol.SessionActive || !carol.LastLogout.Equal(at("2025-03-12T11:30:00Z")) || carol.LastFailure != nil {
		t.Errorf("carol %+v", carol)
	}
	if bob.Status != api.StatusLocked || bob.Locked == nil || !*bob.Locked || !bob.Permanent || bob.FailuresSinceSuccess != 1 {
		t.Errorf("bob %+v", bob)
	}
	if v1.Status != api.StatusNeverLoggedIn || v1.LastLogin != nil || v1.FailuresSinceSuccess != 5 {
		t.Errorf("v1 %+v", v1)
	}
	// Most recently active first; search; paging.
	if p.Content[0].Identity != "v4@example.net" && p.Content[0].Identity != "v1@example.net" {
		t.Errorf("first user %s", p.Content[0].Identity)
	}
	decode(t, get(t, f, "/api/v1/users?search=EXAMPLE.NET&size=3&page=1"), &p)
	if p.TotalElements != 4 || len(p.Content) != 1 || p.TotalPages != 2 || !p.Last || p.First {
		t.Errorf("search page 1: %+v", p)
	}
	// Without lockout state, locked is null.
	g := admintest.New(t, nil, func(o *admin.Options) { o.Lockouts = nil })
	a := get(t, g, "/api/v1/users?search=carol")
	decode(t, a, &p)
	if len(p.Content) != 1 || p.Content[0].Locked != nil || !strings.Contains(string(a.body), `"locked":null`) {
		t.Errorf("users without lockouts: %s", a.body)
	}
}

func TestLockouts(t *testing.T) {
	f := admintest.New(t, nil, nil)
	adm := func(method, path, body string) answer { return call(t, f, method, path, admintest.AdminToken, body) }
	var st state.AccountStatus
	decode(t, adm(http.MethodPost, "/api/v1/lockouts/accounts", `{"principal":"Bob","duration":"1h"}`), &st)
	if st.Account != "bob" || !st.Locked || st.Permanent || !st.LockedUntil.Equal(admintest.Now.Add(time.Hour)) {
		t.Errorf("lock 1h: %+v", st)
	}
	decode(t, adm(http.MethodPost, "/api/v1/lockouts/accounts", `{"principal":"alice@example.com"}`), &st)
	if !st.LockedUntil.Equal(admintest.Now.Add(admin.DefaultLockDuration)) {
		t.Errorf("default lock: %+v", st)
	}
	decode(t, adm(http.MethodPost, "/api/v1/lockouts/accounts", `{"principal":"carol@example.com","duration":"permanent"}`), &st)
	if !st.Permanent || !st.Locked {
		t.Errorf("permanent lock: %+v", st)
	}
	decode(t, adm(http.MethodPost, "/api/v1/lockouts/accounts", `{"principal":"dave","duration":"2d"}`), &st)
	if !st.LockedUntil.Equal(admintest.Now.Add(48 * time.Hour)) {
		t.Errorf("2d lock: %+v", st)
	}
	var b state.IPBlock
	decode(t, adm(http.MethodPost, "/api/v1/lockouts/ips", `{"ip":"203.0.113.9"}`), &b)
	if b.CIDR != "203.0.113.9/32" || !b.Until.Equal(admintest.Now.Add(15*time.Minute)) {
		t.Errorf("block ip: %+v", b)
	}
	decode(t, adm(http.MethodPost, "/api/v1/lockouts/ips", `{"cidr":"2001:db8:1::7/48","duration":"permanent"}`), &b)
	if b.CIDR != "2001:db8:1::/48" || !b.Permanent {
		t.Errorf("block cidr: %+v", b)
	}
	decode(t, adm(http.MethodPost, "/api/v1/lockouts/ips", `{"cidr":"198.51.100.0/24","duration":"30m"}`), &b)
	var l api.Lockouts
	decode(t, get(t, f, "/api/v1/lockouts"), &l)
	if len(l.Accounts) != 4 || l.Accounts[0].Account != "alice@example.com" || len(l.IPs) != 3 {
		t.Errorf("lockouts %+v", l)
	}
	// Unlock: was locked, then not.
	var u api.UnlockResult
	decode(t, adm(http.MethodDelete, "/api/v1/lockouts/accounts/BOB", ""), &u)
	if u.Account != "bob" || !u.WasLocked {
		t.Errorf("unlock: %+v", u)
	}
	decode(t, adm(http.MethodDelete, "/api/v1/lockouts/accounts/bob", ""), &u)
	if u.WasLocked {
		t.Errorf("second unlock: %+v", u)
	}
	decode(t, adm(http.MethodDelete, "/api/v1/lockouts/accounts/alice%40example.com", ""), &u)
	if u.Account != "alice@example.com" || !u.WasLocked {
		t.Errorf("unlock escaped: %+v", u)
	}
	// Unblock: an address, a CIDR escaped or not; a second time is a 404.
	for _, p := range []string{"203.0.113.9", "2001:db8:1::%2F48", "198.51.100.0/24"} {
		if a := adm(http.MethodDelete, "/api/v1/lockouts/ips/"+p, ""); a.status != http.StatusOK || !strings.Contains(string(a.body), `"unblocked":true`) {
			t.Errorf("unblock %s: %d %s", p, a.status, a.body)
		}
		msg := errShape(t, adm(http.MethodDelete, "/api/v1/lockouts/ips/"+p, ""), http.StatusNotFound, "NotFoundError")
		if !strings.Contains(msg, "Could not find a block of") {
			t.Errorf("second unblock %s: %q", p, msg)
		}
	}
	decode(t, get(t, f, "/api/v1/lockouts"), &l)
	if len(l.Accounts) != 2 || len(l.IPs) != 0 || l.IPs == nil {
		t.Errorf("lockouts after: %+v", l)
	}
	// Lock and unlock events, naming the token.
	var types []string
	for _, e := range f.Emitted() {
		types = append(types, string(e.EventType)+" "+e.Identity()+" "+event.Value(e.Message))
	}
	want := []string{
		"ACCOUNT_LOCKED bob Account bob locked by ops", "ACCOUNT_LOCKED alice@example.com Account alice@example.com locked by ops",
		"ACCOUNT_LOCKED carol@example.com Account carol@example.com locked by ops", "ACCOUNT_LOCKED dave Account dave locked by ops",
		"ACCOUNT_UNLOCKED bob Account bob unlocked by ops", "ACCOUNT_UNLOCKED alice@example.com Account alice@example.com unlocked by ops",
	}
	if strings.Join(types, "\n") != strings.Join(want, "\n") {
		t.Errorf("emitted:\n%s", strings.Join(types, "\n"))
	}
	// Without lockout state: 501 in the error shape.
	g := admintest.New(t, nil, func(o *admin.Options) { o.Lockouts = nil })
	errShape(t, get(t, g, "/api/v1/lockouts"), http.StatusNotImplemented, "NotImplementedError")
	errShape(t, call(t, g, http.MethodPost, "/api/v1/lockouts/accounts", admintest.AdminToken, `{"principal":"bob"}`), http.StatusNotImplemented, "NotImplementedError")
	errShape(t, call(t, g, http.MethodDelete, "/api/v1/lockouts/ips/10.0.0.1", admintest.AdminToken, ""), http.StatusNotImplemented, "NotImplementedError")
}

func TestConnectors(t *testing.T) {
	f := admintest.New(t, nil, nil)
	var c api.Connectors
	a := get(t, f, "/api/v1/connectors")
	decode(t, a, &c)
	if len(c.Connectors) != 2 {
		t.Fatalf("connectors %s", a.body)
	}
	store, hook := c.Connectors[0], c.Connectors[1]
	hookErrAt := hook.LastErrorAt
	hook.LastErrorAt = nil
	wantHook := api.Connector{Name: "webhook", Active: true, Queued: 3, Delivered: 50, Failed: 4, Dropped: 1, Spooled: 7,
		SpoolBytes: 4096, DeadLettered: 2, Disabled: true, LastError: "POST https://hooks.example.com: 503"}
	if hook != wantHook || hookErrAt == nil || !hookErrAt.Equal(admintest.Now.Add(-time.Minute)) ||
		!strings.Contains(string(a.body), `"lastErrorAt":"2025-03-15T11:59:00Z"`) {
		t.Errorf("webhook connector %s", a.body)
	}
	if store != (api.Connector{Name: "logstore", Active: true, Delivered: 57}) || strings.Count(string(a.body), "lastError") != 2 {
		t.Errorf("a connector without error: %s", a.body)
	}
	g := admintest.New(t, nil, func(o *admin.Options) { o.Connectors = nil })
	if a := get(t, g, "/api/v1/connectors"); a.status != http.StatusOK || strings.TrimSpace(string(a.body)) != `{"connectors":[]}` {
		t.Errorf("no connectors: %s", a.body)
	}
}

// TestStatsSampledRefusal: a sampled refusal stored as one event of count 40
// shows as 40 attempts, failed and refused, in stats, and as 40 failures
// since success in the users view; the login log lists it once, with its
// count.
func TestStatsSampledRefusal(t *testing.T) {
	at := admintest.Now.Add(-2 * time.Hour).Truncate(time.Hour).Add(20 * time.Minute)
	ok := event.Event{ID: admintest.V7(at, 1), Source: event.SourcePortal, Email: event.Str("flooded@example.com"),
		EventDate: at, EventType: event.LoginSuccess, RemoteAddress: "203.0.113.5"}
	msg := "Authentication failed -> RATE_LIMITED (39 more refused under ip since the last event)"
	refused := event.Event{ID: admintest.V7(at.Add(time.Minute), 2), Source: event.SourcePortal, Email: event.Str("flooded@example.com"),
		EventDate: at.Add(time.Minute), EventType: event.LoginFailure, Reason: event.RateLimited, RemoteAddress: "203.0.113.5",
		Message: &msg, Count: 40}
	f := admintest.New(t, []event.Event{ok, refused}, nil)

	var s api.Stats
	decode(t, get(t, f, "/api/v1/stats?interval=hour"), &s)
	if s.Total != 41 || s.Successes != 1 || s.Failures != 40 || s.Refused != 40 || s.Events != 2 {
		t.Fatalf("stats total/successes/failures/refused/events %d/%d/%d/%d/%d; want 41/1/40/40/2", s.Total, s.Successes, s.Failures, s.Refused, s.Events)
	}
	rl := logstore.ReasonCount{Reason: event.RateLimited, Count: 40}
	if len(s.RefusedByReason) != 1 || s.RefusedByReason[0] != rl || len(s.ByReason) != 1 || s.ByReason[0] != rl {
		t.Fatalf("byReason %v refusedByReason %v; want [%v] for both", s.ByReason, s.RefusedByReason, rl)
	}
	var refusedInSeries int64
	for _, b := range s.Series {
		refusedInSeries += b.Refused
	}
	if refusedInSeries != 40 || s.FailureRate != 40.0/41 {
		t.Fatalf("series refused %d, failureRate %v; want 40, 40/41", refusedInSeries, s.FailureRate)
	}

	var users api.Page[api.User]
	decode(t, get(t, f, "/api/v1/users?search=flooded"), &users)
	if len(users.Content) != 1 || users.Content[0].FailuresSinceSuccess != 40 {
		t.Fatalf("users %+v; want flooded@example.com with 40 failures since success", users.Content)
	}

	var logs api.Page[event.Event]
	decode(t, get(t, f, "/api/v1/login-logs?status=FAILURE"), &logs)
	if logs.TotalElements != 1 || logs.Content[0].Count != 40 {
		t.Fatalf("login log %+v; want the one event, count 40", logs)
	}
}
