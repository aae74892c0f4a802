package e2e

// Framework login portals: tiny real login apps in PHP, Express, Flask and
// Django (e2e/portals), each reading the login principal its own framework's
// way, for differential tests of what the gateway and the portal think an
// attempt is for. e2e/portals/install.sh installs their runtimes.
//
// Every portal serves the same contract:
//
//   - POST /login takes the principal from field "email" and the password from
//     "password", of a form (urlencoded or multipart) or a JSON body, each
//     framework deciding which. A string principal's lookup key is
//     strip().lower(); accounts victim@example.com and decoy@example.com have
//     password fwPassword. Success is 200 {"ok":true,"email":<key>} with
//     Set-Cookie: session=<32 hex>; Path=/; HttpOnly, anything else 401
//     {"code":"BAD_CREDENTIALS"}.
//   - Every POST /login counts one for its key, or for "<array>", "<object>",
//     "<missing>" (absent, null, or a body the framework refused to parse) or
//     "<other>" (a JSON number or boolean) when the value is not a string.
//   - GET /_received answers the counts as a JSON object; POST /_reset clears them.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The framework portals' accounts and their password.
const (
	fwVictim   = "victim@example.com"
	fwDecoy    = "decoy@example.com"
	fwPassword = "right-password"
)

// fwKinds are the kinds startFrameworkPortal starts.
var fwKinds = []string{"php", "express", "flask", "django"}

// fwInstall is what to run when a portal's runtime is missing.
const fwInstall = "run e2e/portals/install.sh (it installs php-cli, python3-flask, python3-django and the Express portal's node_modules)"

// fwReadyTimeout bounds how long a portal may take to answer at first: a loaded
// 2-core CI machine starts Python and Node slowly.
const fwReadyTimeout = 90 * time.Second

// fwClient talks to the framework portals directly.
var fwClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// fwPortal is a running framework portal, stopped when its test ends.
type fwPortal struct {
	t    testing.TB
	kind string // "php", "express", "flask" or "django"
	url  string // base URL, e.g. http://127.0.0.1:41234 (POST url+"/login")
	addr string // host:port, e.g. for a Caddyfile's reverse_proxy
	log  string // the file the process writes its output to
}

// startFrameworkPortal starts the portal of kind ("php", "express", "flask" or
// "django") on a free port and waits until it answers GET /_received. It fails
// t, naming e2e/portals/install.sh, when the portal's runtime is not installed.
func startFrameworkPortal(t testing.TB, kind string) *fwPortal {
	t.Helper()
	dir := filepath.Join(repoRoot, "e2e", "portals")
	state := t.TempDir()
	var err error
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		name, args, env := fwCommand(t, kind, dir, port, state)
		p := &fwPortal{
			t:    t,
			kind: kind,
			addr: fmt.Sprintf("127.0.0.1:%d", port),
			url:  fmt.Sprintf("http://127.0.0.1:%d", port),
		}
		err = p.start(filepath.Join(dir, kind), state, name, args, env)
		if err == nil {
			return p
		}
		// Another process may have taken the port since freePort saw it free.
		if attempt < 3 && strings.Contains(strings.ToLower(p.output()), "in use") {
			t.Logf("%s portal: port %d was taken, trying another", kind, port)
			continue
		}
		t.Fatalf("%s portal: %v; if its runtime is missing, %s\n--- its output:\n%s", kind, err, fwInstall, p.output())
	}
}

// fwCommand returns the command line and extra environment of kind's portal.
func fwCommand(t testing.TB, kind, dir string, port int, state string) (name string, args, env []string) {
	t.Helper()
	ps := fmt.Sprint(port)
	switch kind {
	case "php":
		php := fwLookPath(t, kind, "php")
		return php, []string{
			// Warnings go to the log, never into a response body; the
			// limit on form fields is PHP's default, made explicit.
			"-d", "display_errors=0", "-d", "log_errors=1", "-d", "error_log=",
			"-d", "html_errors=0", "-d", "max_input_vars=1000",
			"-S", "127.0.0.1:" + ps, "router.php",
		}, []string{"PORTAL_STATE=" + filepath.Join(state, "received.json")}
	case "express":
		node := fwLookPath(t, kind, "node")
		for _, m := range []string{"express", "multer"} {
			if _, err := os.Stat(filepath.Join(dir, "express", "node_modules", m, "package.json")); err != nil {
				t.Fatalf("express portal: e2e/portals/express/node_modules/%s is missing; %s", m, fwInstall)
			}
		}
		return node, []string{"server.js", ps}, []string{"PORT=" + ps, "NODE_ENV=production"}
	case "flask", "django":
		// Debian's python3-flask and python3-django belong to Debian's
		// python3, which a pyenv or venv earlier in PATH would hide.
		python := "/usr/bin/python3"
		if _, err := os.Stat(python); err != nil {
			python = fwLookPath(t, kind, "python3")
		}
		return python, []string{"portal.py", ps}, []string{"PORT=" + ps, "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"}
	}
	t.Fatalf("startFrameworkPortal: unknown kind %q, want one of %q", kind, fwKinds)
	return "", nil, nil
}

func fwLookPath(t testing.TB, kind, file string) string {
	t.Helper()
	p, err := exec.LookPath(file)
	if err != nil {
		t.Fatalf("%s portal: %s is not installed (%v); %s", kind, file, err, fwInstall)
	}
	return p
}

// start runs name in dir and waits until the portal answers. On an error the
// process is gone.
func (p *fwPortal) start(dir, logDir, name string, args, env []string) error {
	t := p.t
	f, err := os.CreateTemp(logDir, p.kind+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	p.log = f.Name()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so that stopping it stops whatever it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(exited) }()
	stop := func() {
		select {
		case <-exited:
			return
		default:
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	if err := p.waitReady(exited, cmd); err != nil {
		stop()
		return err
	}
	t.Cleanup(stop)
	return nil
}

// waitReady polls GET /_received until it answers 200, the process exits or
// fwReadyTimeout passes.
func (p *fwPortal) waitReady(exited <-chan struct{}, cmd *exec.Cmd) error {
	c := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(fwReadyTimeout)
	var last error
	for {
		select {
		case <-exited:
			return fmt.Errorf("%s exited (%v) before answering GET /_received", filepath.Base(cmd.Path), cmd.ProcessState)
		default:
		}
		resp, err := c.Get(p.url + "/_received")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s/_received did not answer 200 within %s: %v", p.url, fwReadyTimeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// output returns what the portal process wrote so far.
func (p *fwPortal) output() string {
	if p.log == "" {
		return ""
	}
	b, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", p.log, err)
	}
	return string(b)
}

// received returns how many POST /login the portal got per lookup key (or
// "<array>", "<object>", "<missing>", "<other>").
func (p *fwPortal) received() map[string]int {
	p.t.Helper()
	resp, err := fwClient.Get(p.url + "/_received")
	if err != nil {
		p.t.Fatalf("%s portal: %v", p.kind, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("%s portal: GET /_received: %s", p.kind, resp.Status)
	}
	m := map[string]int{}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		p.t.Fatalf("%s portal: GET /_received: %v", p.kind, err)
	}
	return m
}

// reset clears the portal's counts.
func (p *fwPortal) reset() {
	p.t.Helper()
	resp, err := fwClient.Post(p.url+"/_reset", "application/json", nil)
	if err != nil {
		p.t.Fatalf("%s portal: %v", p.kind, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("%s portal: POST /_reset: %s", p.kind, resp.Status)
	}
}

// post sends body with contentType ("" sends none) to the portal's /login and
// returns the response with its body read.
func (p *fwPortal) post(contentType, body string) (*http.Response, string) {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.url+"/login", strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := fwClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s portal: POST /login: %v", p.kind, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("%s portal: POST /login: %v", p.kind, err)
	}
	return resp, string(b)
}
