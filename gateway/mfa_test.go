package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/state"
)

// mfaRoutes returns a login route and an mfa route of one app, whose events
// go to the returned connector.
func mfaRoutes(t *testing.T, login, mfa string) (*Route, *Route, *testApp, *captured) {
	t.Helper()
	app := &testApp{store: state.NewMemory(state.MemoryOptions{})}
	t.Cleanup(func() { app.store.Close() })
	sink := new(captured)
	pipe := testPipeline(t, connectors.Named{Name: "c", Connector: sink})
	var routes []*Route
	for _, cfg := range []string{login, mfa} {
		var c Config
		if err := json.Unmarshal([]byte(cfg), &c); err != nil {
			t.Fatal(err)
		}
		h, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Start(app, Env{Pipeline: pipe, Logger: slog.New(slog.DiscardHandler)}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		if err := h.Validate(); err != nil {
			t.Fatal(err)
		}
		routes = append(routes, h)
	}
	return routes[0], routes[1], app, sink
}

func (c *captured) wait(t *testing.T, n int) []event.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		evs := append([]event.Event(nil), c.evs...)
		c.mu.Unlock()
		if len(evs) >= n || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// post serves one JSON request on h with a portal that answers status and
// body; it reports whether the portal was reached and what the client got.
func post(t *testing.T, h *Route, body string, status int, answer string) (bool, *httptest.ResponseRecorder) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	var reached atomic.Bool
	err := h.Serve(w, r, HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		reached.Store(true)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(answer))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return reached.Load(), w
}

// TestMFACounters: wrong codes are counted per pending login and per
// account, apart from the password login's counter; past the limit the
// pending login is void (MFA_FAILED, even for a right code) and the
// account's codes are refused on a new pending login (LOCKED).
func TestMFACounters(t *testing.T) {
	login, mfa, app, sink := mfaRoutes(t, `{"mfa_token":{"json":"/mfaToken"}}`, `{"action":"mfa"}`)
	ctx := context.Background()
	if reached, w := post(t, login, `{"email":"A@example.com","password":"p"}`, 200, `{"mfaRequired":true,"mfaToken":"T1"}`); !reached || w.Code != 200 {
		t.Fatalf("login: reached %v, %d", reached, w.Code)
	}
	for i := range 5 {
		if reached, _ := post(t, mfa, `{"mfaToken":"T1","code":"000000"}`, 401, `{"code":"INVALID_MFA_CODE"}`); !reached {
			t.Fatalf("code %d did not reach the portal", i+1)
		}
	}
	if reached, w := post(t, mfa, `{"mfaToken":"T1","code":"123456"}`, 200, `{}`); reached || w.Code != 401 {
		t.Fatalf("the right code after 5 wrong ones: reached %v, %d; want refused before the portal", reached, w.Code)
	}
	evs := sink.wait(t, 8)
	var codes []event.Event
	for _, e := range evs {
		if e.EventType == event.MFAFailure {
			codes = append(codes, e)
		}
	}
	if len(codes) != 6 {
		t.Fatalf("%d MFA_FAILURE events, want 6: %+v", len(codes), evs)
	}
	for i, e := range codes[:5] {
		if e.Reason != event.BadCredentials || e.FailureCount != i+1 || str(e.Email) != "a@example.com" {
			t.Errorf("code %d: %s %d %s, want BAD_CREDENTIALS %d a@example.com", i+1, e.Reason, e.FailureCount, str(e.Email), i+1)
		}
	}
	if e := codes[5]; e.Reason != event.MFAFailed || str(e.Email) != "a@example.com" {
		t.Errorf("refusal: %s of %s, want MFA_FAILED of a@example.com", e.Reason, str(e.Email))
	}
	for key, want := range map[string]bool{mfaKey("", "a@example.com"): true, tokenKey("", "T1"): true, AccountKey("", "a@example.com"): false} {
		st, err := app.store.Status(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if st.Locked != want {
			t.Errorf("%q locked %v, want %v", key, st.Locked, want)
		}
	}
	if s, ok, _ := app.store.Session(ctx, pendingHash("T1")); ok || s.Status != mfaVoid {
		t.Errorf("pending login T1: live %v, status %q; want ended %q", ok, s.Status, mfaVoid)
	}

	// A new pending login of the account: its MFA step is locked; the
	// password is not.
	if reached, _ := post(t, login, `{"email":"a@example.com","password":"p"}`, 200, `{"mfaRequired":true,"mfaToken":"T2"}`); !reached {
		t.Fatal("the password login was refused: an MFA lock locked it")
	}
	if reached, _ := post(t, mfa, `{"mfaToken":"T2","code":"123456"}`, 200, `{}`); reached {
		t.Fatal("a code of a locked MFA step reached the portal")
	}
	evs = sink.wait(t, 11)
	if e := evs[len(evs)-1]; e.EventType != event.MFAFailure || e.Reason != event.Locked {
		t.Errorf("last event %s %s, want MFA_FAILURE LOCKED", e.EventType, e.Reason)
	}
}

// TestMFAUnknownToken: a token the gateway never saw (a restart of a memory
// state) is still counted on its own: 5 wrong codes, then refused.
func TestMFAUnknownToken(t *testing.T) {
	_, mfa, _, sink := mfaRoutes(t, `{}`, `{"action":"mfa","lockout":{"max_failures":3}}`)
	for range 3 {
		post(t, mfa, `{"mfaToken":"X","code":"1"}`, 401, `{}`)
	}
	if reached, _ := post(t, mfa, `{"mfaToken":"X","code":"2"}`, 200, `{}`); reached {
		t.Fatal("a fourth code for a token with 3 failures reached the portal")
	}
	if reached, _ := post(t, mfa, `{"mfaToken":"Y","code":"2"}`, 200, `{}`); !reached {
		t.Fatal("another token's code was refused")
	}
	evs := sink.wait(t, 5)
	if e := evs[3]; e.Reason != event.MFAFailed {
		t.Errorf("refusal %s, want MFA_FAILED", e.Reason)
	}
	if e := evs[4]; e.EventType != event.MFASuccess || !e.MFAUsed {
		t.Errorf("success %s mfaUsed %v, want MFA_SUCCESS with mfaUsed", e.EventType, e.MFAUsed)
	}
}

// TestMFAConfigErrors: the options of the second factor and uniform are
// checked, naming the field.
func TestMFAConfigErrors(t *testing.T) {
	for cfg, want := range map[string]string{
		`{"uniform":true}`: "uniform: only for action reset_request",
		`{"action":"register","mfa_token":{"json":"/t"}}`: "mfa_token: only for login and mfa routes",
		`{"mfa_token":{"form":"t"}}`:                      "mfa_token: on a login route, a JSON pointer",
		`{"action":"mfa","mfa_token":{"basic":true}}`:     "mfa_token: needs a JSON pointer",
		`{"action":"mfa","mfa_token":{"json":"x"}}`:       "mfa_token:",
		`{"action":"reset_request","mfa_ttl":-1}`:         "mfa_ttl: must be positive",
		`{"action":"mfa","mfa_token":{"header":"a b"}}`:   "mfa_token header:",
	} {
		var c Config
		if err := json.Unmarshal([]byte(cfg), &c); err != nil {
			t.Fatal(err)
		}
		c.Mode = "enforce" // the app's, filled by Start
		h, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", cfg, err, want)
		}
	}
}
