// Package e2e drives a real Caddy process, built from ./cmd/caddy once per test
// run, in front of the real demo portal.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

var (
	bin      string // directory of the built binaries
	repoRoot string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = filepath.Dir(wd)
	bin, err = os.MkdirTemp("", "loginguard-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	for _, pkg := range []string{"./cmd/caddy", "./cmd/demoportal"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Dir = repoRoot
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", pkg, err)
			return 1
		}
	}
	return m.Run()
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a process started by a test and stopped when the test ends.
type proc struct {
	cmd *exec.Cmd
	log string
}

func start(t testing.TB, dir, name string, env []string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, filepath.Base(name)+fmt.Sprintf("-%d.log", time.Now().UnixNano()))
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logPath}
	t.Cleanup(func() {
		p.stop()
		f.Close()
	})
	return p
}

func (p *proc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// stack is the demo portal with a Caddy in front of it.
type stack struct {
	t        testing.TB
	dir      string
	portal   string // portal base URL
	url      string // loginguard base URL
	admin    string // Caddy admin address
	events   string // events file
	caddy    *proc
	caddyEnv []string
	api      string   // the first instance's admin API
	cfg      string   // the Caddyfile every instance runs
	upstream string   // the portal's address
	env      []string // added to every instance's environment
	n        int      // instances started
}

type stackOptions struct {
	// Caddyfile to run; "" runs Caddyfile.example.
	Caddyfile string
	// Upstream overrides the demo portal (then none is started).
	Upstream string
	// Env is added to Caddy's environment.
	Env []string
	// PortalArgs are added to the demo portal's command line.
	PortalArgs []string
}

func newStack(t testing.TB, o stackOptions) *stack {
	t.Helper()
	dir := t.TempDir()
	s := &stack{t: t, dir: dir}
	upstream := o.Upstream
	if upstream == "" {
		upstream = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		start(t, dir, "demoportal", nil, append([]string{"-addr", upstream}, o.PortalArgs...)...)
		waitHTTP(t, "http://"+upstream+"/api/_received")
	}
	s.portal = "http://" + upstream
	s.cfg = filepath.Join(repoRoot, "Caddyfile.example")
	if o.Caddyfile != "" {
		s.cfg = filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(s.cfg, []byte(o.Caddyfile), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.upstream, s.env = upstream, o.Env
	first := s.addInstance()
	s.url, s.admin, s.events, s.caddy, s.caddyEnv, s.api = first.url, first.admin, first.events, first.proc, first.env, first.api
	return s
}

// The admin API tokens of every test instance.
const (
	adminToken = "test-admin-token-0123456789"
	readToken  = "test-read-token-0123456789"
)

// instance is one Caddy process of a stack.
type instance struct {
	url, admin, events string
	api                string // the loginguard admin API's base URL (Caddyfile.example only)
	proc               *proc
	env                []string
}

// addInstance starts one more Caddy with the stack's config, on its own ports
// and with its own events file, sharing the stack's portal (and its state, when
// that is Redis).
func (s *stack) addInstance(env ...string) *instance {
	s.t.Helper()
	s.n++
	port := freePort(s.t)
	in := &instance{
		url:    fmt.Sprintf("http://127.0.0.1:%d", port),
		admin:  fmt.Sprintf("127.0.0.1:%d", freePort(s.t)),
		events: filepath.Join(s.dir, fmt.Sprintf("events-%d.jsonl", s.n)),
	}
	if s.n == 1 {
		in.events = filepath.Join(s.dir, "events.jsonl")
	}
	in.api = fmt.Sprintf("http://127.0.0.1:%d", freePort(s.t))
	in.env = append(append([]string{
		// Tests send many logins from 127.0.0.1; those about the example's
		// per-IP limit set it back (a later entry wins).
		"LOGINGUARD_IP_RATE=1000000-M",
		fmt.Sprintf("LOGINGUARD_PORT=%d", port),
		"PORTAL_UPSTREAM=" + s.upstream,
		"CADDY_ADMIN=" + in.admin,
		"LOGINGUARD_EVENTS=" + in.events,
		"LOGINGUARD_ADMIN_PORT=" + strings.TrimPrefix(in.api, "http://127.0.0.1:"),
		"LOGINGUARD_ADMIN_TOKEN=" + adminToken,
		"LOGINGUARD_READ_TOKEN=" + readToken,
		"XDG_DATA_HOME=" + filepath.Join(s.dir, fmt.Sprintf("data-%d", s.n)),
		"XDG_CONFIG_HOME=" + filepath.Join(s.dir, "config"),
		"HOME=" + s.dir,
	}, s.env...), env...)
	in.proc = start(s.t, s.dir, "caddy", in.env, "run", "--config", s.cfg, "--adapter", "caddyfile")
	waitHTTP(s.t, "http://"+in.admin+"/config/")
	return in
}

// waitHTTP waits until url answers at all.
func waitHTTP(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within 30s", url)
}

var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// login posts a JSON login to path and returns the response (body read).
func (s *stack) post(path, contentType, body string, hdr ...string) (*http.Response, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return s.do(req)
}

func (s *stack) do(req *http.Request) (*http.Response, string) {
	s.t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, string(b)
}

func (s *stack) login(email, password string) (*http.Response, string) {
	s.t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return s.post("/api/login", "application/json", string(b))
}

// received returns how many login requests the demo portal received per principal.
func (s *stack) received() map[string]int {
	s.t.Helper()
	return s.receivedAt("/api/_received")
}

// receivedAt reads one of the demo portal's request counts (path and query).
func (s *stack) receivedAt(path string) map[string]int {
	s.t.Helper()
	resp, err := http.Get(s.portal + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]int{}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		s.t.Fatal(err)
	}
	return m
}

// waitEvents waits until the events file holds at least n events and returns them.
func (s *stack) waitEvents(n int) []event.Event {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var evs []event.Event
	for time.Now().Before(deadline) {
		evs = s.readEvents()
		if len(evs) >= n {
			return evs
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("want %d events, have %d: %+v", n, len(evs), evs)
	return nil
}

func (s *stack) readEvents() []event.Event {
	s.t.Helper()
	return readEventsFrom(s.t, s.events)
}

// readEventsFrom reads an events file (none yet: no events).
func readEventsFrom(t testing.TB, path string) []event.Event {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []event.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev event.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("events file line %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// reload loads a Caddyfile into the running Caddy through its admin API.
func (s *stack) reload(caddyfile []byte) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.admin+"/load", bytes.NewReader(caddyfile))
	req.Header.Set("Content-Type", "text/caddyfile")
	req.Header.Set("Cache-Control", "must-revalidate") // reload even when unchanged
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("reload: %s: %s", resp.Status, b)
	}
	// The old servers close their idle connections; a POST is not retried on one.
	client.CloseIdleConnections()
}

// caddyLog returns what Caddy wrote to stdout and stderr so far.
func (s *stack) caddyLog() string {
	b, err := os.ReadFile(s.caddy.log)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// config is a test Caddyfile: one site in front of the portal with loginguard on
// /api/login. The default rules take a 200 for a success and a 401 with code
// BAD_CREDENTIALS for a wrong password.
type config struct {
	Global  string // more global options
	App     string // more loginguard app options (state defaults to memory)
	Rules   string // replaces the default rules
	Handler string // more handler options
}

func (c config) String() string {
	rules := c.Rules
	if rules == "" {
		rules = `rule success {
			status 200
		}
		rule failure BAD_CREDENTIALS {
			status 401
			json /code ^BAD_CREDENTIALS$
		}`
	}
	return `{
	admin {$CADDY_ADMIN}
	` + c.Global + `
	loginguard {
		connector events file {$LOGINGUARD_EVENTS}
		` + c.App + `
	}
}
http://127.0.0.1:{$LOGINGUARD_PORT} {
	loginguard /api/login {
		` + rules + `
		` + c.Handler + `
	}
	reverse_proxy {$PORTAL_UPSTREAM}
}
`
}

// noAlerts turns Caddyfile.example's default alert rules off (an empty
// LOGINGUARD_ALERTS leaves no alerts line in it), for tests that count exact
// events: their logins all come from 127.0.0.1, so the rules would add ALERT
// events (ip_failures, credential_stuffing, account_locked, also for an
// admin's lock) to the events they count.
const noAlerts = "LOGINGUARD_ALERTS="

// trustXFF lets the tests choose each request's client IP with X-Forwarded-For.
const trustXFF = `servers {
		trusted_proxies static 127.0.0.1/32
		client_ip_headers X-Forwarded-For
	}`

// moreRefusedRE reads the count that a sampled refusal's message carries.
var moreRefusedRE = regexp.MustCompile(`\((\d+) more refused (?:on this account|under \w+) since the last event\)$`)

// attempts returns how many login attempts evs stand for: one per login
// event, plus the refusals each sampled LOCKED or RATE_LIMITED event says it
// stands for. Lock and unlock events are not attempts.
func attempts(evs []event.Event) int {
	n := 0
	for _, e := range evs {
		if e.EventType == event.AccountLocked || e.EventType == event.AccountUnlocked {
			continue
		}
		n++
		if e.Message != nil {
			if m := moreRefusedRE.FindStringSubmatch(*e.Message); m != nil {
				k, _ := strconv.Atoi(m[1])
				n += k
			}
		}
	}
	return n
}

// waitAttempts waits until read's events stand for n attempts (the counts of
// sampled refusals arrive when their sample interval ends) and returns them. It
// fails t when they stand for more, or not n within 30 s.
func waitAttempts(t testing.TB, read func() []event.Event, n int) []event.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := read()
		got := attempts(evs)
		if got > n {
			t.Fatalf("events stand for %d attempts, want %d", got, n)
		}
		if got == n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("events stand for %d attempts after 30 s, want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countReason counts the events of evs with reason r.
func countReason(evs []event.Event, r event.Reason) int {
	n := 0
	for _, e := range evs {
		if e.Reason == r {
			n++
		}
	}
	return n
}
