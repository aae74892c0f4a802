package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

// storeEvents returns the events of principal email in the stack's log store,
// read through the admin API (newest first).
func (s *stack) storeEvents(email string) []event.Event {
	s.t.Helper()
	var all []event.Event
	for p := 0; ; p++ {
		code, body := s.callAPI("GET", "/api/v1/login-logs?size=1000&page="+strconv.Itoa(p)+"&email="+url.QueryEscape(email), readToken, "", "")
		if code != 200 {
			s.t.Fatalf("login-logs: %d %s", code, body)
		}
		var pg page
		if err := json.Unmarshal([]byte(body), &pg); err != nil {
			s.t.Fatal(err)
		}
		all = append(all, pg.Content...)
		if pg.Last || pg.Empty {
			return all
		}
	}
}

// scrape returns the instance's Caddy /metrics.
func (s *stack) scrape() string {
	s.t.Helper()
	resp, err := http.Get("http://" + s.admin + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// metricSum adds up every sample of the named metric families on the
// instance's Caddy /metrics.
func (s *stack) metricSum(names ...string) float64 {
	s.t.Helper()
	b := s.scrape()
	var sum float64
	for _, n := range names {
		re := regexp.MustCompile(`(?m)^` + n + `(?:\{[^}]*\})? (\S+)$`)
		ms := re.FindAllStringSubmatch(b, -1)
		if ms == nil {
			s.t.Fatalf("no %s on /metrics", n)
		}
		for _, m := range ms {
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				s.t.Fatal(err)
			}
			sum += v
		}
	}
	return sum
}

// TestFloodBudgeted: Caddyfile.example (its per-IP limit lifted) flooded with
// 5,000 wrong passwords on one account from one IP, while a second account gets
// 1,000: the portal sees at most 5 of each, the log store holds each account's
// budget of LOCKED events plus one per sample interval, the counts they carry
// add up to every refusal, and the metric counts every attempt.
func TestFloodBudgeted(t *testing.T) {
	// Alerts off: the stored rows are counted exactly (TestFloodExampleRateLimit
	// floods the example with its alerts on).
	s := newStack(t, stackOptions{Env: []string{noAlerts}})
	began := time.Now()
	var wg sync.WaitGroup
	var codesA, codesB map[int]int
	wg.Add(2)
	go func() { defer wg.Done(); codesA = storm(t, []string{s.url}, "active@example.com", 5000, 64) }()
	go func() { defer wg.Done(); codesB = storm(t, []string{s.url}, "disabled@example.com", 1000, 16) }()
	wg.Wait()
	took := time.Since(began)
	// The storm's intervals are not aligned with its start: it touches at
	// most took/interval+2 of them.
	intervals := int(took/(10*time.Second)) + 2
	t.Logf("6,000 attempts in %v: %v and %v", took, codesA, codesB)
	for email, got := range s.received() {
		if got > 5 {
			t.Fatalf("portal received %d logins of %s, want at most 5", got, email)
		}
	}
	for _, c := range []struct {
		email string
		n     int
		codes map[int]int
	}{{"active@example.com", 5000, codesA}, {"disabled@example.com", 1000, codesB}} {
		if c.codes[401]+c.codes[429] != c.n {
			t.Fatalf("%s: statuses %v", c.email, c.codes)
		}
		evs := waitAttempts(t, func() []event.Event { return s.storeEvents(c.email) }, c.n)
		locked := countReason(evs, event.Locked)
		// The account's own budget: 10 one event each, then one per interval.
		if locked < 10 || locked > intervals*(10+1) {
			t.Fatalf("%s: %d LOCKED rows over at most %d intervals, want 10 to %d", c.email, locked, intervals, intervals*11)
		}
		if len(evs) > 5+1+intervals*(10+1)+2*intervals {
			t.Fatalf("%s: %d rows in the store for %d attempts", c.email, len(evs), c.n)
		}
		t.Logf("%s: %d attempts stored as %d rows (%d LOCKED)", c.email, c.n, len(evs), locked)
	}
	// Every request is one attempt, refusals included; the refusals are
	// also their own series.
	if got := s.metricSum("loginguard_login_attempts_total"); got != 6000 {
		t.Fatalf("the metrics count %v attempts, want 6000", got)
	}
	if got := s.metricSum("loginguard_gateway_refusals_total"); got == 0 || got >= 6000 {
		t.Fatalf("the metrics count %v refusals", got)
	}
}

// TestFloodExampleRateLimit: Caddyfile.example as shipped (30 a minute per IP,
// alerts on): the same flood gets 429 past the limit, the right password sent
// after it never gets through, and the lock raises one account_locked alert.
func TestFloodExampleRateLimit(t *testing.T) {
	s := newStack(t, stackOptions{Env: []string{"LOGINGUARD_IP_RATE=30-M"}})
	codes := storm(t, []string{s.url}, "active@example.com", 2000, 32)
	if got := s.received()["active@example.com"]; got > 5 {
		t.Fatalf("portal received %d, want at most 5", got)
	}
	// 30 a minute, in fixed windows: at most 60 if the flood straddles two.
	if codes[429] < 2000-60 {
		t.Fatalf("statuses %v, want all but at most 60 answered 429", codes)
	}
	resp, body := s.login("active@example.com", "correct-horse")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the right password after the flood: %d %v %s, want 429 with Retry-After", resp.StatusCode, resp.Header, body)
	}
	read := func() []event.Event { return s.storeEvents("active@example.com") }
	evs := waitAttempts(t, func() []event.Event { rest, _ := splitAlerts(read()); return rest }, 2001)
	alerts := waitAlerts(t, read, 1)
	if m := str(alerts[0].Message); !strings.HasPrefix(m, "alert rule=account_locked subject=active@example.com ") {
		t.Fatalf("the flood's alert: %q, want account_locked for active@example.com", m)
	}
	if n := countReason(evs, event.RateLimited); n < 1 || n > 6 {
		t.Fatalf("%d RATE_LIMITED rows, want the sampled few", n)
	}
	if len(evs) > 30+6 {
		t.Fatalf("%d rows for 2,001 attempts", len(evs))
	}
}

// splitAlerts separates the ALERT events of evs from the others.
func splitAlerts(evs []event.Event) (rest, alerts []event.Event) {
	for _, e := range evs {
		if e.EventType == event.Alert {
			alerts = append(alerts, e)
		} else {
			rest = append(rest, e)
		}
	}
	return rest, alerts
}

// waitAlerts waits until read's events hold n ALERT events and returns them.
// It fails t when they hold more, or not n within 30 s.
func waitAlerts(t testing.TB, read func() []event.Event, n int) []event.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, alerts := splitAlerts(read())
		if len(alerts) > n {
			t.Fatalf("%d ALERT events, want %d: %v", len(alerts), n, alertMessages(alerts))
		}
		if len(alerts) == n {
			return alerts
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d ALERT events after 30 s, want %d: %v", len(alerts), n, alertMessages(alerts))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func alertMessages(alerts []event.Event) []string {
	var m []string
	for _, e := range alerts {
		m = append(m, str(e.Message))
	}
	return m
}

// TestFloodLockedEventsAll: with locked_events all, every refused attempt is
// one stored event.
func TestFloodLockedEventsAll(t *testing.T) {
	in, err := os.ReadFile(filepath.Join(repoRoot, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	cf := strings.Replace(string(in), "\t\t\tduration 15m\n", "\t\t\tduration 15m\n\t\t\tlocked_events all\n", 1)
	if cf == string(in) {
		t.Fatal("Caddyfile.example has no lockout block to change")
	}
	s := newStack(t, stackOptions{Caddyfile: cf, Env: []string{noAlerts}}) // rows counted exactly
	codes := storm(t, []string{s.url}, "active@example.com", 500, 16)
	evs := waitAttempts(t, func() []event.Event { return s.storeEvents("active@example.com") }, 500)
	locked := 0
	for _, e := range evs {
		if e.Reason == event.Locked {
			locked++
			if moreRefusedRE.MatchString(*e.Message) {
				t.Fatalf("a sampled LOCKED event with locked_events all: %s", *e.Message)
			}
		}
	}
	if want := codes[401] - s.received()["active@example.com"]; locked != want {
		t.Fatalf("%d LOCKED rows for %d refusals of the locked account (%v)", locked, want, codes)
	}
}
