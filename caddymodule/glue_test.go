package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/gateway"
)

// everyOption sets every option of the handler (durations in nanoseconds,
// which both caddy.Duration and time.Duration read).
const everyOption = `{
	"action": "login", "source": "manager", "portal_id": "p", "realm": "r",
	"principal": {"json": "/user", "form": "user"},
	"on_ambiguous": "count_all", "on_missing_principal": "forward",
	"canonical": ["username"], "multicall": "refuse", "methods": ["POST"],
	"rules": [{"outcome": "success", "status": ["2xx"]}],
	"account_id": "/id", "display_name": "/name",
	"session_cookie": "sid", "session_ttl": 3600000000000,
	"aliases": {"cookie": "c", "cookie_regexp": "^(.*)$", "body": "b(.)", "account_id": true, "ttl": 60000000000},
	"lockout": {"off": true, "max_failures": 3, "window": 60000000000, "duration": 120000000000,
		"permanent": true, "backoff": true, "max_duration": 180000000000, "count": ["UNKNOWN"],
		"status": 403, "body": "no", "content_type": "text/plain", "remaining_header": "X-Left",
		"slot_ttl": 5000000000, "per_ip_max_failures": 2, "known_ips": 86400000000000,
		"ipv4_prefix": 24, "ipv6_prefix": 48, "admission_wait": 1000000000, "locked_events": 7},
	"refusal": "mimic", "mode": "monitor", "save_to_database": false, "connectors": ["k"],
	"rate_limit": {"ip": "5-M", "sample_interval": 30000000000},
	"allow": ["192.0.2.0/24"], "deny": ["198.51.100.0/24"],
	"password": {"form": "pwd"}, "new_password": {"json": "/new"},
	"breached": {"action": "header", "header": "X-Breached", "status": 403, "body": "b"},
	"entry": "mobile", "single_session": true,
	"mfa_token": {"json": "/t"}, "mfa_ttl": 300000000000, "uniform": true
}`

// TestHandlerConfig: every option of the handler reaches the gateway's Config
// as written, and every option of the gateway's Config is one of the
// handler's (the limiter's rates and lists are the glue's).
func TestHandlerConfig(t *testing.T) {
	var h Handler
	if err := json.Unmarshal([]byte(everyOption), &h); err != nil {
		t.Fatal(err)
	}
	var want gateway.Config
	if err := json.Unmarshal([]byte(everyOption), &want); err != nil {
		t.Fatal(err)
	}
	want.SampleInterval = 30e9 // rate_limit's
	got := h.config()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config\n%+v\nwant\n%+v", got, want)
	}
	for _, v := range []any{got, *got.Lockout, *got.Aliases} {
		rv := reflect.ValueOf(v)
		for i := range rv.NumField() {
			if rv.Field(i).IsZero() {
				t.Errorf("%s.%s is not set by the test: add it to everyOption", rv.Type().Name(), rv.Type().Field(i).Name)
			}
		}
	}
	glue := map[string]bool{"rate_limit": true, "allow": true, "deny": true}
	for _, pair := range [][2]reflect.Type{
		{reflect.TypeFor[Handler](), reflect.TypeFor[gateway.Config]()},
		{reflect.TypeFor[Lockout](), reflect.TypeFor[gateway.Lockout]()},
		{reflect.TypeFor[Aliases](), reflect.TypeFor[gateway.Aliases]()},
	} {
		theirs := map[string]bool{}
		for f := range pair[1].Fields() {
			theirs[f.Tag.Get("json")] = true
		}
		for f := range pair[0].Fields() {
			if tag := f.Tag.Get("json"); f.IsExported() && !theirs[tag] && !glue[strings.TrimSuffix(tag, ",omitempty")] {
				t.Errorf("%s.%s (%s) has no field in %s", pair[0].Name(), f.Name, tag, pair[1].Name())
			}
		}
	}
}

// TestServeHTTPGlue: the handler gives the route Caddy's client IP (not the
// connection's address) and the status of a caddyhttp.HandlerError.
func TestServeHTTPGlue(t *testing.T) {
	sink := new(captured)
	h := provisioned(t, `{"rules":[{"outcome":"failure","reason":"DISABLED","status":["504"]}]}`,
		connectors.Named{Name: "c", Connector: sink})
	r := httptest.NewRequest(http.MethodPost, "/api/login", strings.NewReader(`{"email":"a@example.com","password":"x"}`))
	r.Header.Set("Content-Type", "application/json")
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: "203.0.113.7"}))
	err := h.ServeHTTP(httptest.NewRecorder(), r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		return caddyhttp.Error(http.StatusGatewayTimeout, context.DeadlineExceeded)
	}))
	if err == nil {
		t.Fatal("the upstream's error was not returned")
	}
	h.app.pipe.Close(context.Background())
	if len(sink.evs) != 1 {
		t.Fatalf("%d events, want 1", len(sink.evs))
	}
	if e := sink.evs[0]; e.RemoteAddress != "203.0.113.7" || e.Reason != event.Disabled {
		t.Errorf("event from %q with reason %s; want Caddy's client IP 203.0.113.7 and DISABLED (the error's 504)", e.RemoteAddress, e.Reason)
	}
}
