package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/state"
)

// sessionsApp is the SessionsApp of the tests: its store, and the counts of
// CountSession by result.
type sessionsApp struct {
	store  state.Store
	mu     sync.Mutex
	counts map[string]int
}

func (a *sessionsApp) Store() state.Store       { return a.store }
func (a *sessionsApp) StateError(string, error) {}
func (a *sessionsApp) CountSession(result string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.counts == nil {
		a.counts = map[string]int{}
	}
	a.counts[result]++
}

// noStore is a state store whose every call panics: the embedded interface
// is nil.
type noStore struct{ state.Store }

var okHandler = HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
})

func newTestSessions(t testing.TB, cfg SessionsConfig, store state.Store, outs *captured) (*Sessions, *sessionsApp) {
	t.Helper()
	app := &sessionsApp{store: store}
	env := Env{Logger: slog.New(slog.DiscardHandler), Pipeline: testPipeline(t)}
	if outs != nil {
		env.Pipeline = testPipeline(t, connectors.Named{Name: "c", Connector: outs})
	}
	s, err := NewSessions(cfg, app, env)
	if err != nil {
		t.Fatal(err)
	}
	return s, app
}

// TestSessionsNoCookieNoStateCall: requests without the tracked cookie (none,
// another cookie, an empty one) go on to the portal without a state call.
func TestSessionsNoCookieNoStateCall(t *testing.T) {
	s, app := newTestSessions(t, SessionsConfig{SessionCookie: "portal_session"}, noStore{}, nil)
	for _, cookie := range []string{"", "other=1", "portal_session=", "portal_sessionx=1"} {
		r := httptest.NewRequest("GET", "/api/me", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		w := httptest.NewRecorder()
		if err := s.ServeHTTP(w, r, okHandler); err != nil || w.Code != http.StatusNoContent {
			t.Errorf("cookie %q: %d %v", cookie, w.Code, err)
		}
	}
	if len(app.counts) != 0 {
		t.Errorf("counted %v", app.counts)
	}
}

// TestSessionsConflict: the login's prefix widened to the tolerance is one
// network; outside it, a conflict unless both ASNs are known and equal.
func TestSessionsConflict(t *testing.T) {
	s, _ := newTestSessions(t, SessionsConfig{SessionCookie: "sid"}, noStore{}, nil)
	s.asn = func(ip string) int64 {
		if ip == "203.0.113.9" {
			return 64500
		}
		return 64501
	}
	sess := state.Session{Prefix: "198.51.100.7/32", ASN: 64500}
	for ip, want := range map[string]bool{"198.51.100.7": false, "198.51.100.200": false, "198.51.101.1": true,
		"203.0.113.9": false, "2001:db8::1": true} {
		if got := s.conflicts(sess, ip); got != want {
			t.Errorf("%s: conflict %v, want %v", ip, got, want)
		}
	}
	off := false
	s.IPConflict.ASN = &off
	if !s.conflicts(sess, "203.0.113.9") {
		t.Error("asn off: the same ASN from another network is still a conflict")
	}
}

// TestSessionsTracked: a live session's cookie touches it once; an unknown
// one is an invalid user session (refused with on_invalid refuse).
func TestSessionsTracked(t *testing.T) {
	store := state.NewMemory(state.MemoryOptions{})
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	if err := store.PutSession(ctx, HashSession("live"), state.Session{Account: "a", Principal: "a@x", Prefix: "198.51.100.7/32"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	var out captured
	s, app := newTestSessions(t, SessionsConfig{SessionCookie: "sid", OnInvalid: "refuse"}, store, &out)
	serve := func(v string) int {
		r := httptest.NewRequest("GET", "/x", nil)
		r.RemoteAddr = "198.51.100.7:1234"
		r.AddCookie(&http.Cookie{Name: "sid", Value: v})
		w := httptest.NewRecorder()
		if err := s.ServeHTTP(w, r, okHandler); err != nil {
			t.Fatal(err)
		}
		return w.Code
	}
	if c := serve("live"); c != http.StatusNoContent {
		t.Errorf("live: %d", c)
	}
	if c := serve("forged"); c != http.StatusUnauthorized {
		t.Errorf("forged: %d, want 401", c)
	}
	if app.counts["live"] != 1 || app.counts["invalid"] != 1 {
		t.Errorf("counts %v", app.counts)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out.mu.Lock()
		n := len(out.evs)
		out.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if len(out.evs) != 1 || out.evs[0].EventType != event.SessionInvalid || out.evs[0].SessionStatus != "unknown" {
		t.Errorf("events %+v", out.evs)
	}
}

// BenchmarkSessions: a request through loginguard_sessions with a tracked,
// live cookie (memory state) and with no cookie, against the same request
// with no loginguard; the ratios are reported as metrics.
func BenchmarkSessions(b *testing.B) {
	store := state.NewMemory(state.MemoryOptions{})
	b.Cleanup(func() { store.Close() })
	if err := store.PutSession(context.Background(), HashSession("live"), state.Session{Account: "a", Prefix: "198.51.100.7/32"}, time.Hour); err != nil {
		b.Fatal(err)
	}
	s, _ := newTestSessions(b, SessionsConfig{SessionCookie: "sid"}, store, nil)
	perOp := map[string]float64{}
	run := func(name string, h func(http.ResponseWriter, *http.Request) error, cookie bool) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			r := httptest.NewRequest("GET", "/api/me", nil)
			r.RemoteAddr = "198.51.100.7:1234"
			r.Header.Set("User-Agent", "bench")
			if cookie {
				r.AddCookie(&http.Cookie{Name: "sid", Value: "live"})
			}
			w := httptest.NewRecorder()
			for b.Loop() {
				_ = h(w, r)
			}
			perOp[name] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
	}
	through := func(w http.ResponseWriter, r *http.Request) error { return s.ServeHTTP(w, r, okHandler) }
	run("no_loginguard", okHandler, true)
	run("tracked_cookie", through, true)
	run("no_cookie", through, false)
	if bare := perOp["no_loginguard"]; bare > 0 {
		b.Logf("tracked cookie / no loginguard: %.1fx; no cookie / no loginguard: %.2fx", perOp["tracked_cookie"]/bare, perOp["no_cookie"]/bare)
	}
}
