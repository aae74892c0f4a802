package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/pwned"
)

// fakeSet is a breached-password set of the passwords listed; "fail" makes
// every check fail.
type fakeSet map[[20]byte]bool

func (f fakeSet) Check(_ context.Context, sum [20]byte) (pwned.Result, error) {
	if f[pwned.Sum([]byte("fail"))] {
		return pwned.Result{}, errors.New("the set cannot answer")
	}
	return pwned.Result{Breached: f[sum]}, nil
}

func listed(pws ...string) fakeSet {
	f := fakeSet{}
	for _, pw := range pws {
		f[pwned.Sum([]byte(pw))] = true
	}
	return f
}

// breachedRoute returns a started route of cfg whose app checks against set.
func breachedRoute(t *testing.T, cfg string, set pwned.Checker) (*Route, *testApp) {
	t.Helper()
	var c Config
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatal(err)
	}
	h, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	app := &testApp{pwned: set}
	started(t, h, app)
	return h, app
}

// TestBreachedEveryCandidate: a request that carries more than one value a
// portal could read as the password (a repeated field, the query string
// beside the body, both body formats) is checked on each: an attacker cannot
// hide a breached password behind a clean decoy.
func TestBreachedEveryCandidate(t *testing.T) {
	h, app := breachedRoute(t, `{"breached":{"action":"refuse"},"lockout":{"off":true}}`, listed("hunter2"))
	for _, c := range []struct {
		name, target, ctype, body string
		refused                   bool
	}{
		{"clean", "/login", "application/x-www-form-urlencoded", "email=a@example.com&password=clean-one", false},
		{"breached", "/login", "application/x-www-form-urlencoded", "email=a@example.com&password=hunter2", true},
		{"repeated field, breached last", "/login", "application/x-www-form-urlencoded", "email=a@example.com&password=clean-one&password=hunter2", true},
		{"repeated field, breached first", "/login", "application/x-www-form-urlencoded", "email=a@example.com&password=hunter2&password=clean-one", true},
		{"query string beside the body", "/login?password=hunter2", "application/x-www-form-urlencoded", "email=a@example.com&password=clean-one", true},
		{"JSON", "/login", "application/json", `{"email":"a@example.com","password":"hunter2"}`, true},
		{"JSON array", "/login", "application/json", `{"email":"a@example.com","password":["clean-one","hunter2"]}`, true},
	} {
		reached := false
		next := HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			reached = true
			w.WriteHeader(401)
			return nil
		})
		req := httptest.NewRequest(http.MethodPost, c.target, strings.NewReader(c.body))
		req.Header.Set("Content-Type", c.ctype)
		rec := httptest.NewRecorder()
		if err := h.Serve(rec, req, next); err != nil {
			t.Fatal(err)
		}
		refused := rec.Code == 400 && strings.Contains(rec.Body.String(), "BREACHED_PASSWORD") && !reached
		if refused != c.refused {
			t.Errorf("%s: %d %s (reached the portal: %v), refused %v, want %v", c.name, rec.Code, rec.Body, reached, refused, c.refused)
		}
	}
	if app.checks[CheckBreached] != 6 || app.checks[CheckClean] != 1 {
		t.Errorf("checks counted %v, want 6 breached and 1 clean", app.checks)
	}
}

// TestBreachedFailsOpen: a set that cannot answer lets the attempt through,
// unmarked, and the check is counted as an error; a route with action off
// or without a set checks nothing.
func TestBreachedFailsOpen(t *testing.T) {
	login := func(h *Route) int {
		req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(`{"email":"a@example.com","password":"hunter2"}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		_ = h.Serve(rec, req, HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { w.WriteHeader(200); return nil }))
		return rec.Code
	}
	h, app := breachedRoute(t, `{"breached":{"action":"refuse"}}`, listed("hunter2", "fail"))
	if code := login(h); code != 200 || app.checks[CheckError] != 1 {
		t.Errorf("a set that cannot answer: %d, checks %v; want 200 and one error", code, app.checks)
	}
	h, app = breachedRoute(t, `{"breached":{"action":"off"}}`, listed("hunter2"))
	if code := login(h); code != 200 || len(app.checks) != 0 {
		t.Errorf("action off: %d, checks %v; want 200 and none", code, app.checks)
	}
	h, app = breachedRoute(t, `{"breached":{"action":"refuse"}}`, nil)
	if code := login(h); code != 200 || len(app.checks) != 0 {
		t.Errorf("no set: %d, checks %v; want 200 and none", code, app.checks)
	}
}

// TestBreachedConfig: the options' errors name the option.
func TestBreachedConfig(t *testing.T) {
	for cfg, want := range map[string]string{
		`{"breached":{"action":"warn"}}`:                         "breached: want log, header <name>, refuse or off",
		`{"breached":{"action":"header"}}`:                       `breached header: "" is not a header name`,
		`{"breached":{"action":"refuse","status":99}}`:           "breached status: 99 is not an HTTP status",
		`{"new_password":{"json":"/new"}}`:                       "new_password: only on a route that sets a password",
		`{"action":"register","new_password":{"json":"bad"}}`:    "new_password json:",
		`{"action":"password_change","new_password":{}}`:         "new_password: needs a JSON pointer",
		`{"action":"reset","new_password":{"json":"/password"}}`: "action: must be login, logout, register",
	} {
		var c Config
		if err := json.Unmarshal([]byte(cfg), &c); err != nil {
			t.Fatal(err)
		}
		c.Mode = "enforce" // Start's default
		h, err := New(c)
		if err == nil {
			err = h.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", cfg, err, want)
		}
	}
}
