package e2e

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/event"
)

// api calls the stack's admin API and returns the status and body.
func (s *stack) callAPI(method, path, token, accept, body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.api+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, b := s.do(req)
	return resp.StatusCode, b
}

// page is a page of the login log as the admin API answers it.
type page = api.Page[event.Event]

// TestAdminAPI: attempts through the demo portal appear in the admin API of the
// same Caddy, with filters, paging, sort, CSV, NDJSON and Unleash's login
// history API; bad tokens and parameters are refused; an admin's lock holds at
// the gateway.
func TestAdminAPI(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.login("active@example.com", password)
	s.login("active@example.com", "wrong-1")
	s.login("active@example.com", "wrong-2")
	s.login("disabled@example.com", password)
	s.login("waiting@example.com", password)
	s.post("/manager/login", "application/json", `{"username":"admin","password":"manager-secret"}`)

	var all page
	deadline := time.Now().Add(10 * time.Second)
	for all.TotalElements < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("the store holds %d events, want 6", all.TotalElements)
		}
		time.Sleep(100 * time.Millisecond)
		st, b := s.callAPI("GET", "/api/v1/login-logs", readToken, "", "")
		if st != 200 {
			t.Fatalf("login-logs: %d %s", st, b)
		}
		all = page{}
		json.Unmarshal([]byte(b), &all)
	}
	if all.Content[0].Principal == nil || *all.Content[0].Principal != "admin" {
		t.Errorf("newest first: %+v", all.Content[0])
	}

	// Auth: no token, a wrong token → 401 in the error shape.
	for _, tok := range []string{"", "not-the-token"} {
		st, b := s.callAPI("GET", "/api/v1/login-logs", tok, "", "")
		var e api.ErrorBody
		json.Unmarshal([]byte(b), &e)
		if st != 401 || e.Name != api.NameAuthenticationRequired || e.ID == "" || e.Message == "" {
			t.Errorf("token %q: %d %s", tok, st, b)
		}
	}

	// Filters and paging.
	var p page
	st, b := s.callAPI("GET", "/api/v1/login-logs?email=ACTIVE@example.com&status=FAILURE&size=1&sort=date,asc", readToken, "", "")
	json.Unmarshal([]byte(b), &p)
	if st != 200 || p.TotalElements != 2 || p.TotalPages != 2 || !p.First || p.Last || p.NumberOfElements != 1 ||
		*p.Content[0].Message != "Account active@example.com failed authentication due to 1 failed login attempts" {
		t.Fatalf("filtered page: %d %s", st, b)
	}
	st, b = s.callAPI("GET", "/api/v1/login-logs/"+p.Content[0].ID, readToken, "", "")
	if st != 200 || !strings.Contains(b, p.Content[0].ID) {
		t.Fatalf("one event: %d %s", st, b)
	}
	if st, _ := s.callAPI("GET", "/api/v1/login-logs/01a20167-0000-7000-8000-000000000000", readToken, "", ""); st != 404 {
		t.Errorf("unknown id: %d", st)
	}
	for _, bad := range []struct{ q, param string }{{"from=2025-13-01", "from"}, {"size=5000", "size"}, {"status=MAYBE", "status"}, {"sort=name", "sort"}} {
		st, b := s.callAPI("GET", "/api/v1/login-logs?"+bad.q, readToken, "", "")
		if st != 400 || !strings.Contains(b, bad.param) || !strings.Contains(b, "BadRequestError") {
			t.Errorf("%s: %d %s", bad.q, st, b)
		}
	}

	// CSV and NDJSON exports of every matching row.
	st, b = s.callAPI("GET", "/api/v1/login-logs", readToken, "text/csv", "")
	rows, err := csv.NewReader(strings.NewReader(b)).ReadAll()
	if st != 200 || err != nil || len(rows) != 7 {
		t.Fatalf("CSV: %d %v %d rows", st, err, len(rows))
	}
	st, b = s.callAPI("GET", "/api/v1/login-logs?format=ndjson", readToken, "", "")
	n := 0
	for sc := bufio.NewScanner(strings.NewReader(b)); sc.Scan(); n++ {
		var e event.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("NDJSON line %q: %v", sc.Text(), err)
		}
	}
	if st != 200 || n != 6 {
		t.Fatalf("NDJSON: %d, %d lines", st, n)
	}

	// Unleash's login history API, JSON and CSV.
	st, b = s.callAPI("GET", "/api/admin/logins", readToken, "", "")
	var keys map[string][]map[string]any
	json.Unmarshal([]byte(b), &keys)
	if st != 200 || len(keys["events"]) != 6 {
		t.Fatalf("/api/admin/logins: %d %s", st, b)
	}
	for _, k := range []string{"id", "username", "auth_type", "created_at", "successful", "ip"} {
		if _, ok := keys["events"][0][k]; !ok {
			t.Errorf("login history event lacks %q: %v", k, keys["events"][0])
		}
	}
	// failure_reason "is only present if the login was unsuccessful".
	for _, e := range keys["events"] {
		_, has := e["failure_reason"]
		if has == e["successful"].(bool) {
			t.Errorf("failure_reason on %v", e)
		}
	}
	// Strictly as Unleash's schema (api.LoginHistory) has it: id an integer
	// >= 1, falling down the newest-first list, created_at a date; no field
	// the schema lacks.
	dec := json.NewDecoder(strings.NewReader(b))
	dec.DisallowUnknownFields()
	var history api.LoginHistory
	if err := dec.Decode(&history); err != nil {
		t.Fatalf("login history JSON against the schema: %v\n%s", err, b)
	}
	var ids []string
	for i, e := range history.Events {
		if e.ID < 1 || (i > 0 && e.ID >= mustInt(t, ids[i-1])) {
			t.Fatalf("login history event %d: id %d, want an integer >= 1 below the one before (%v)", i, e.ID, ids)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.CreatedAt); err != nil {
			t.Errorf("login history event %d: created_at: %v", i, err)
		}
		ids = append(ids, strconv.FormatInt(e.ID, 10))
	}
	st, b = s.callAPI("GET", "/api/admin/logins", readToken, "text/csv", "")
	rows, _ = csv.NewReader(strings.NewReader(b)).ReadAll()
	if st != 200 || len(rows) != 7 || strings.Join(rows[0], ",") != "id,username,auth_type,created_at,successful,ip,failure_reason" {
		t.Fatalf("login history CSV: %d %v", st, rows)
	}
	for i, r := range rows[1:] {
		if r[0] != ids[i] {
			t.Fatalf("login history CSV row %d: id %s, want %s as in the JSON", i, r[0], ids[i])
		}
	}
	// Unleash's raw token header: taken by its login history API, refused
	// elsewhere.
	raw := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", s.api+path, nil)
		req.Header.Set("Authorization", readToken)
		resp, b := s.do(req)
		return resp.StatusCode, b
	}
	if st, b := raw("/api/admin/logins"); st != 200 || !strings.Contains(b, `"id":`+ids[0]+`,`) {
		t.Fatalf("raw token on /api/admin/logins: %d %s", st, b)
	}
	if st, b := raw("/api/v1/login-logs"); st != 401 || !strings.Contains(b, "Bearer") {
		t.Fatalf("raw token on /api/v1/login-logs: %d %s, want 401 naming Bearer", st, b)
	}
	// The number finds the event in the login log too, as its seq.
	st, b = s.callAPI("GET", "/api/v1/login-logs/"+ids[0], readToken, "", "")
	var byNum event.Event
	if json.Unmarshal([]byte(b), &byNum); st != 200 || strconv.FormatInt(byNum.Seq, 10) != ids[0] {
		t.Fatalf("login log by number %s: %d %s", ids[0], st, b)
	}

	// Lockouts: a read token may not lock (403); an admin's lock holds at the gateway.
	if st, _ := s.callAPI("POST", "/api/v1/lockouts/accounts", readToken, "", `{"principal":"waiting@example.com"}`); st != 403 {
		t.Fatalf("read token locking: %d", st)
	}
	if st, b := s.callAPI("POST", "/api/v1/lockouts/accounts", adminToken, "", `{"principal":"waiting@example.com","duration":"1h"}`); st/100 != 2 {
		t.Fatalf("lock: %d %s", st, b)
	}
	before := s.received()["waiting@example.com"]
	if resp, body := s.login("waiting@example.com", password); resp.StatusCode != 401 || !strings.Contains(body, "AUTHENTICATION_FAILED") {
		t.Fatalf("locked by an admin, yet: %d %s", resp.StatusCode, body)
	}
	if s.received()["waiting@example.com"] != before {
		t.Fatal("the attempt on an admin-locked account reached the portal")
	}
	if st, b := s.callAPI("GET", "/api/v1/lockouts", readToken, "", ""); st != 200 || !strings.Contains(b, "waiting@example.com") {
		t.Fatalf("lockouts: %d %s", st, b)
	}
	if st, b := s.callAPI("DELETE", "/api/v1/lockouts/accounts/waiting@example.com", adminToken, "", ""); st != 200 {
		t.Fatalf("unlock: %d %s", st, b)
	}
	if resp, _ := s.login("waiting@example.com", password); resp.StatusCode != 403 {
		t.Fatalf("after the unlock the portal answers again: %d", resp.StatusCode)
	}
	evs := s.waitEvents(10)
	if len(byType(evs, event.AccountLocked)) != 1 || len(byType(evs, event.AccountUnlocked)) != 1 {
		t.Fatalf("lock and unlock events: %+v", evs)
	}

	// The CLI against this Caddy.
	cli := func(token string, args ...string) (int, string) {
		cmd := exec.Command(filepath.Join(bin, "caddy"), append([]string{"loginguard"}, args...)...)
		cmd.Env = []string{"LOGINGUARD_ADMIN_URL=" + s.api, "LOGINGUARD_ADMIN_TOKEN=" + token, "HOME=" + t.TempDir()}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, _ := cmd.Output()
		return cmd.ProcessState.ExitCode(), string(out) + stderr.String() // the CLI's errors go to stderr
	}
	cliOut := func(token string, args ...string) (int, string) { // stdout only
		cmd := exec.Command(filepath.Join(bin, "caddy"), append([]string{"loginguard"}, args...)...)
		cmd.Env = []string{"LOGINGUARD_ADMIN_URL=" + s.api, "LOGINGUARD_ADMIN_TOKEN=" + token, "HOME=" + t.TempDir()}
		out, _ := cmd.Output()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	if code, out := cli(readToken, "logs", "--email", "disabled@example.com"); code != 0 || !strings.Contains(out, "Authentication failed -> DISABLED") {
		t.Errorf("caddy loginguard logs: exit %d\n%s", code, out)
	}
	if code, out := cliOut(readToken, "--output", "csv", "logs"); code != 0 {
		t.Errorf("caddy loginguard logs --output csv: exit %d\n%s", code, out)
	} else if recs, err := csv.NewReader(strings.NewReader(out)).ReadAll(); err != nil || len(recs) < 2 ||
		recs[0][0] != "id" || !slices.Contains(recs[0], "eventType") || !slices.Contains(recs[0], "email") ||
		!slices.ContainsFunc(recs[1:], func(r []string) bool { return slices.Contains(r, "disabled@example.com") }) {
		t.Errorf("caddy loginguard logs --output csv: not the login log as CSV (%v):\n%s", err, out)
	}
	if code, out := cli(readToken, "lock", "someone@example.com"); code != 3 {
		t.Errorf("lock with a read token: exit %d, want 3\n%s", code, out)
	}
	if code, out := cli(adminToken, "lock", "someone@example.com"); code != 0 {
		t.Errorf("lock with the admin token: exit %d\n%s", code, out)
	}
	if code, out := cli(adminToken, "lockouts"); code != 0 || !strings.Contains(out, "someone@example.com") {
		t.Errorf("caddy loginguard lockouts: exit %d\n%s", code, out)
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
