package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/admin/internal/admintest"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// want returns the ids of the data set's events that match keep, newest first.
func want(f *admintest.Fixture, keep func(e *event.Event) bool) []string {
	var ids []string
	for i := len(f.Events) - 1; i >= 0; i-- {
		if keep(&f.Events[i]) {
			ids = append(ids, f.Events[i].ID)
		}
	}
	return ids
}

// inDefault: within the last 30 days.
func inDefault(e *event.Event) bool {
	return !e.EventDate.Before(admintest.Now.Add(-admin.DefaultRange))
}

func idsOf(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func TestLoginLogsPaging(t *testing.T) {
	f := admintest.New(t, nil, nil)
	all := want(f, inDefault)
	if len(all) != len(f.Events)-1 {
		t.Fatalf("data set: %d events in the default range of %d", len(all), len(f.Events))
	}
	var got []string
	for n := 0; ; n++ {
		var p api.Page[event.Event]
		decode(t, get(t, f, "/api/v1/login-logs?size=7&page="+itoa(n)), &p)
		pages := (int64(len(all)) + 6) / 7
		if p.Number != n || p.Size != 7 || p.TotalElements != int64(len(all)) || p.TotalPages != pages ||
			p.First != (n == 0) || p.Last != (int64(n) >= pages-1) || p.NumberOfElements != len(p.Content) || p.Empty != (len(p.Content) == 0) {
			t.Fatalf("page %d: %+v", n, p)
		}
		got = append(got, idsOf(p.Content)...)
		if p.Last {
			if n != int(pages)-1 || len(p.Content) != len(all)-7*n {
				t.Fatalf("last page %d has %d events", n, len(p.Content))
			}
			break
		}
		if len(p.Content) != 7 {
			t.Fatalf("page %d has %d events", n, len(p.Content))
		}
	}
	if !slices.Equal(got, all) {
		t.Errorf("pages newest first:\n got %v\nwant %v", got, all)
	}
	// Beyond the last page: empty, still with the totals.
	var p api.Page[event.Event]
	decode(t, get(t, f, "/api/v1/login-logs?size=7&page=500"), &p)
	if !p.Empty || p.NumberOfElements != 0 || p.TotalElements != int64(len(all)) || !p.Last || p.First || p.Content == nil {
		t.Errorf("page beyond the end: %+v", p)
	}
	// Default size 20, ascending sort.
	decode(t, get(t, f, "/api/v1/login-logs?sort=date,asc"), &p)
	asc := slices.Clone(all)
	slices.Reverse(asc)
	if p.Size != 20 || !slices.Equal(idsOf(p.Content), asc[:20]) {
		t.Errorf("sort=date,asc: size %d, %v", p.Size, idsOf(p.Content))
	}
	decode(t, get(t, f, "/api/v1/login-logs?sort=date,desc&size=1000"), &p)
	if !slices.Equal(idsOf(p.Content), all) {
		t.Errorf("sort=date,desc: %v", idsOf(p.Content))
	}
	// The event of 40 days ago shows with an explicit range only.
	decode(t, get(t, f, "/api/v1/login-logs?from=2025-01-01&size=1000"), &p)
	if p.TotalElements != int64(len(f.Events)) || p.Content[len(p.Content)-1].ID != f.Events[0].ID {
		t.Errorf("from=2025-01-01: %d events", p.TotalElements)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestLoginLogsFilters(t *testing.T) {
	f := admintest.New(t, nil, nil)
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	cases := []struct {
		query string
		keep  func(e *event.Event) bool
	}{
		{"email=ALICE@Example.COM", func(e *event.Event) bool { return inDefault(e) && event.Value(e.Email) == "alice@example.com" }},
		{"ip=" + admintest.Attacker, func(e *event.Event) bool { return e.RemoteAddress == admintest.Attacker }},
		{"status=FAILURE", func(e *event.Event) bool { return inDefault(e) && e.EventType == event.LoginFailure }},
		{"status=success&source=API_MANAGER", func(e *event.Event) bool {
			return e.EventType == event.LoginSuccess && e.Source == event.SourceManager
		}},
		{"eventType=LOGOUT,LOGIN_SUCCESS&portalId=p2", func(e *event.Event) bool { return event.Value(e.PortalID) == "p2" }},
		{"eventType=LOGOUT", func(e *event.Event) bool { return e.EventType == event.Logout }},
		{"reason=ACCOUNT_NOT_FOUND", func(e *event.Event) bool { return e.Reason == event.AccountNotFound }},
		{"reason=BAD_CREDENTIALS&email=v1@example.net", func(e *event.Event) bool {
			return e.Reason == event.BadCredentials && event.Value(e.Email) == "v1@example.net"
		}},
		{"principal=bob", func(e *event.Event) bool { return event.Value(e.Principal) == "bob" }},
		{"principal=BOB", func(*event.Event) bool { return false }},
		// A date as to is inclusive: the whole day.
		{"from=2025-03-10&to=2025-03-11", func(e *event.Event) bool {
			return !e.EventDate.Before(day("2025-03-10")) && e.EventDate.Before(day("2025-03-12"))
		}},
		{"from=2025-03-14T09:00:00Z&to=2025-03-14T17:00:00Z", func(e *event.Event) bool {
			return !e.EventDate.Before(day("2025-03-14").Add(9*time.Hour)) && e.EventDate.Before(day("2025-03-14").Add(17*time.Hour))
		}},
		// An unescaped + in an offset reads as a space; it is taken back.
		{"from=2025-03-14T11:00:00+02:00", func(e *event.Event) bool { return !e.EventDate.Before(day("2025-03-14").Add(9 * time.Hour)) }},
		// Only from: open end; only to: open start.
		{"to=2025-02-10", func(e *event.Event) bool { return e.EventDate.Before(day("2025-02-11")) }},
	}
	for _, c := range cases {
		var p api.Page[event.Event]
		decode(t, get(t, f, "/api/v1/login-logs?size=1000&"+c.query), &p)
		w := want(f, c.keep)
		if !slices.Equal(idsOf(p.Content), w) || p.TotalElements != int64(len(w)) {
			t.Errorf("%s: got %d events (total %d), want %d", c.query, len(p.Content), p.TotalElements, len(w))
		}
		if len(w) == 0 && c.query != "principal=BOB" {
			t.Errorf("%s: the case matches nothing", c.query)
		}
	}
}

func TestBadParameters(t *testing.T) {
	f := admintest.New(t, nil, nil)
	cases := []struct{ path, param, part string }{
		{"/api/v1/login-logs?from=2025-13-01", "from", `invalid date "2025-13-01" (want YYYY-MM-DD or RFC 3339)`},
		{"/api/v1/login-logs?to=yesterday", "to", "invalid date"},
		{"/api/v1/login-logs?from=2025-03-02&to=2025-03-01", "from", "is after to"},
		{"/api/v1/login-logs?size=1001", "size", "above the maximum 1000"},
		{"/api/v1/login-logs?size=0", "size", "minimum"},
		{"/api/v1/login-logs?size=ten", "size", "invalid number"},
		{"/api/v1/login-logs?page=-1", "page", "negative"},
		{"/api/v1/login-logs?page=x", "page", "invalid number"},
		{"/api/v1/login-logs?page=10001&size=1000", "page", "beyond row 10000000"},
		{"/api/v1/login-logs?page=99999999999999999999", "page", "invalid number"},
		{"/api/v1/login-logs?status=MAYBE", "status", "unknown value"},
		{"/api/v1/login-logs?eventType=LOGIN_SUCCESS,LOGIN", "eventType", `unknown value "LOGIN"`},
		{"/api/v1/login-logs?source=PORTAL", "source", "unknown value"},
		{"/api/v1/login-logs?reason=WRONG", "reason", "unknown value"},
		{"/api/v1/login-logs?sort=name,asc", "sort", "unknown value"},
		{"/api/v1/login-logs?sort=date,up", "sort", "unknown value"},
		{"/api/v1/login-logs?ip=10.0.0", "ip", "invalid IP"},
		{"/api/v1/login-logs?format=xml", "format", "unknown value"},
		{"/api/v1/login-logs?email=" + strings.Repeat("a", 1025), "email", "longer than"},
		{"/api/v1/login-logs/not-a-uuid", "id", "malformed event id"},
		{"/api/admin/logins?from=2025-02-30", "from", "invalid date"},
		{"/api/admin/logins?format=ndjson", "format", "unknown value"},
		{"/api/v1/stats?interval=week", "interval", "unknown value"},
		{"/api/v1/stats?from=2000-01-01&interval=hour", "interval", "more than 10000"},
		{"/api/v1/stats?top=0", "top", "out of range"},
		{"/api/v1/stats?to=2025-01-01&from=2025-06-01", "from", "is after to"},
		{"/api/v1/suspicious?window=forever", "window", "invalid duration"},
		{"/api/v1/suspicious?window=100d", "window", "not between"},
		{"/api/v1/suspicious?window=1h&since=2025-03-15", "since", "either"},
		{"/api/v1/suspicious?since=2030-01-01", "since", "future"},
		{"/api/v1/suspicious?minIpFailures=-3", "minIpFailures", "out of range"},
		{"/api/v1/suspicious?limit=5000", "limit", "out of range"},
		{"/api/v1/users?size=2000", "size", "above the maximum"},
		{"/api/v1/users?sort=date,asc", "sort", "always sorted"},
	}
	for _, c := range cases {
		msg := errShape(t, get(t, f, c.path), http.StatusBadRequest, "BadRequestError")
		if !strings.HasPrefix(msg, c.param+": ") || !strings.Contains(msg, c.part) {
			t.Errorf("%s: message %q, want %q... %q", c.path, msg, c.param+": ", c.part)
		}
	}
	// The brief's example, exactly.
	msg := errShape(t, get(t, f, "/api/v1/login-logs?from=2025-13-01"), http.StatusBadRequest, "BadRequestError")
	if msg != `from: invalid date "2025-13-01" (want YYYY-MM-DD or RFC 3339)` {
		t.Errorf("message %q", msg)
	}
	// Bodies.
	bodies := []struct{ method, path, body, param string }{
		{http.MethodPost, "/api/v1/lockouts/accounts", `{}`, "principal"},
		{http.MethodPost, "/api/v1/lockouts/accounts", `{"principal":"bob","duration":"soon"}`, "duration"},
		{http.MethodPost, "/api/v1/lockouts/accounts", `{"principal":"bob","duration":"-5m"}`, "duration"},
		{http.MethodPost, "/api/v1/lockouts/accounts", `{"principal":"bob","until":"x"}`, "body"},
		{http.MethodPost, "/api/v1/lockouts/accounts", `{"principal":`, "body"},
		{http.MethodPost, "/api/v1/lockouts/accounts", ``, "body"},
		{http.MethodPost, "/api/v1/lockouts/accounts", `{"principal":"a"} {"principal":"b"}`, "body"},
		{http.MethodPost, "/api/v1/lockouts/accounts", `{"principal":"` + strings.Repeat("x", 70000) + `"}`, "body"},
		{http.MethodPost, "/api/v1/lockouts/ips", `{"ip":"300.1.1.1"}`, "ip"},
		{http.MethodPost, "/api/v1/lockouts/ips", `{"cidr":"10.0.0.0/33"}`, "cidr"},
		{http.MethodPost, "/api/v1/lockouts/ips", `{"ip":"10.0.0.1","cidr":"10.0.0.0/8"}`, "cidr"},
		{http.MethodPost, "/api/v1/lockouts/ips", `{}`, "ip"},
		{http.MethodDelete, "/api/v1/lockouts/ips/nonsense", "", "ip"},
		{http.MethodPost, "/api/v1/privacy/erase", `{"pseudonym":"x"}`, "principal"},
		{http.MethodPost, "/api/v1/privacy/erase", `{"principal":"bob","pseudonym":"BOB"}`, "pseudonym"},
		{http.MethodGet, "/api/v1/privacy/export", "", "principal"},
	}
	for _, c := range bodies {
		msg := errShape(t, call(t, f, c.method, c.path, admintest.AdminToken, c.body), http.StatusBadRequest, "BadRequestError")
		if !strings.HasPrefix(msg, c.param+": ") {
			t.Errorf("%s %s %.40s: message %q, want it to name %s", c.method, c.path, c.body, msg, c.param)
		}
	}
}

func TestLoginLogByID(t *testing.T) {
	f := admintest.New(t, nil, nil)
	for _, e := range []event.Event{f.Events[0], f.Events[len(f.Events)/2], f.Events[len(f.Events)-1]} {
		var got, bySeq event.Event
		decode(t, get(t, f, "/api/v1/login-logs/"+e.ID), &got)
		if got.Seq < 1 {
			t.Fatalf("GET %s: seq %d, want the store's number", e.ID, got.Seq)
		}
		// The sequence number finds the same event.
		decode(t, get(t, f, "/api/v1/login-logs/"+strconv.FormatInt(got.Seq, 10)), &bySeq)
		if bySeq.ID != e.ID || bySeq.Seq != got.Seq {
			t.Errorf("GET %d: event %s seq %d, want %s", got.Seq, bySeq.ID, bySeq.Seq, e.ID)
		}
		got.Seq = 0
		wb, _ := json.Marshal(e)
		gb, _ := json.Marshal(got)
		if !bytes.Equal(wb, gb) {
			t.Errorf("GET %s:\n got %s\nwant %s", e.ID, gb, wb)
		}
		// Upper case and braces are the same UUID.
		decode(t, get(t, f, "/api/v1/login-logs/"+strings.ToUpper(e.ID)), &got)
		if got.ID != e.ID {
			t.Errorf("upper-case id: got %s", got.ID)
		}
	}
	unknown := admintest.V7(admintest.Now, 999999)
	msg := errShape(t, get(t, f, "/api/v1/login-logs/"+unknown), http.StatusNotFound, "NotFoundError")
	if !strings.Contains(msg, unknown) {
		t.Errorf("404 message %q does not name the id", msg)
	}
}

// parseCSV parses a CSV answer with encoding/csv.
func parseCSV(t *testing.T, a answer) [][]string {
	t.Helper()
	if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV answer: %d %s %s", a.status, a.header.Get("Content-Type"), a.body)
	}
	rows, err := csv.NewReader(bytes.NewReader(a.body)).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v\n%s", err, a.body)
	}
	return rows
}

func TestLoginLogsCSV(t *testing.T) {
	f := admintest.New(t, nil, nil)
	all := want(f, inDefault)
	for _, a := range []answer{
		get(t, f, "/api/v1/login-logs?size=3", "Accept", "text/csv"),
		get(t, f, "/api/v1/login-logs?format=csv"),
		get(t, f, "/api/v1/login-logs?format=CSV", "Accept", "application/json"),
		get(t, f, "/api/v1/login-logs", "Accept", "application/json;q=0.5, text/csv"),
	} {
		rows := parseCSV(t, a)
		if !slices.Equal(rows[0], admin.LogCSVColumns()) {
			t.Fatalf("header %v", rows[0])
		}
		if !strings.Contains(a.header.Get("Content-Disposition"), ".csv") {
			t.Errorf("Content-Disposition %q", a.header.Get("Content-Disposition"))
		}
		// Every matching row, not one page, newest first.
		var ids []string
		for _, r := range rows[1:] {
			ids = append(ids, r[0])
		}
		if !slices.Equal(ids, all) {
			t.Fatalf("CSV ids: %d rows, want %d", len(ids), len(all))
		}
	}
	// The columns hold the event; a failure's status is FAILURE.
	rows := parseCSV(t, get(t, f, "/api/v1/login-logs?format=csv&email=carol@example.com&sort=date,asc"))
	col := func(name string) int { return slices.Index(rows[0], name) }
	if len(rows) != 3 || rows[1][col("status")] != "SUCCESS" || rows[2][col("eventType")] != "LOGOUT" || rows[2][col("status")] != "" ||
		rows[1][col("email")] != "carol@example.com" || rows[1][col("portalId")] != "p2" || rows[1][col("eventDate")] != "2025-03-12T10:30:00.000Z" {
		t.Errorf("carol's rows: %v", rows)
	}
	rows = parseCSV(t, get(t, f, "/api/v1/login-logs?format=csv&principal=bob&status=FAILURE"))
	if len(rows) != 2 || rows[1][col("message")] != "Authentication failed -> DISABLED" || rows[1][col("reason")] != "DISABLED" {
		t.Errorf("bob's failure: %v", rows)
	}
	// An empty result is a header row.
	if rows := parseCSV(t, get(t, f, "/api/v1/login-logs?format=csv&email=nobody@example.com")); len(rows) != 1 {
		t.Errorf("empty export: %v", rows)
	}
}

func TestCSVInjectionNeutralised(t *testing.T) {
	f := admintest.New(t, nil, nil)
	rows := parseCSV(t, get(t, f, "/api/v1/login-logs?format=csv&ip=10.0.0.3"))
	if len(rows) != 2 {
		t.Fatalf("rows %v", rows)
	}
	col := func(name string) string { return rows[1][slices.Index(rows[0], name)] }
	for name, w := range map[string]string{"principal": `'=HYPERLINK("http://evil.example")`, "displayName": "'@SUM(A1:A9)",
		"message": "'+1-2", "userAgent": "'-cmd"} {
		if col(name) != w {
			t.Errorf("%s = %q, want %q", name, col(name), w)
		}
	}
	for _, r := range rows[1:] {
		for _, c := range r {
			if c != "" && strings.ContainsRune("=+-@", rune(c[0])) {
				t.Errorf("cell %q is not neutralised", c)
			}
		}
	}
	// The CSV of Unleash's login history API too.
	rows = parseCSV(t, get(t, f, "/api/admin/logins?ip=10.0.0.3", "Accept", "text/csv"))
	if len(rows) != 2 || rows[1][1] != `'=HYPERLINK("http://evil.example")` || rows[1][6] != "'+1-2" {
		t.Errorf("logins CSV: %v", rows)
	}
	for in, w := range map[string]string{"=1": "'=1", "+1": "'+1", "-1": "'-1", "@x": "'@x", "\tx": "'\tx", "a=b": "a=b", "": ""} {
		if got := admin.Neutralise(in); got != w {
			t.Errorf("Neutralise(%q) = %q, want %q", in, got, w)
		}
	}
}

func TestLoginLogsNDJSON(t *testing.T) {
	f := admintest.New(t, nil, nil)
	for _, a := range []answer{
		get(t, f, "/api/v1/login-logs?format=ndjson&sort=date,asc&status=FAILURE"),
		get(t, f, "/api/v1/login-logs?sort=date,asc&status=FAILURE", "Accept", "application/x-ndjson"),
	} {
		if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("NDJSON: %d %s", a.status, a.header.Get("Content-Type"))
		}
		w := want(f, func(e *event.Event) bool { return inDefault(e) && e.EventType == event.LoginFailure })
		slices.Reverse(w)
		var ids []string
		sc := bufio.NewScanner(bytes.NewReader(a.body))
		for sc.Scan() {
			var e event.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			if e.EventType != event.LoginFailure {
				t.Errorf("line %s", sc.Text())
			}
			ids = append(ids, e.ID)
		}
		if !slices.Equal(ids, w) {
			t.Errorf("NDJSON: %d lines, want %d", len(ids), len(w))
		}
	}
	// Nothing matches: 200 and no line.
	if a := get(t, f, "/api/v1/login-logs?format=ndjson&email=nobody@example.com"); a.status != http.StatusOK || len(a.body) != 0 {
		t.Errorf("empty NDJSON: %d %q", a.status, a.body)
	}
}

func TestUnleashLoginHistory(t *testing.T) {
	f := admintest.New(t, nil, nil)
	a := get(t, f, "/api/admin/logins")
	var raw struct {
		Events []map[string]json.RawMessage `json:"events"`
	}
	decode(t, a, &raw)
	w := want(f, func(e *event.Event) bool {
		return inDefault(e) && (e.EventType == event.LoginSuccess || e.EventType == event.LoginFailure)
	})
	if len(raw.Events) != len(w) {
		t.Fatalf("%d login events, want %d", len(raw.Events), len(w))
	}
	// The id is the store's sequence number of the event.
	bySeq := map[int64]event.Event{}
	err := f.Store.Each(context.Background(), logstore.Filter{}, true, func(e event.Event) error {
		bySeq[e.Seq] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seqOf := func(id string) string {
		for n, e := range bySeq {
			if e.ID == id {
				return strconv.FormatInt(n, 10)
			}
		}
		return "no seq for " + id
	}
	last := int64(math.MaxInt64)
	for i, m := range raw.Events {
		var le api.Login
		b, _ := json.Marshal(m)
		if err := json.Unmarshal(b, &le); err != nil {
			t.Fatal(err)
		}
		if string(m["id"]) != strconv.FormatInt(le.ID, 10) || le.ID < 1 || le.ID >= last {
			t.Fatalf("event %d: id %s, want an integer >= 1 below the one before (%d)", i, m["id"], last)
		}
		last = le.ID
		e := bySeq[le.ID]
		keys := []string{"id", "username", "auth_type", "created_at", "successful", "ip"}
		if e.EventType != event.LoginSuccess && e.EventType != event.LoginFailure {
			t.Fatalf("event %d is %s", le.ID, e.EventType)
		}
		if e.ID != w[i] || le.Username != e.Identity() || le.AuthType != "password" || le.Successful != (e.EventType == event.LoginSuccess) ||
			event.Value(le.IP) != e.RemoteAddress {
			t.Errorf("event %d: %s", i, b)
		}
		if ts, err := time.Parse(time.RFC3339Nano, le.CreatedAt); err != nil || !ts.Equal(e.EventDate) {
			t.Errorf("created_at %q: %v", le.CreatedAt, err)
		}
		if le.Successful {
			if _, ok := m["failure_reason"]; ok {
				t.Errorf("success with failure_reason: %s", b)
			}
		} else {
			keys = append(keys, "failure_reason")
			if event.Value(le.FailureReason) != event.Value(e.Message) {
				t.Errorf("failure_reason %v, want the message %q", le.FailureReason, event.Value(e.Message))
			}
		}
		if len(m) != len(keys) {
			t.Errorf("keys of %s, want %v", b, keys)
		}
	}
	// CSV, same columns, same rows.
	rows := parseCSV(t, get(t, f, "/api/admin/logins", "Accept", "text/csv"))
	if !slices.Equal(rows[0], []string{"id", "username", "auth_type", "created_at", "successful", "ip", "failure_reason"}) || len(rows) != len(w)+1 {
		t.Fatalf("CSV: header %v, %d rows", rows[0], len(rows))
	}
	for i, r := range rows[1:] {
		if r[0] != seqOf(w[i]) || (r[4] != "true" && r[4] != "false") {
			t.Errorf("CSV row %v", r)
		}
	}
	// Filters apply; a non-login event type leaves nothing.
	decode(t, get(t, f, "/api/admin/logins?email=carol@example.com"), &raw)
	if len(raw.Events) != 1 {
		t.Errorf("carol: %d login events, want 1 (her logout is not a login)", len(raw.Events))
	}
	decode(t, get(t, f, "/api/admin/logins?eventType=LOGOUT"), &raw)
	if raw.Events == nil || len(raw.Events) != 0 {
		t.Errorf("eventType=LOGOUT: %v", raw.Events)
	}
}
