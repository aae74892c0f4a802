package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/pwned"
	"github.com/loginguard/loginguard/state"
)

// testApp is the App of the tests: a memory state store, an event pipeline
// and no metrics.
type testApp struct {
	store      state.Store
	failClosed bool
	aliases    bool // every realm learns aliases
	blocked    []netip.Prefix
	pwned      pwned.Checker
	checks     map[string]int // CountBreachedCheck's counts, by result

	mu       sync.Mutex
	cleanups []func()
	users    int
}

func (a *testApp) Store() state.Store   { return a.store }
func (a *testApp) Pwned() pwned.Checker { return a.pwned }
func (a *testApp) CountBreachedCheck(result string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.checks == nil {
		a.checks = map[string]int{}
	}
	a.checks[result]++
}
func (a *testApp) StateError(string, error)                      {}
func (a *testApp) StateOK()                                      {}
func (a *testApp) FailClosed() bool                              { return a.failClosed }
func (a *testApp) LearnsAliases(string) bool                     { return a.aliases }
func (a *testApp) CountLock()                                    {}
func (a *testApp) CountLogout(event.Source)                      {}
func (a *testApp) Waited(string, time.Time)                      {}
func (a *testApp) Logger() *slog.Logger                          { return slog.Default() }
func (a *testApp) OnCleanup(f func())                            { a.mu.Lock(); a.cleanups = append(a.cleanups, f); a.mu.Unlock() }
func (a *testApp) Hold()                                         { a.mu.Lock(); a.users++; a.mu.Unlock() }
func (a *testApp) LetGo()                                        { a.mu.Lock(); a.users--; a.mu.Unlock() }
func (a *testApp) CountAttempt(event.Source, bool, event.Reason) {}
func (a *testApp) CountRefusal(event.Source, event.Reason, bool) {}

func (a *testApp) IsBlocked(ip netip.Addr) bool {
	for _, p := range a.blocked {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// provisioned returns a started and validated route of the JSON config cfg,
// with its own app, whose events go to outs.
func provisioned(t testing.TB, cfg string, outs ...connectors.Named) *Route {
	t.Helper()
	var c Config
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatal(err)
	}
	h, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return started(t, h, &testApp{aliases: h.Aliases != nil}, outs...)
}

// started starts and validates h with app (its store: a new memory store
// when it has none), its events going to outs.
func started(t testing.TB, h *Route, app *testApp, outs ...connectors.Named) *Route {
	t.Helper()
	if app.store == nil {
		app.store = state.NewMemory(state.MemoryOptions{})
	}
	t.Cleanup(func() { app.store.Close() })
	if err := h.Start(app, Env{Pipeline: testPipeline(t, outs...), Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	return h
}

// testPipeline returns an event pipeline to outs, closed when the test ends.
func testPipeline(t testing.TB, outs ...connectors.Named) *connectors.Pipeline {
	t.Helper()
	p, err := connectors.NewPipeline(connectors.PipelineConfig{Options: connectors.Options{FlushInterval: time.Millisecond}, Outputs: outs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// captured is a connector that keeps what it is given.
type captured struct {
	mu  sync.Mutex
	evs []event.Event
}

func (c *captured) Deliver(_ context.Context, b []event.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs = append(c.evs, b...)
	return nil
}
func (c *captured) Close() error { return nil }

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}
