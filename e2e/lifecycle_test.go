package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

// goroutines counts the goroutines of the Caddy behind admin that run
// loginguard's code (its stacks name one of its packages): Caddy's own, such
// as reverse_proxy's connections to the portal, come and go on their own.
func goroutines(t *testing.T, admin string) int {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	_, groups, _ := strings.Cut(string(b), "\n") // past "goroutine profile: total N"
	for _, group := range strings.Split(groups, "\n\n") {
		count, _, ok := strings.Cut(group, " @ ")
		if !ok || !strings.Contains(group, "github.com/loginguard/loginguard/") {
			continue
		}
		c, err := strconv.Atoi(strings.TrimSpace(count))
		if err != nil {
			continue // the profile's header
		}
		n += c
	}
	return n
}

// settledGoroutines is the lowest count seen over a second: requests that
// just finished take a moment to go.
func settledGoroutines(t *testing.T, admin string) int {
	least := goroutines(t, admin)
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		least = min(least, goroutines(t, admin))
	}
	return least
}

// TestReloadUnderLoad: 20 config reloads while logins keep coming: every
// attempt answered is one event delivered, and the goroutines of the old
// configs' background jobs, queues and connectors are gone.
func TestReloadUnderLoad(t *testing.T) {
	// Alerts off: every event must be an answered attempt.
	s := newStack(t, stackOptions{Env: []string{noAlerts}})
	cfg, err := os.ReadFile(filepath.Join(repoRoot, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	s.reload(cfg)
	s.reload(cfg)
	// The count once the configs replaced have closed (2 s after their last
	// request): it falls until then, so wait until it holds for 3 s.
	base := settledGoroutines(t, s.admin)
	for same, deadline := 0, time.Now().Add(20*time.Second); same < 3 && time.Now().Before(deadline); {
		if n := settledGoroutines(t, s.admin); n == base {
			same++
		} else {
			base, same = n, 0
		}
	}

	var answered atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 20 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"email":"load-%d-%d@example.com","password":"x"}`, w, i)
				resp, err := hc.Post(s.url+"/api/login", "application/json", strings.NewReader(body))
				if err != nil {
					continue // a connection the old server closed: no answer, no attempt
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusUnauthorized {
					answered.Add(1)
				}
			}
		}()
	}
	for range 20 {
		s.reload(cfg)
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	n := int(answered.Load())
	if n < 20 {
		t.Fatalf("only %d attempts answered during the reloads", n)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range strings.Split(s.caddyLog(), "\n") {
				if strings.Contains(l, "WARN") || strings.Contains(l, "ERROR") || strings.Contains(l, `"warn"`) || strings.Contains(l, `"error"`) {
					t.Log(l)
				}
			}
		}
	})
	evs := waitAttempts(t, s.readEvents, n)
	got := 0
	for _, e := range evs {
		if e.EventType == event.LoginFailure {
			got++
		}
	}
	if got != n {
		t.Errorf("%d LOGIN_FAILURE events for %d attempts answered", got, n)
	}
	// The old configs' pipelines close once their last request is done (and
	// a grace of 2 s has passed): allow them that.
	after := settledGoroutines(t, s.admin)
	for deadline := time.Now().Add(15 * time.Second); after > base && time.Now().Before(deadline); {
		after = settledGoroutines(t, s.admin)
	}
	if after > base {
		resp, err := http.Get("http://" + s.admin + "/debug/pprof/goroutine?debug=1")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Logf("goroutines:\n%s", b)
		}
		t.Errorf("goroutines: %d after 20 reloads, %d before: the old configs left some running", after, base)
	}
}

// TestSecondWriterRefused: two Caddy processes on one SQLite log file would lose
// events; the second refuses to start, naming the file and the first's pid.
func TestSecondWriterRefused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shared.db")
	s := newStack(t, stackOptions{Env: []string{"LOGINGUARD_DB=" + db}})
	if resp, _ := s.login("active@example.com", "correct-horse"); resp.StatusCode != http.StatusOK {
		t.Fatalf("first instance: login %d", resp.StatusCode)
	}
	env := append([]string{}, s.caddyEnv...)
	for i, kv := range env {
		switch {
		case strings.HasPrefix(kv, "LOGINGUARD_PORT="):
			env[i] = fmt.Sprintf("LOGINGUARD_PORT=%d", freePort(t))
		case strings.HasPrefix(kv, "CADDY_ADMIN="):
			env[i] = fmt.Sprintf("CADDY_ADMIN=127.0.0.1:%d", freePort(t))
		case strings.HasPrefix(kv, "LOGINGUARD_ADMIN_PORT="):
			env[i] = fmt.Sprintf("LOGINGUARD_ADMIN_PORT=%d", freePort(t))
		case strings.HasPrefix(kv, "LOGINGUARD_EVENTS="):
			env[i] = "LOGINGUARD_EVENTS=" + filepath.Join(s.dir, "events-second.jsonl")
		case strings.HasPrefix(kv, "XDG_DATA_HOME="):
			// Its own data directory (and memory state journal): only the
			// SQLite file is shared.
			env[i] = "XDG_DATA_HOME=" + filepath.Join(s.dir, "data-second")
		}
	}
	second := start(t, s.dir, "caddy", env, "run", "--config", s.cfg, "--adapter", "caddyfile")
	done := make(chan error, 1)
	go func() { done <- second.cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the second Caddy on the same SQLite file exited without an error")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the second Caddy on the same SQLite file started")
	}
	b, _ := os.ReadFile(second.log)
	want := db + " is being written by another process (pid " + strconv.Itoa(s.caddy.cmd.Process.Pid) + ")"
	if !strings.Contains(string(b), want) {
		t.Errorf("the second Caddy's log does not say %q:\n%s", want, b)
	}
	// The first keeps working.
	if resp, _ := s.login("active@example.com", "correct-horse"); resp.StatusCode != http.StatusOK {
		t.Fatalf("first instance after the refusal: login %d", resp.StatusCode)
	}
}

// TestMemoryStateSurvivesRestart: with the example's memory state, a locked
// account is still refused and an admin's IP block still answered 403 after
// Caddy restarts on the same data directory, whether it was stopped or killed.
func TestMemoryStateSurvivesRestart(t *testing.T) {
	for _, kill := range []bool{false, true} {
		name := "stopped"
		if kill {
			name = "killed"
		}
		t.Run(name, func(t *testing.T) {
			s := newStack(t, stackOptions{})
			for range 5 {
				s.login("active@example.com", "wrong")
			}
			if resp, body := s.login("active@example.com", "correct-horse"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "AUTHENTICATION_FAILED") {
				t.Fatalf("not locked before the restart: %d %s", resp.StatusCode, body)
			}
			if st, b := s.callAPI("POST", "/api/v1/lockouts/ips", adminToken, "", `{"ip":"::1"}`); st/100 != 2 {
				t.Fatalf("block ::1: %d %s", st, b)
			}
			if kill {
				_ = s.caddy.cmd.Process.Kill()
				_ = s.caddy.cmd.Wait()
			} else {
				s.caddy.stop()
			}
			s.caddy = start(t, s.dir, "caddy", s.caddyEnv, "run", "--config", s.cfg, "--adapter", "caddyfile")
			waitHTTP(t, "http://"+s.admin+"/config/")
			client.CloseIdleConnections()

			before := s.received()["active@example.com"]
			if resp, body := s.login("active@example.com", "correct-horse"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "AUTHENTICATION_FAILED") {
				t.Errorf("the locked account after the restart: %d %s; want the gateway's refusal", resp.StatusCode, body)
			}
			if got := s.received()["active@example.com"]; got != before {
				t.Errorf("the locked account reached the portal after the restart")
			}
			v6 := strings.Replace(s.url, "127.0.0.1", "[::1]", 1)
			resp, err := client.Post(v6+"/api/login", "application/json", strings.NewReader(`{"email":"waiting@example.com","password":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("the blocked IP after the restart: %d, want 403", resp.StatusCode)
			}
		})
	}
}
