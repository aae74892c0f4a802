package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/loginguard/loginguard/event"
)

// TestConcurrentWrongPasswords: 200 wrong passwords at once for one account; the
// portal (slowed so that they overlap) sees at most max_failures of them.
func TestConcurrentWrongPasswords(t *testing.T) {
	// Alerts off: the events are counted as attempts, exactly.
	s := newStack(t, stackOptions{PortalArgs: []string{"-slow", "30ms"}, Env: []string{noAlerts}})
	var wg sync.WaitGroup
	statuses := make(chan int, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			b, _ := json.Marshal(map[string]string{"email": "active@example.com", "password": fmt.Sprint("guess-", i)})
			resp, err := http.Post(s.url+"/api/login", "application/json", strings.NewReader(string(b)))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}(i)
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for st := range statuses {
		counts[st]++
	}
	if got := s.received()["active@example.com"]; got > 5 || got == 0 {
		t.Fatalf("portal received %d wrong passwords, want at most 5 (statuses %v)", got, counts)
	}
	if counts[http.StatusInternalServerError]+counts[http.StatusBadGateway] > 0 {
		t.Fatalf("5xx answers: %v", counts)
	}
	// Every attempt is accounted for: one event each, but for the refusals of
	// the locked account and the 429s of the flood, which are sampled and
	// carry their counts.
	evs := waitAttempts(t, s.readEvents, 200)
	if n := len(byType(evs, event.AccountLocked)); n != 1 {
		t.Fatalf("%d lock events, want 1", n)
	}
	// The locked account's budget: 10 events per sample interval (10 s), plus
	// one carrying the rest when the interval ends; the flood takes at most two.
	if n := countReason(evs, event.Locked); n > 2*(10+1) {
		t.Fatalf("%d LOCKED events for %d refusals, want at most 22 (statuses %v)", n, 200-s.received()["active@example.com"], counts)
	}
	if n := countReason(evs, event.RateLimited); n > 2*2 {
		t.Fatalf("%d RATE_LIMITED events, want at most 4 (statuses %v)", n, counts)
	}
}

// TestConcurrentLegitimateLogins: many correct logins to one account at once all
// get through (they wait for a slot rather than being refused).
func TestConcurrentLegitimateLogins(t *testing.T) {
	s := newStack(t, stackOptions{PortalArgs: []string{"-slow", "20ms"}})
	codes := postConcurrently(t, s.url+"/api/login", `{"email":"active@example.com","password":"correct-horse"}`, 20, nil)
	if codes[200] != 20 {
		t.Fatalf("statuses %v, want 20 × 200", codes)
	}
	if got := s.received()["active@example.com"]; got != 20 {
		t.Fatalf("portal received %d, want 20", got)
	}
}

// TestRemainingHeaderTraceAndMetrics: the optional remaining-attempts header, the
// trace id taken from traceparent, and the Prometheus metrics.
func TestRemainingHeaderTraceAndMetrics(t *testing.T) {
	cf := config{Global: "metrics", Handler: `lockout {
			max_failures 3
			remaining_header
			response 403 "{\"code\":\"DISABLED\",\"message\":\"Authentication failed -> DISABLED\"}"
		}`}.String()
	s := newStack(t, stackOptions{Caddyfile: cf})
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	var left []string
	for i := 0; i < 4; i++ {
		resp, body := s.post("/api/login", "application/json", `{"email":"active@example.com","password":"bad"}`, "Traceparent", tp)
		left = append(left, resp.Header.Get("X-Remaining-Attempts"))
		if i == 3 && (resp.StatusCode != 403 || !strings.Contains(body, "Authentication failed -> DISABLED")) {
			t.Fatalf("locked answer: %d %s", resp.StatusCode, body)
		}
	}
	if strings.Join(left, ",") != "2,1,0,0" {
		t.Errorf("X-Remaining-Attempts %v, want 2,1,0,0", left)
	}
	evs := s.waitEvents(4)
	if evs[0].TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("traceId %q", evs[0].TraceID)
	}
	resp, err := http.Get("http://" + s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`loginguard_login_attempts_total{outcome="failure",reason="BAD_CREDENTIALS",source="API_PORTAL"} 3`,
		`loginguard_gateway_refusals_total{reason="LOCKED"} 1`,
		`loginguard_login_attempts_total{outcome="failure",reason="LOCKED",source="API_PORTAL"} 1`,
		`loginguard_account_locks_total 1`,
		`loginguard_events_delivered_total{sink="events"}`,
		`loginguard_state_wait_seconds_count{op="admit"} 4`,
		`loginguard_state_wait_seconds_count{op="finish"} 3`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestListModules: the built Caddy lists the plugin's modules.
func TestListModules(t *testing.T) {
	out, err := exec.Command(filepath.Join(bin, "caddy"), "list-modules").CombinedOutput()
	if err != nil {
		t.Fatal(err, string(out))
	}
	for _, m := range []string{"loginguard", "http.handlers.loginguard", "loginguard.state.memory", "loginguard.state.redis", "loginguard.connectors.file", "loginguard.connectors.log", "loginguard.connectors.kafka"} {
		if !strings.Contains("\n"+string(out), "\n"+m+"\n") {
			t.Errorf("list-modules lacks %s", m)
		}
	}
}

// TestBusySampled: more simultaneous attempts on one account than it has
// failures left get 429 with Retry-After, never reach the portal, and their
// events are sampled (one per key per interval) while the metric counts all.
func TestBusySampled(t *testing.T) {
	cf := config{Handler: `lockout {
			admission_wait 1ms
		}`}.String()
	s := newStack(t, stackOptions{Caddyfile: cf, PortalArgs: []string{"-slow", "400ms"}})
	codes := postConcurrently(t, s.url+"/api/login", `{"email":"active@example.com","password":"correct-horse"}`, 40, func(resp *http.Response) {
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "1" {
			t.Errorf("429 without Retry-After: %v", resp.Header)
		}
	})
	if codes[429] < 30 || codes[200]+codes[429] != 40 {
		t.Fatalf("statuses %v, want 5 × 200 and the rest 429", codes)
	}
	if got := s.received()["active@example.com"]; got != codes[200] {
		t.Fatalf("portal received %d, want %d", got, codes[200])
	}
	// Every refusal is accounted for: the first of a sample interval as its
	// own event, the rest in the count of the event that reports them when the
	// interval ends (one interval, or two when the burst straddles a boundary).
	evs := waitAttempts(t, s.readEvents, 40)
	var limited int
	for _, e := range evs {
		if e.Reason == event.RateLimited {
			limited++
		}
	}
	if limited < 1 || limited > 4 || len(evs) != codes[200]+limited {
		t.Fatalf("%d events, %d RATE_LIMITED; want %d successes and 1 to 4 sampled refusals", len(evs), limited, codes[200])
	}
}

// postConcurrently POSTs the same JSON body n times at once and counts the
// statuses; each, when set, sees every response.
func postConcurrently(t *testing.T, url, body string, n int, each func(*http.Response)) map[int]int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			codes[resp.StatusCode]++
			if each != nil {
				each(resp)
			}
		}()
	}
	wg.Wait()
	return codes
}
