package cli_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/admin/cli"
	"github.com/loginguard/loginguard/admin/internal/admintest"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/state"
)

// result is one run of the CLI.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the CLI against f with the admin token in the environment.
func run(f *admintest.Fixture, args ...string) result {
	return runEnv(map[string]string{cli.EnvURL: f.Server.URL, cli.EnvToken: admintest.AdminToken}, args...)
}

func runEnv(env map[string]string, args ...string) result {
	var out, errb bytes.Buffer
	code := cli.Run(args, func(k string) string { return env[k] }, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q, stdout %q", r.code, r.stderr, r.stdout)
	}
	return r
}

func parseCSV(t *testing.T, s string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, s)
	}
	return rows
}

func parseJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("JSON: %v\n%s", err, s)
	}
}

func TestLogs(t *testing.T) {
	f := admintest.New(t, nil, nil)
	r := run(f, "logs", "--email", "carol@example.com", "--sort", "date,asc").ok(t)
	for _, want := range []string{"DATE (UTC)", "2025-03-12 10:30:00", "SUCCESS", "LOGOUT", "carol@example.com", "10.0.0.5", "page 0 of 1 (2 events, 20 per page)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("logs table lacks %q:\n%s", want, r.stdout)
		}
	}
	// Flags after the subcommand's arguments, global flags first, json.
	r = run(f, "--output", "json", "logs", "--status", "FAILURE", "--size", "5").ok(t)
	var p api.Page[event.Event]
	parseJSON(t, r.stdout, &p)
	if p.Size != 5 || len(p.Content) != 5 || p.TotalElements != 26 {
		t.Errorf("logs json: size %d, %d events of %d", p.Size, len(p.Content), p.TotalElements)
	}
	// CSV: the page with the export's columns, neutralised.
	r = run(f, "logs", "--ip", "10.0.0.3", "--output", "csv").ok(t)
	rows := parseCSV(t, r.stdout)
	if len(rows) != 2 || !slices.Equal(rows[0], admin.LogCSVColumns()) || rows[1][slices.Index(rows[0], "displayName")] != "'@SUM(A1:A9)" {
		t.Errorf("logs csv: %v", rows)
	}
	// The table replaces control characters and keeps its alignment.
	if !strings.Contains(run(f, "logs", "--ip", "10.0.0.3").ok(t).stdout, `=HYPERLINK("http://evil.example")`) {
		t.Error("logs table lost the principal")
	}
	// The API's 400 is an API error: exit 1 with its message.
	r = run(f, "logs", "--from", "2025-13-01")
	if r.code != cli.ExitAPI || !strings.Contains(r.stderr, `from: invalid date "2025-13-01"`) {
		t.Errorf("bad date: %+v", r)
	}
}

func TestStatsUsersSuspiciousConnectors(t *testing.T) {
	f := admintest.New(t, nil, nil)
	r := run(f, "stats", "--from", "2025-03-05", "--to", "2025-03-15").ok(t)
	for _, want := range []string{"Login attempts 2025-03-05 00:00 to 2025-03-16 00:00 (UTC)", "SUCCESS RATE", "BAD_CREDENTIALS",
		"alice@example.com", admintest.Attacker, "Attempts by day (empty days left out)", "2025-03-15 00:00", "HOUR (UTC)", "09:00"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stats table lacks %q:\n%s", want, r.stdout)
		}
	}
	rows := parseCSV(t, run(f, "stats", "--from", "2025-03-14", "--to", "2025-03-14", "--output", "csv").ok(t).stdout)
	if !slices.Equal(rows[0], []string{"section", "key", "value", "successes", "failures"}) {
		t.Fatalf("stats csv header %v", rows[0])
	}
	sections := map[string]int{}
	for _, r := range rows[1:] {
		sections[r[0]]++
	}
	if sections["series"] != 24 || sections["hour"] != 24 || sections["summary"] != 8 || sections["topUser"] == 0 {
		t.Errorf("stats csv sections %v", sections)
	}
	var s api.Stats
	parseJSON(t, run(f, "stats", "--output", "json").ok(t).stdout, &s)
	if s.Total == 0 {
		t.Error("stats json: total 0")
	}
	// The breakdowns by country, AS and device type.
	r = run(f, "stats").ok(t)
	for _, want := range []string{"COUNTRY", "NL", "US", "TOP FAILING AS", "AS64496", "Example Hosting B.V.", "DEVICE TYPE", "desktop", "bot"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stats table lacks %q:\n%s", want, r.stdout)
		}
	}
	rows = parseCSV(t, run(f, "stats", "--output", "csv").ok(t).stdout)
	clear(sections)
	for _, r := range rows[1:] {
		sections[r[0]]++
	}
	if sections["country"] != 2 || sections["topAsn"] != 2 || sections["deviceType"] != 2 {
		t.Errorf("stats csv sections %v, want 2 countries, 2 ASes, 2 device types", sections)
	}
	// The logs filtered by location and device show them.
	r = run(f, "logs", "--country", "nl", "--asn", "AS64496", "--device-type", "bot", "--size", "100").ok(t)
	if !strings.Contains(r.stdout, "LOCATION") || !strings.Contains(r.stdout, "Amsterdam, NH, NL") || strings.Contains(r.stdout, "10.0.0.") ||
		!strings.Contains(r.stdout, "(12 events") {
		t.Errorf("logs --country nl:\n%s", r.stdout)
	}

	r = run(f, "users", "--search", "example.com").ok(t)
	for _, want := range []string{"IDENTITY", "alice@example.com", "ACTIVE", "carol@example.com", "LOGGED_OUT", "2025-03-12 11:30:00", "page 0 of 1 (2 users)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("users table lacks %q:\n%s", want, r.stdout)
		}
	}
	rows = parseCSV(t, run(f, "users", "--output", "csv", "--size", "3").ok(t).stdout)
	if len(rows) != 4 || rows[0][0] != "identity" {
		t.Errorf("users csv %v", rows)
	}
	// Every field of api.User, a permanent lock and an open session included,
	// in the table, the CSV and the JSON.
	run(f, "lock", "alice@example.com", "--duration", "permanent").ok(t)
	r = run(f, "users", "--search", "alice").ok(t)
	for _, want := range []string{"LAST SEEN", "SESSION", "LOCKED (permanent)", "2025-03-15 10:00:00", "active"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("users table lacks %q:\n%s", want, r.stdout)
		}
	}
	rows = parseCSV(t, run(f, "users", "--search", "alice", "--output", "csv").ok(t).stdout)
	col := func(name string) string {
		if i := slices.Index(rows[0], name); i >= 0 && len(rows) == 2 {
			return rows[1][i]
		}
		return "no column " + name
	}
	if col("lastSeen") != "2025-03-15T10:00:00Z" || col("sessionActive") != "true" || col("locked") != "true" ||
		col("permanent") != "true" || col("failures") != "0" || col("status") != api.StatusLocked {
		t.Errorf("users csv %v", rows)
	}
	var users api.Page[api.User]
	parseJSON(t, run(f, "users", "--search", "alice", "--output", "json").ok(t).stdout, &users)
	if len(users.Content) != 1 || users.Content[0].LastSeen == nil || !users.Content[0].SessionActive || !users.Content[0].Permanent {
		t.Errorf("users json %+v", users)
	}

	r = run(f, "suspicious", "--window", "2h").ok(t)
	for _, want := range []string{"IPs with at least 10 failures since 2025-03-15 10:00:00 UTC", admintest.Attacker, "v1@example.net", "IPs that tried at least 3 accounts"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("suspicious table lacks %q:\n%s", want, r.stdout)
		}
	}
	rows = parseCSV(t, run(f, "suspicious", "--window", "2h", "--output", "csv").ok(t).stdout)
	var kinds []string
	for _, r := range rows[1:] {
		kinds = append(kinds, r[0]+" "+r[1])
	}
	if !slices.Equal(kinds, []string{"failingIp " + admintest.Attacker, "attackedAccount v1@example.net", "sprayingIp " + admintest.Attacker}) {
		t.Errorf("suspicious csv %v", rows)
	}
	var sj api.Suspicious
	parseJSON(t, run(f, "suspicious", "--min-ip-failures", "4", "--output", "json").ok(t).stdout, &sj)
	if sj.MinIPFailures != 4 {
		t.Errorf("suspicious json %+v", sj)
	}

	r = run(f, "connectors").ok(t)
	if !strings.Contains(r.stdout, "webhook") || !strings.Contains(r.stdout, "POST https://hooks.example.com: 503") {
		t.Errorf("connectors table:\n%s", r.stdout)
	}
	rows = parseCSV(t, run(f, "connectors", "--output", "csv").ok(t).stdout)
	if len(rows) != 3 || rows[2][0] != "webhook" || rows[2][3] != "50" {
		t.Errorf("connectors csv %v", rows)
	}
}

func TestLockCommands(t *testing.T) {
	f := admintest.New(t, nil, nil)
	r := run(f, "lock", "Bob", "--duration", "1h").ok(t)
	if !strings.Contains(r.stdout, "bob") || !strings.Contains(r.stdout, "2025-03-15 13:00:00") {
		t.Errorf("lock table:\n%s", r.stdout)
	}
	var st state.AccountStatus
	parseJSON(t, run(f, "lock", "carol@example.com", "--duration", "permanent", "--output", "json").ok(t).stdout, &st)
	if st.Account != "carol@example.com" || !st.Locked || !st.Permanent {
		t.Errorf("lock json %+v", st)
	}
	run(f, "block", "203.0.113.0/24", "--duration", "2h").ok(t)
	rows := parseCSV(t, run(f, "block", "198.51.100.7", "--output", "csv").ok(t).stdout)
	if len(rows) != 2 || rows[1][0] != "198.51.100.7/32" || rows[1][1] != "false" {
		t.Errorf("block csv %v", rows)
	}
	r = run(f, "lockouts").ok(t)
	for _, want := range []string{"LOCKED ACCOUNT", "bob", "carol@example.com", "permanent", "admin", "BLOCKED IP", "203.0.113.0/24", "198.51.100.7/32"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("lockouts table lacks %q:\n%s", want, r.stdout)
		}
	}
	rows = parseCSV(t, run(f, "lockouts", "--output", "csv").ok(t).stdout)
	if len(rows) != 5 || !slices.Equal(rows[0], []string{"kind", "key", "permanent", "until", "failures"}) {
		t.Errorf("lockouts csv %v", rows)
	}
	var l api.Lockouts
	parseJSON(t, run(f, "lockouts", "--output", "json").ok(t).stdout, &l)
	if len(l.Accounts) != 2 || len(l.IPs) != 2 {
		t.Errorf("lockouts json %+v", l)
	}
	if r := run(f, "unlock", "bob").ok(t); !strings.Contains(r.stdout, "unlocked") {
		t.Errorf("unlock:\n%s", r.stdout)
	}
	if r := run(f, "unlock", "bob").ok(t); !strings.Contains(r.stdout, "was not locked") {
		t.Errorf("second unlock:\n%s", r.stdout)
	}
	if r := run(f, "unblock", "203.0.113.0/24").ok(t); !strings.Contains(r.stdout, "203.0.113.0/24") {
		t.Errorf("unblock:\n%s", r.stdout)
	}
	// Not blocked: 404, exit 4.
	r = run(f, "unblock", "203.0.113.0/24")
	if r.code != cli.ExitNotFound || !strings.Contains(r.stderr, "Could not find a block of 203.0.113.0/24") {
		t.Errorf("second unblock: %+v", r)
	}
	// A read token may not lock: exit 3.
	r = runEnv(map[string]string{cli.EnvURL: f.Server.URL, cli.EnvToken: admintest.ReadToken}, "lock", "bob")
	if r.code != cli.ExitAuth || !strings.Contains(r.stderr, "admin scope") {
		t.Errorf("lock with a read token: %+v", r)
	}
	var names []string
	for _, e := range f.Emitted() {
		names = append(names, string(e.EventType))
	}
	if !slices.Equal(names, []string{"ACCOUNT_LOCKED", "ACCOUNT_LOCKED", "ACCOUNT_UNLOCKED"}) {
		t.Errorf("emitted %v", names)
	}
}

func TestExportAndErase(t *testing.T) {
	f := admintest.New(t, nil, nil)
	rows := parseCSV(t, run(f, "export", "--status", "FAILURE", "--source", "API_MANAGER").ok(t).stdout)
	if len(rows) != 3 || !slices.Equal(rows[0], admin.LogCSVColumns()) {
		t.Errorf("export csv: %v", rows)
	}
	out := run(f, "export", "--format", "ndjson", "--email", "alice@example.com").ok(t).stdout
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e event.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || event.Value(e.Email) != "alice@example.com" {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		n++
	}
	if n != 22 {
		t.Errorf("export ndjson: %d lines, want 22", n)
	}
	// A data-access request: every event of bob, recorded.
	out = run(f, "export", "--subject", "bob").ok(t).stdout
	if strings.Count(out, "\n") != 4 || !strings.Contains(out, `"principal":"bob"`) {
		t.Errorf("export --subject:\n%s", out)
	}
	if em := f.Emitted(); len(em) != 1 || em[0].EventType != admin.DataExported {
		t.Errorf("emitted %v", em)
	}
	if r := run(f, "export", "--subject", "bob", "--email", "x@example.com"); r.code != cli.ExitUsage {
		t.Errorf("export --subject with a filter: %+v", r)
	}
	if r := run(f, "export", "--format", "xml"); r.code != cli.ExitUsage {
		t.Errorf("export --format xml: %+v", r)
	}
	// Erase needs --yes.
	if r := run(f, "erase", "bob"); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("erase without --yes: %+v", r)
	}
	r := run(f, "erase", "v2@example.net", "--pseudonym", "subject-2", "--yes").ok(t)
	if !strings.Contains(r.stdout, "pseudonymised") || !strings.Contains(r.stdout, "3") {
		t.Errorf("erase:\n%s", r.stdout)
	}
	rows = parseCSV(t, run(f, "erase", "bob", "--yes", "--output", "csv").ok(t).stdout)
	if len(rows) != 2 || rows[1][2] != "4" {
		t.Errorf("erase csv %v", rows)
	}
	r = run(f, "erase", "carol@example.com", "--pseudonym", "alice@example.com", "--yes")
	if r.code != cli.ExitAPI || !strings.Contains(r.stderr, "pseudonym:") {
		t.Errorf("erase conflict: %+v", r)
	}
}

func TestExitCodesAndUsage(t *testing.T) {
	f := admintest.New(t, nil, nil)
	env := map[string]string{cli.EnvURL: f.Server.URL, cli.EnvToken: admintest.AdminToken}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		err  string
	}{
		{"no subcommand", env, nil, cli.ExitUsage, "usage:"},
		{"unknown subcommand", env, []string{"frobnicate"}, cli.ExitUsage, `unknown subcommand "frobnicate"`},
		{"unknown flag", env, []string{"logs", "--colour"}, cli.ExitUsage, "flag provided but not defined"},
		{"missing argument", env, []string{"lock"}, cli.ExitUsage, "want <principal>"},
		{"extra argument", env, []string{"stats", "now"}, cli.ExitUsage, "want no arguments"},
		{"bad output", env, []string{"stats", "--output", "xml"}, cli.ExitUsage, "--output"},
		{"bad url", map[string]string{cli.EnvToken: "x", cli.EnvURL: "ftp://x"}, []string{"stats"}, cli.ExitUsage, "--url"},
		{"no token", map[string]string{cli.EnvURL: f.Server.URL}, []string{"stats"}, cli.ExitAuth, "no token"},
		{"wrong token", map[string]string{cli.EnvURL: f.Server.URL, cli.EnvToken: "nope"}, []string{"stats"}, cli.ExitAuth, "The bearer token is not valid."},
		{"flag token beats env", map[string]string{cli.EnvURL: f.Server.URL, cli.EnvToken: "nope"}, []string{"--token", admintest.ReadToken, "stats"}, cli.ExitOK, ""},
		{"url flag", map[string]string{cli.EnvToken: admintest.ReadToken}, []string{"users", "--url", f.Server.URL + "/"}, cli.ExitOK, ""},
		{"not found", env, []string{"unblock", "10.99.0.0/16"}, cli.ExitNotFound, "Could not find"},
		{"unreachable", map[string]string{cli.EnvURL: "http://127.0.0.1:1", cli.EnvToken: "x"}, []string{"stats"}, cli.ExitAPI, "cannot reach the admin API"},
		{"bad value", env, []string{"suspicious", "--window", "forever"}, cli.ExitAPI, "window: invalid duration"},
	}
	for _, c := range cases {
		r := runEnv(c.env, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.err) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", c.name, r.code, r.stderr, c.code, c.err)
		}
	}
	// Help goes to stdout with exit 0.
	for _, args := range [][]string{{"help"}, {"-h"}, {"logs", "-h"}} {
		r := runEnv(env, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "usage: caddy loginguard") {
			t.Errorf("%v: %+v", args, r)
		}
	}
	// An API behind a path prefix.
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", f.Handler))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	r := runEnv(map[string]string{cli.EnvURL: srv.URL + "/admin", cli.EnvToken: admintest.AdminToken}, "unblock", "10.0.0.0/8")
	if r.code != cli.ExitNotFound || !strings.Contains(r.stderr, "10.0.0.0/8") {
		t.Errorf("behind a prefix: %+v", r)
	}
	// A proxy's non-JSON error still gives the right exit code.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer plain.Close()
	r = runEnv(map[string]string{cli.EnvURL: plain.URL, cli.EnvToken: "x"}, "stats")
	if r.code != cli.ExitAPI || !strings.Contains(r.stderr, "HTTP 502") {
		t.Errorf("plain 502: %+v", r)
	}
}

// TestStatsSampledRefusal: the stats command counts a sampled refusal stored
// as one event of count 40 as 40 attempts, failed and refused, beside a
// success and a wrong password: 42 attempts from 3 stored events, in its
// table and its CSV.
func TestStatsSampledRefusal(t *testing.T) {
	at := admintest.Now.Add(-2 * time.Hour).Truncate(time.Hour).Add(20 * time.Minute)
	ok := event.Event{ID: admintest.V7(at, 1), Source: event.SourcePortal, Email: event.Str("flooded@example.com"),
		EventDate: at, EventType: event.LoginSuccess, RemoteAddress: "203.0.113.5"}
	refused := event.Event{ID: admintest.V7(at.Add(time.Minute), 2), Source: event.SourcePortal, Email: event.Str("flooded@example.com"),
		EventDate: at.Add(time.Minute), EventType: event.LoginFailure, Reason: event.RateLimited, RemoteAddress: "203.0.113.5", Count: 40}
	wrong := event.Event{ID: admintest.V7(at.Add(2*time.Minute), 3), Source: event.SourcePortal, Email: event.Str("flooded@example.com"),
		EventDate: at.Add(2 * time.Minute), EventType: event.LoginFailure, Reason: event.BadCredentials, RemoteAddress: "203.0.113.5"}
	f := admintest.New(t, []event.Event{ok, refused, wrong}, nil)
	r := run(f, "stats").ok(t)
	lines := strings.Split(r.stdout, "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "ATTEMPTS") })
	if i < 0 || i+1 >= len(lines) || strings.Join(strings.Fields(lines[i+1]), " ") != "42 1 41 40 2.4% 3" {
		t.Fatalf("stats summary; want 42 attempts, 1 success, 41 failures, 40 refused, 2.4%%, 3 events:\n%s", r.stdout)
	}
	rows := parseCSV(t, run(f, "stats", "--output", "csv").ok(t).stdout)
	want := map[string][]string{"total": {"summary", "total", "42", "1", "41"}, "refused": {"summary", "refused", "40", "", "40"}, "events": {"summary", "events", "3", "", ""}}
	for _, row := range rows {
		if w, ok := want[row[1]]; ok && row[0] == "summary" {
			if !slices.Equal(row, w) {
				t.Errorf("csv %v; want %v", row, w)
			}
			delete(want, row[1])
		}
	}
	if len(want) > 0 {
		t.Errorf("csv lacks %v", want)
	}
}

// TestMonitorAndBreachedFlags: logs --would-refuse (true or a reason, any
// case) and --breached narrow the log to the refusals a route in monitor mode
// did not make and to the attempts with a breached password, which the table
// marks; stats shows both counts, in its table and CSV; users the
// breached-password attempts and successes per identity.
func TestMonitorAndBreachedFlags(t *testing.T) {
	f := admintest.New(t, admintest.Flagged(), nil)
	var p api.Page[event.Event]
	parseJSON(t, run(f, "--output", "json", "logs", "--would-refuse", "true").ok(t).stdout, &p)
	if p.TotalElements != 3 {
		t.Errorf("logs --would-refuse true: %d events, want 3", p.TotalElements)
	}
	parseJSON(t, run(f, "--output", "json", "logs", "--would-refuse", "locked").ok(t).stdout, &p)
	if p.TotalElements != 2 || p.Content[0].WouldRefuse != event.Locked {
		t.Errorf("logs --would-refuse locked: %d events, want 2 LOCKED", p.TotalElements)
	}
	parseJSON(t, run(f, "--output", "json", "logs", "--breached", "--status", "SUCCESS").ok(t).stdout, &p)
	if p.TotalElements != 2 || !p.Content[0].PasswordBreached {
		t.Errorf("logs --breached --status SUCCESS: %d events, want 2 with a breached password", p.TotalElements)
	}
	r := run(f, "logs", "--email", "carol@example.com", "--would-refuse", "true").ok(t)
	if !strings.Contains(r.stdout, "FAILURE LOCKED (monitor: would refuse LOCKED)") || !strings.Contains(r.stdout, "(3 events, 20 per page)") {
		t.Errorf("logs table of monitored refusals:\n%s", r.stdout)
	}
	r = run(f, "logs", "--breached", "--email", admintest.Breached).ok(t)
	if strings.Count(r.stdout, "[breached password]") != 3 {
		t.Errorf("logs table of breached passwords:\n%s", r.stdout)
	}
	if r := run(f, "logs", "--would-refuse", "maybe"); r.code != cli.ExitAPI || !strings.Contains(r.stderr, "wouldRefuse: ") {
		t.Errorf("logs --would-refuse maybe: %+v", r)
	}
	r = run(f, "stats", "--from", "2025-03-12", "--to", "2025-03-15").ok(t)
	lines := strings.Split(r.stdout, "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "WOULD HAVE BEEN REFUSED") })
	if i < 0 || i+1 >= len(lines) || strings.Join(strings.Fields(lines[i+1]), " ") != "5 4 2" {
		t.Errorf("stats: want 5 attempts that would have been refused, 4 with a breached password, 2 successful:\n%s", r.stdout)
	}
	rows := parseCSV(t, run(f, "stats", "--from", "2025-03-12", "--to", "2025-03-15", "--output", "csv").ok(t).stdout)
	want := map[string][]string{"wouldRefuse": {"summary", "wouldRefuse", "5", "", "5"}, "breached": {"summary", "breached", "4", "2", "2"}}
	for _, row := range rows {
		if w, ok := want[row[1]]; ok && row[0] == "summary" {
			if !slices.Equal(row, w) {
				t.Errorf("stats csv %v; want %v", row, w)
			}
			delete(want, row[1])
		}
	}
	if len(want) > 0 {
		t.Errorf("stats csv lacks %v", want)
	}
	r = run(f, "users", "--search", "dave").ok(t)
	if !strings.Contains(r.stdout, "BREACHED PW (OK)") || !strings.Contains(r.stdout, "3 (2)") {
		t.Errorf("users table:\n%s", r.stdout)
	}
	rows = parseCSV(t, run(f, "users", "--search", "dave", "--output", "csv").ok(t).stdout)
	if len(rows) != 2 || rows[1][slices.Index(rows[0], "breachedAttempts")] != "3" || rows[1][slices.Index(rows[0], "breachedSuccesses")] != "2" {
		t.Errorf("users csv %v", rows)
	}
}
