package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConnectorTargets: the connector settings' Connector Targets, through real Caddy in
// front of the demo portal. Three webhook connectors: the portal route sends
// to "portal" (and to "dormant", which is inactive), the manager route to
// "manager", a third route to none; the alerts go to "manager" only. Each
// receiver gets exactly its routes' events. The config writes its events file
// with the deprecated `sink file`, which gets every event whatever the routes
// choose, and loads with warnings that show the connector that replaces it.
func TestConnectorTargets(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]map[string]any{} // by the receiver's path
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Errorf("webhook body %q: %v", b, err)
		}
		mu.Lock()
		got[r.URL.Path] = append(got[r.URL.Path], ev)
		mu.Unlock()
	}))
	defer hook.Close()
	received := func(path string) []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		return append([]map[string]any(nil), got[path]...)
	}

	cfg := `{
	admin {$CADDY_ADMIN}
	loginguard {
		store off
		sink file {$LOGINGUARD_EVENTS}
		connector portal webhook {$HOOK}/portal
		connector manager webhook {$HOOK}/manager
		connector dormant webhook {$HOOK}/dormant {
			active off
		}
		alerts {
			ip_failures 3 1h
			connectors manager
		}
	}
}
http://127.0.0.1:{$LOGINGUARD_PORT} {
	@quiet {
		path /api/login
		header X-Quiet 1
	}
	@loud {
		path /api/login
		not header X-Quiet 1
	}
	loginguard @quiet {
		portal_id quiet
		connectors none
	}
	loginguard @loud {
		portal_id loud
		connectors portal dormant
	}
	loginguard /manager/login {
		source manager
		principal form username
		rule success {
			status 302
			location ^/manager/home
		}
		rule failure BAD_CREDENTIALS {
			status 302
			location error=bad_credentials
		}
		connectors manager
	}
	reverse_proxy {$PORTAL_UPSTREAM}
}
`
	s := newStack(t, stackOptions{Caddyfile: cfg, Env: []string{"HOOK=" + hook.URL}})
	for range 2 {
		if resp, _ := s.post("/api/login", "application/json", `{"email":"quiet@example.com","password":"wrong"}`, "X-Quiet", "1"); resp.StatusCode != 401 {
			t.Fatalf("quiet login: %d", resp.StatusCode)
		}
	}
	for _, email := range []string{"active@example.com", "active@example.com", "active@example.com", "last@example.com"} {
		if resp, _ := s.login(email, "wrong"); resp.StatusCode != 401 {
			t.Fatalf("portal login: %d", resp.StatusCode)
		}
	}
	for range 2 {
		if resp, _ := s.post("/manager/login", "application/x-www-form-urlencoded", "username=ops&password=wrong"); resp.StatusCode != 302 {
			t.Fatalf("manager login: %d", resp.StatusCode)
		}
	}

	// Each connector delivers in order: once a receiver has the last event
	// sent its way, it has everything that was sent to it before.
	waitTargets(t, "the portal connector's 4 events", func() bool { return len(received("/portal")) >= 4 })
	waitTargets(t, "the manager connector's 2 manager events", func() bool {
		n := 0
		for _, ev := range received("/manager") {
			if ev["source"] == "API_MANAGER" {
				n++
			}
		}
		return n == 2
	})
	portal := received("/portal")
	if len(portal) != 4 {
		t.Errorf("portal connector got %d events, want the loud route's 4", len(portal))
	}
	for _, ev := range portal {
		if ev["eventType"] != "LOGIN_FAILURE" || ev["portalId"] != "loud" {
			t.Errorf("portal connector got %v, want only the loud route's failures", ev)
		}
	}
	alerts := 0
	for _, ev := range received("/manager") {
		switch {
		case ev["eventType"] == "ALERT":
			alerts++
			if msg, _ := ev["message"].(string); !strings.Contains(msg, "rule=ip_failures") {
				t.Errorf("alert %v, want the ip_failures rule", ev)
			}
		case ev["source"] != "API_MANAGER":
			t.Errorf("manager connector got %v, want manager events and alerts only", ev)
		}
	}
	if alerts != 1 {
		t.Errorf("manager connector got %d alerts, want 1 (ip_failures after the third failure)", alerts)
	}
	if n := len(received("/dormant")); n != 0 {
		t.Errorf("the inactive connector got %d events", n)
	}
	// The sink gets every route's events and the alert.
	evs := s.waitEvents(2 + 4 + 2 + 1)
	byPortal := map[string]int{}
	for _, ev := range evs {
		if ev.PortalID != nil {
			byPortal[*ev.PortalID]++
		}
	}
	if byPortal["quiet"] != 2 || byPortal["loud"] < 4 {
		t.Errorf("sink events by portal %v, want 2 quiet and 4 loud (plus the alert's)", byPortal)
	}
	log, err := os.ReadFile(s.caddy.log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"loginguard: `sink file` is deprecated: write `connector events file ",
		"the loginguard app's `sinks` are deprecated: make each a named connector",
	} {
		if !strings.Contains(string(log), want) {
			t.Errorf("Caddy's log lacks %q", want)
		}
	}
}

// waitTargets polls cond for up to 120 s.
func waitTargets(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 120 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sinkMetric reads the sample of metric name for sink on the instance's
// /metrics; ok is false when there is none.
func (s *stack) sinkMetric(name, sink string) (float64, bool) {
	s.t.Helper()
	re := regexp.MustCompile(`(?m)^` + name + `\{sink="` + regexp.QuoteMeta(sink) + `"\} (\S+)$`)
	m := re.FindStringSubmatch(s.scrape())
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		s.t.Fatal(err)
	}
	return v, true
}

// TestConnectorMetrics: a webhook connector whose target is down (503) shows
// its spooled events, spool bytes and last error on Caddy's /metrics; when the
// target refuses the events for good (400) they are dead-lettered and counted,
// and the spool empties. After a config reload the series are still there.
func TestConnectorMetrics(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(int(status.Load()))
	}))
	defer hook.Close()
	cfg := config{App: "connector hook webhook {$HOOK}"}.String()
	s := newStack(t, stackOptions{Caddyfile: cfg, Env: []string{"HOOK=" + hook.URL}})
	for range 3 {
		if resp, _ := s.login("active@example.com", "wrong"); resp.StatusCode != 401 {
			t.Fatalf("login: %d", resp.StatusCode)
		}
	}
	waitTargets(t, "3 spooled events and a last error on /metrics", func() bool {
		n, _ := s.sinkMetric("loginguard_spool_events", "hook")
		_, failedOnce := s.sinkMetric("loginguard_sink_last_error_timestamp_seconds", "hook")
		return n == 3 && failedOnce
	})
	if b, _ := s.sinkMetric("loginguard_spool_bytes", "hook"); b <= 0 {
		t.Errorf("loginguard_spool_bytes{sink=hook} = %v with 3 events spooled", b)
	}
	if q, _ := s.sinkMetric("loginguard_sink_queued_events", "hook"); q != 3 {
		t.Errorf("loginguard_sink_queued_events{sink=hook} = %v, want 3", q)
	}
	if at, _ := s.sinkMetric("loginguard_sink_last_error_timestamp_seconds", "hook"); time.Since(time.Unix(int64(at), 0)) > 5*time.Minute {
		t.Errorf("last error at %v, want just now", at)
	}

	status.Store(http.StatusBadRequest)
	waitTargets(t, "3 dead-lettered events on /metrics", func() bool {
		n, _ := s.sinkMetric("loginguard_events_dead_lettered_total", "hook")
		return n == 3
	})
	if n, _ := s.sinkMetric("loginguard_spool_events", "hook"); n != 0 {
		t.Errorf("loginguard_spool_events{sink=hook} = %v after the dead letters, want 0", n)
	}
	if n, _ := s.sinkMetric("loginguard_events_failed_total", "hook"); n != 3 {
		t.Errorf("loginguard_events_failed_total{sink=hook} = %v, want the 3 dead letters", n)
	}

	b, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.reload(append(b, "\n# reloaded\n"...))
	if _, ok := s.sinkMetric("loginguard_spool_events", "hook"); !ok {
		t.Error("no loginguard_spool_events{sink=hook} after a reload")
	}
	if n, _ := s.sinkMetric("loginguard_events_dead_lettered_total", "hook"); n != 3 {
		t.Errorf("loginguard_events_dead_lettered_total{sink=hook} = %v after a reload, want 3", n)
	}
}
