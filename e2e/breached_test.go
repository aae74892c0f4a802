package e2e

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

// The passwords of the breached-password tests: each is unique to these tests,
// so that finding one in a file means loginguard wrote it there.
const (
	pwRightListed   = "Tr0ub4dor&3-in-a-breach" // the account's password, in the set
	pwWrongListed   = "hunter2-in-a-breach"     // a wrong guess, in the set
	pwWrongUnlisted = "unlisted-guess-7f3a9c"   // a wrong guess, not in the set
	pwNewListed     = "Password1!-in-a-breach"  // a new password, in the set
	pwNewUnlisted   = "a-fresh-new-passphrase-5d1e"
)

// breachPortal is a portal of the breached-password tests: a login answers
// 200 for pwRightListed and pwRightUnlisted, else 401 BAD_CREDENTIALS; a
// password change answers 200. It records, per request, the breached header
// it got.
type breachPortal struct {
	*httptest.Server
	mu      sync.Mutex
	headers []string // the header's value per request, "" when absent
	hits    atomic.Int64
}

const pwRightUnlisted = "right-and-unlisted-0c4b"

func newBreachPortal(t *testing.T, header string) *breachPortal {
	p := &breachPortal{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		p.mu.Lock()
		p.headers = append(p.headers, r.Header.Get(header))
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/login":
			if body["password"] == pwRightListed || body["password"] == pwRightUnlisted {
				fmt.Fprint(w, `{"status":"ok"}`)
				return
			}
			w.WriteHeader(401)
			fmt.Fprint(w, `{"code":"BAD_CREDENTIALS","message":"Email or password is incorrect."}`)
		case "/api/password/change":
			fmt.Fprint(w, `{"status":"changed"}`)
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

// lastHeader returns the breached header of the portal's last request.
func (p *breachPortal) lastHeader() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.headers) == 0 {
		return ""
	}
	return p.headers[len(p.headers)-1]
}

// pwnedDataset writes the Pwned Passwords set's text form (SHA1HEX:COUNT,
// CRLF, upper-case, unsorted) with n random hashes and the sums of listed, and
// returns its path.
func pwnedDataset(t *testing.T, dir, name string, n int, listed ...string) string {
	t.Helper()
	var b strings.Builder
	r := rand.New(rand.NewPCG(1, uint64(n)))
	var sum [20]byte
	for i := range n {
		for j := range sum {
			sum[j] = byte(r.Uint32())
		}
		fmt.Fprintf(&b, "%s:%d\r\n", strings.ToUpper(hex.EncodeToString(sum[:])), 1+i%50)
		if i == n/2 {
			for _, pw := range listed {
				s := sha1.Sum([]byte(pw))
				fmt.Fprintf(&b, "%s:%d\r\n", strings.ToUpper(hex.EncodeToString(s[:])), 1000)
			}
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pwnedBuild runs `caddy loginguard pwned build in -o out` and returns its
// combined output and error.
func pwnedBuild(in, out string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(bin, "caddy"), append([]string{"loginguard", "pwned", "build", in, "-o", out, "--quiet"}, args...)...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// breachConfig is the Caddyfile of the breached-password tests: a login route
// with the given breached action and a password-change route that refuses
// breached new passwords; pwned is the app's pwned block.
func breachConfig(pwned, action string) string {
	return `{
	admin {$CADDY_ADMIN}
	loginguard {
		connector events file {$LOGINGUARD_EVENTS}
		connector hook webhook {$HOOK}
		` + pwned + `
	}
}
http://127.0.0.1:{$LOGINGUARD_PORT} {
	loginguard /api/login {
		password json /password
		breached ` + action + `
		lockout off
	}
	loginguard /api/password/change {
		action password_change
		new_password json /newPassword
		breached refuse
	}
	reverse_proxy {$PORTAL_UPSTREAM}
}
`
}

// TestBreachedPasswords: with the app's pwned file made by `caddy loginguard
// pwned build` from the set's text form, a login route marks an attempt whose
// password is in the set (passwordBreached) and leaves the others alone, for
// each action: log (the event and the metric only), header (the portal gets
// the header; a client's own header of that name is dropped), refuse (the
// attempt is answered before the portal, reason BREACHED_PASSWORD; in
// monitor mode it is forwarded, its event saying what enforce mode would
// have done). A password-change route
// refuses a breached new password. A file renamed over the old one while
// Caddy runs is used without a restart. No clear password is written
// anywhere: events, Caddy's log, the log store's files, the spool, webhook
// bodies, metrics.
func TestBreachedPasswords(t *testing.T) {
	dir := t.TempDir()
	data := pwnedDataset(t, dir, "pwned.txt", 20000, pwRightListed, pwWrongListed, pwNewListed)
	file := filepath.Join(dir, "pwned.bin")
	if out, err := pwnedBuild(data, file); err != nil {
		t.Fatalf("pwned build: %v\n%s", err, out)
	}

	var hookMu sync.Mutex
	var hookBodies strings.Builder
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hookBodies.Write(b)
		hookMu.Unlock()
	}))
	defer hook.Close()

	const header = "X-Password-Breached"
	portal := newBreachPortal(t, header)
	pwned := "pwned {\n\t\t\tfile {$PWNED}\n\t\t\tpoll 100ms\n\t\t}"
	s := newStack(t, stackOptions{
		Caddyfile: breachConfig(pwned, "log"),
		Upstream:  strings.TrimPrefix(portal.URL, "http://"),
		Env:       []string{"HOOK=" + hook.URL, "PWNED=" + file},
	})
	login := func(pw string, hdr ...string) (*http.Response, string) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"email": "owner@example.com", "password": pw})
		return s.post("/api/login", "application/json", string(b), hdr...)
	}
	// lastEvent waits for the n-th event and returns it.
	n := 0
	lastEvent := func() event.Event {
		t.Helper()
		n++
		evs := s.waitEvents(n)
		return evs[n-1]
	}

	// log: the portal answers as always; the event says whether the password
	// is in the set.
	for _, c := range []struct {
		pw     string
		status int
		typ    event.Type
		want   bool
	}{
		{pwRightListed, 200, event.LoginSuccess, true},
		{pwWrongListed, 401, event.LoginFailure, true},
		{pwWrongUnlisted, 401, event.LoginFailure, false},
		{pwRightUnlisted, 200, event.LoginSuccess, false},
	} {
		if resp, _ := login(c.pw); resp.StatusCode != c.status {
			t.Fatalf("log: login: %d, want the portal's %d", resp.StatusCode, c.status)
		}
		if ev := lastEvent(); ev.EventType != c.typ || ev.PasswordBreached != c.want {
			t.Errorf("log: event %s passwordBreached %v, want %s %v", ev.EventType, ev.PasswordBreached, c.typ, c.want)
		}
	}
	if portal.lastHeader() != "" {
		t.Errorf("log: the portal got %s", header)
	}
	metrics := s.scrape()
	for _, m := range []string{
		`loginguard_breached_password_checks_total{result="breached"} 2`,
		`loginguard_breached_password_checks_total{result="clean"} 2`,
	} {
		if !strings.Contains(metrics, m) {
			t.Errorf("no %s on /metrics", m)
		}
	}

	// header: the portal is told, and only by loginguard.
	s.reload([]byte(breachConfig(pwned, "header "+header)))
	if resp, _ := login(pwRightListed); resp.StatusCode != 200 || portal.lastHeader() != "1" {
		t.Errorf("header: breached login: %d, the portal got %s %q; want 200 and \"1\"", resp.StatusCode, header, portal.lastHeader())
	}
	lastEvent()
	if resp, _ := login(pwRightUnlisted, header, "1"); resp.StatusCode != 200 || portal.lastHeader() != "" {
		t.Errorf("header: a client's own %s reached the portal as %q", header, portal.lastHeader())
	}
	lastEvent()

	// refuse: answered before the portal, not counted as a failure.
	s.reload([]byte(breachConfig(pwned, "refuse")))
	hits := portal.hits.Load()
	resp, body := login(pwRightListed)
	if resp.StatusCode != 400 || !strings.Contains(body, "BREACHED_PASSWORD") || portal.hits.Load() != hits {
		t.Errorf("refuse: %d %s, the portal got %d requests; want 400 BREACHED_PASSWORD and none", resp.StatusCode, body, portal.hits.Load()-hits)
	}
	if ev := lastEvent(); ev.EventType != event.LoginFailure || ev.Reason != event.BreachedPassword || !ev.PasswordBreached || ev.WouldRefuse != "" {
		t.Errorf("refuse: event %s %s passwordBreached %v wouldRefuse %q", ev.EventType, ev.Reason, ev.PasswordBreached, ev.WouldRefuse)
	}
	if resp, _ := login(pwRightUnlisted); resp.StatusCode != 200 {
		t.Errorf("refuse: a login with a password not in the set: %d, want 200", resp.StatusCode)
	}
	lastEvent()

	// refuse in monitor mode: forwarded, and the event says what enforce would do.
	s.reload([]byte(strings.Replace(breachConfig(pwned, "refuse"), "lockout off", "lockout off\n\t\tmode monitor", 1)))
	if resp, _ := login(pwRightListed); resp.StatusCode != 200 {
		t.Errorf("refuse in monitor mode: %d, want the portal's 200", resp.StatusCode)
	}
	if ev := lastEvent(); ev.Reason != event.BreachedPassword || ev.WouldRefuse != event.BreachedPassword || !ev.PasswordBreached {
		t.Errorf("refuse in monitor mode: event %s %s wouldRefuse %q passwordBreached %v", ev.EventType, ev.Reason, ev.WouldRefuse, ev.PasswordBreached)
	}

	// A route that sets a password checks the new one.
	change := func(pw string) *http.Response {
		b, _ := json.Marshal(map[string]string{"currentPassword": pwRightUnlisted, "newPassword": pw})
		resp, _ := s.post("/api/password/change", "application/json", string(b))
		return resp
	}
	hits = portal.hits.Load()
	if resp := change(pwNewListed); resp.StatusCode != 400 || portal.hits.Load() != hits {
		t.Errorf("password change to a breached password: %d, the portal got %d requests; want 400 and none", resp.StatusCode, portal.hits.Load()-hits)
	}
	if ev := lastEvent(); ev.Reason != event.BreachedPassword || !ev.PasswordBreached {
		t.Errorf("password change refused: event %s %s passwordBreached %v", ev.EventType, ev.Reason, ev.PasswordBreached)
	}
	if resp := change(pwNewUnlisted); resp.StatusCode != 200 {
		t.Errorf("password change to a fresh password: %d, want 200", resp.StatusCode)
	}
	if ev := lastEvent(); ev.EventType != event.PasswordChanged || ev.PasswordBreached {
		t.Errorf("password change: event %s passwordBreached %v, want %s", ev.EventType, ev.PasswordBreached, event.PasswordChanged)
	}

	// The file replaced while Caddy runs: a new set without the account's
	// password is used once the poll sees it, with no restart.
	s.reload([]byte(breachConfig(pwned, "log")))
	data2 := pwnedDataset(t, dir, "pwned2.txt", 5000, pwWrongListed)
	if out, err := pwnedBuild(data2, file); err != nil {
		t.Fatalf("pwned build (replacement): %v\n%s", err, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, _ := login(pwRightListed); resp.StatusCode != 200 {
			t.Fatalf("login after the replacement: %d", resp.StatusCode)
		}
		if !lastEvent().PasswordBreached {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replaced file was not used within 15s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp, _ := login(pwWrongListed); resp.StatusCode != 401 || !lastEvent().PasswordBreached {
		t.Error("after the replacement, a password of the new set is not marked")
	}

	// No clear password anywhere loginguard writes.
	client.CloseIdleConnections()
	s.waitEvents(n)
	time.Sleep(300 * time.Millisecond) // the webhook's and the store's batches (flush interval 200ms)
	hookMu.Lock()
	hooked := hookBodies.String()
	hookMu.Unlock()
	if !strings.Contains(hooked, "passwordBreached") {
		t.Errorf("the webhook bodies hold no passwordBreached: %.300s", hooked)
	}
	places := map[string]string{"webhook bodies": hooked, "metrics": s.scrape()}
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(filepath.Base(path), "pwned") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		places[path] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(places) < 5 {
		t.Fatalf("only %d places to look in: %v", len(places), keys(places))
	}
	for where, text := range places {
		for _, pw := range []string{pwRightListed, pwWrongListed, pwWrongUnlisted, pwNewListed, pwNewUnlisted, pwRightUnlisted} {
			if strings.Contains(text, pw) {
				t.Errorf("the clear password %q is in %s", pw, where)
			}
		}
	}
}

func keys(m map[string]string) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	return k
}

// TestBreachedOnline: with the range API instead of a file, only the first
// five hex digits of a sum leave the machine (with Add-Padding), a breached
// password is marked, a padding entry (count 0) is not, and a range API that
// does not answer in time lets the login through unmarked and is counted.
func TestBreachedOnline(t *testing.T) {
	var slow atomic.Bool
	var asked sync.Map // the paths the fake range API was asked for
	sums := map[string]int{}
	for pw, count := range map[string]int{pwRightListed: 3861493, pwWrongListed: 0} { // count 0: padding
		s := sha1.Sum([]byte(pw))
		sums[strings.ToUpper(hex.EncodeToString(s[:]))] = count
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.URL.Path, r.Header.Get("Add-Padding"))
		if slow.Load() {
			time.Sleep(1500 * time.Millisecond)
		}
		prefix := strings.TrimPrefix(r.URL.Path, "/range/")
		if len(prefix) != 5 {
			http.Error(w, "The hash prefix was not in a valid format", 400)
			return
		}
		for sum, count := range sums {
			if strings.HasPrefix(sum, prefix) {
				fmt.Fprintf(w, "%s:%d\r\n", sum[5:], count)
			}
		}
		fmt.Fprintf(w, "%s:0\r\n", strings.Repeat("0", 35)) // padding
	}))
	defer api.Close()

	portal := newBreachPortal(t, "X-Password-Breached")
	pwned := "pwned {\n\t\t\tonline {$RANGE} {\n\t\t\t\ttimeout 300ms\n\t\t\t}\n\t\t}"
	s := newStack(t, stackOptions{
		Caddyfile: breachConfig(pwned, "log"),
		Upstream:  strings.TrimPrefix(portal.URL, "http://"),
		Env:       []string{"HOOK=" + portal.URL + "/hook", "RANGE=" + api.URL},
	})
	login := func(pw string) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"email": "owner@example.com", "password": pw})
		s.post("/api/login", "application/json", string(b))
	}
	login(pwRightListed)
	login(pwWrongListed)
	slow.Store(true)
	login(pwWrongUnlisted) // a range not cached: times out
	evs := s.waitEvents(3)
	if !evs[0].PasswordBreached || evs[1].PasswordBreached || evs[2].PasswordBreached {
		t.Errorf("passwordBreached %v %v %v, want true (in the range), false (padding, count 0), false (timed out)",
			evs[0].PasswordBreached, evs[1].PasswordBreached, evs[2].PasswordBreached)
	}
	n := 0
	asked.Range(func(k, v any) bool {
		n++
		if p := k.(string); len(p) != len("/range/")+5 || v != "true" {
			t.Errorf("the range API was asked %s with Add-Padding %q: want 5 hex digits and true", p, v)
		}
		return true
	})
	if n == 0 {
		t.Error("the range API was never asked")
	}
	if m := s.scrape(); !strings.Contains(m, `loginguard_breached_password_checks_total{result="error"} 1`) {
		t.Error(`no loginguard_breached_password_checks_total{result="error"} 1 on /metrics`)
	}
}

// TestBreachedBuildErrors: the build command stops on a malformed line (its
// number and text in the message) and on an empty input, leaving no file;
// Caddy refuses to load a truncated file and says how to make a good one.
func TestBreachedBuildErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "pwned.bin")
	bad := filepath.Join(dir, "bad.txt")
	good := strings.Repeat("5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:3\r\n", 2)
	if err := os.WriteFile(bad, []byte(good+"not-a-hash:12\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := pwnedBuild(bad, out); err == nil || !strings.Contains(msg, "line 3") || !strings.Contains(msg, "not-a-hash") {
		t.Errorf("build of a malformed line: %v %q; want an error naming line 3 and its text", err, msg)
	}
	empty := filepath.Join(dir, "empty.txt")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := pwnedBuild(empty, out); err == nil || !strings.Contains(msg, "empty") {
		t.Errorf("build of an empty input: %v %q; want an error saying it is empty", err, msg)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed build left %s: %v", out, err)
	}

	data := pwnedDataset(t, dir, "pwned.txt", 2000, pwRightListed)
	if msg, err := pwnedBuild(data, out); err != nil {
		t.Fatalf("pwned build: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b[:len(b)-100], 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(breachConfig("pwned {\n\t\t\tfile {$PWNED}\n\t\t}", "log")), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "caddy"), "validate", "--config", cfg, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "PWNED="+out, "CADDY_ADMIN=127.0.0.1:0", "LOGINGUARD_PORT=1", "LOGINGUARD_EVENTS="+filepath.Join(dir, "ev.jsonl"),
		"HOOK=http://127.0.0.1:1", "PORTAL_UPSTREAM=127.0.0.1:1", "XDG_DATA_HOME="+dir, "HOME="+dir)
	msg, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "truncated") || !strings.Contains(string(msg), "pwned build") {
		t.Errorf("Caddy with a truncated pwned file: %v\n%s\nwant a refusal saying it is truncated and how to build one", err, msg)
	}
}
