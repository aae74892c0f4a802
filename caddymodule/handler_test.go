package caddymodule

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/gateway"
	"github.com/loginguard/loginguard/state"
)

// validate provisions and validates a JSON config without starting it.
func validate(t testing.TB, handler string, app string) error {
	t.Helper()
	cfg := `{"admin":{"disabled":true},"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"routes":[{"handle":[` + handler + `]}]}}}`
	if app != "" {
		cfg += `,"loginguard":` + app
	}
	cfg += `}}`
	var c caddy.Config
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatalf("bad test config %s: %v", cfg, err)
	}
	return caddy.Validate(&c)
}

// TestJSONConfigErrors: bad JSON config is refused with a message naming the field.
func TestJSONConfigErrors(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir()) // where the default SQLite store goes
	if err := validate(t, `{"handler":"loginguard"}`, ""); err != nil {
		t.Fatalf("the default config is refused: %v", err)
	}
	for _, tc := range []struct{ handler, app, want string }{
		{`{"handler":"loginguard","action":"signin"}`, "", `action: must be login, logout, register, password_change, reset_confirm, mfa, mfa_enroll, mfa_disable or reset_request, got "signin"`},
		{`{"handler":"loginguard","source":"intranet"}`, "", `source: must be "portal" or "manager"`},
		{`{"handler":"loginguard","refusal":"copy"}`, "", `refusal: must be "own" or "mimic"`},
		{`{"handler":"loginguard","source":"manager","portal_id":"p"}`, "", "portal_id: only for portal routes"},
		{`{"handler":"loginguard","principal":{"json":"email"}}`, "", "principal json:"},
		{`{"handler":"loginguard","account_id":"id"}`, "", "account_id:"},
		{`{"handler":"loginguard","methods":["PO ST"]}`, "", "methods[0]:"},
		{`{"handler":"loginguard","on_ambiguous":"pick_first"}`, "", `on_ambiguous: must be "refuse" or "count_all", got "pick_first"`},
		{`{"handler":"loginguard","on_missing_principal":"allow"}`, "", `on_missing_principal: must be "refuse" or "forward"`},
		{`{"handler":"loginguard","multicall":"off"}`, "", `multicall: must be "count" or "refuse"`},
		{`{"handler":"loginguard","canonical":["lower","soundex"]}`, "", `canonical: unknown preset or step "soundex"`},
		{`{"handler":"loginguard","principal":{"header":"X User"}}`, "", `principal header: "X User" is not a header name`},
		{`{"handler":"loginguard","principal":{"xmlrpc":{"param":-1}}}`, "", "principal xmlrpc: the parameter position must be 0 or more"},
		{`{"handler":"loginguard","aliases":{}}`, "", "aliases: needs cookie, body or account_id"},
		{`{"handler":"loginguard","aliases":{"account_id":true}}`, "", "aliases account_id: the route has no account_id pointer"},
		{`{"handler":"loginguard","aliases":{"body":"("}}`, "", "aliases body:"},
		{`{"handler":"loginguard","aliases":{"cookie":"a b"}}`, "", `aliases cookie: "a b" is not a cookie name`},
		{`{"handler":"loginguard","session_cookie":"a b"}`, "", "session_cookie:"},
		{`{"handler":"loginguard","rules":[{"outcome":"maybe"}]}`, "", "rules[0].outcome"},
		{`{"handler":"loginguard","rules":[{"outcome":"failure","reason":"SLEEPY"}]}`, "", "rules[0].reason"},
		{`{"handler":"loginguard","rules":[{"outcome":"success"},{"outcome":"failure","body":"("}]}`, "", "rules[1].body"},
		{`{"handler":"loginguard","rules":[{"outcome":"failure","status":["6xx"]}]}`, "", "rules[0].status"},
		{`{"handler":"loginguard","lockout":{"max_failures":-1}}`, "", "lockout max_failures"},
		{`{"handler":"loginguard","lockout":{"count":["TIRED"]}}`, "", `lockout count[0]: unknown reason "TIRED"`},
		{`{"handler":"loginguard","lockout":{"count":["LOCKED"]}}`, "", "lockout count[0]: LOCKED is the gateway's own refusal"},
		{`{"handler":"loginguard","lockout":{"status":99}}`, "", "lockout status: 99"},
		{`{"handler":"loginguard","lockout":{"permanent":true,"backoff":true}}`, "", "lockout backoff"},
		{`{"handler":"loginguard","lockout":{"remaining_header":"X Left"}}`, "", "lockout remaining_header"},
		{`{"handler":"loginguard"}`, `{"queue_size":-1}`, "queue_size: must not be negative"},
		{`{"handler":"loginguard"}`, `{"on_state_error":"shrug"}`, `on_state_error: must be "fail_open" or "fail_closed"`},
		{`{"handler":"loginguard"}`, `{"state":{"backend":"redis"}}`, "state redis: url: required"},
		{`{"handler":"loginguard"}`, `{"state":{"backend":"redis","url":"http://x"}}`, `redis state: url: unknown scheme "http"`},
		{`{"handler":"loginguard"}`, `{"sinks":[{"sink":"file"}]}`, "connector (file): path: required"},
		{`{"handler":"loginguard"}`, `{"sinks":[{"sink":"log","level":"loud"}]}`, "connector (log): level: want debug, info, warn or error"},
		{`{"handler":"loginguard"}`, `{"state":{"backend":"memory","max_accounts":-5}}`, "max_accounts: must be positive"},
		{`{"handler":"loginguard"}`, `{"store":{"driver":"postgres"}}`, "store postgres: dsn: required"},
		{`{"handler":"loginguard"}`, `{"retention":-1}`, "retention: must be positive"},
		{`{"handler":"loginguard"}`, `{"store":{"driver":"sqlite","path":"/proc/nope/logins.db"}}`, "store sqlite: path"},
		{`{"handler":"loginguard_admin"}`, `{}`, "tokens: no admin token: set LOGINGUARD_ADMIN_TOKEN"},
		{`{"handler":"loginguard_admin","tokens":[{"token":"","scope":"admin"}]}`, `{}`, "tokens[0]: the admin token is empty"},
		{`{"handler":"loginguard_admin","tokens":[{"token":"t0123456789","scope":"admin"}],"wide_block":[16]}`, `{}`, "wide_block: want two prefix lengths"},
		{`{"handler":"loginguard_admin","tokens":[{"token":"t0123456789","scope":"admin"}],"wide_block":[40,48]}`, `{}`, "wide_block: want an IPv4 prefix length (0-32)"},
		{`{"handler":"loginguard_admin","tokens":[{"token":"x","scope":"root"}]}`, `{}`, "tokens[0].scope"},
		{`{"handler":"loginguard_admin","tokens":[{"token":"x","scope":"admin"}]}`, `{"no_store":true}`, "the login log store is off"},
	} {
		err := validate(t, tc.handler, tc.app)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: error %v, want it to contain %q", tc.handler, tc.app, err, tc.want)
		}
	}
}

// provisioned returns a provisioned and validated handler with its own app,
// whose events go to outs.
func provisioned(t testing.TB, cfg string, outs ...connectors.Named) *Handler {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	m, _ := registerMetrics(nil)
	app := &App{store: state.NewMemory(state.MemoryOptions{}), logger: slog.Default(), metrics: m}
	app.pipe = testPipeline(t, outs...)
	t.Cleanup(func() { app.store.Close() })
	h := &Handler{app: app}
	if err := json.Unmarshal([]byte(cfg), h); err != nil {
		t.Fatal(err)
	}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
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

// TestAdminLockUnlockEvents: an admin's lock and unlock change the state and are
// events; unlocking an account that is not locked emits nothing.
func TestAdminLockUnlockEvents(t *testing.T) {
	h := provisioned(t, `{"lockout":{"max_failures":2}}`)
	sink := new(captured)
	h.app.pipe = testPipeline(t, connectors.Named{Name: "c", Connector: sink})
	ctx := context.Background()
	if err := h.app.lockouts().LockAccount(ctx, "Eve@Example.com", time.Hour, "admin"); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.app.store.Status(ctx, "eve@example.com"); !st.Locked {
		t.Fatal("not locked")
	}
	if was, err := h.app.lockouts().UnlockAccount(ctx, "eve@example.com", "admin"); !was || err != nil {
		t.Fatalf("unlock: %v %v", was, err)
	}
	if was, _ := h.app.lockouts().UnlockAccount(ctx, "eve@example.com", "admin"); was {
		t.Fatal("unlocked twice")
	}
	if err := h.app.lockouts().LockAccount(ctx, "ops", 0, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := h.app.lockouts().LockAccount(ctx, " ", 0, "admin"); err == nil {
		t.Fatal("empty account accepted")
	}
	if err := h.app.lockouts().BlockIP(ctx, "198.51.100.0/24", time.Hour, "admin"); err != nil {
		t.Fatal(err)
	}
	if !h.app.IsBlocked(netip.MustParseAddr("198.51.100.9")) || h.app.IsBlocked(netip.MustParseAddr("198.51.101.9")) {
		t.Fatal("block not in force at once")
	}
	if bs, _ := h.app.lockouts().BlockedIPs(ctx); len(bs) != 1 || bs[0].CIDR != "198.51.100.0/24" {
		t.Fatalf("blocked %+v", bs)
	}
	if was, err := h.app.lockouts().UnblockIP(ctx, "198.51.100.0/24", "admin"); !was || err != nil || h.app.IsBlocked(netip.MustParseAddr("198.51.100.9")) {
		t.Fatalf("unblock: %v %v", was, err)
	}
	if err := h.app.lockouts().BlockIP(ctx, "not-an-ip", time.Hour, "admin"); err == nil {
		t.Fatal("a bad CIDR was accepted")
	}
	if locked, _ := h.app.lockouts().LockedAccounts(ctx); len(locked) != 1 || locked[0].Account != "ops" {
		t.Fatalf("locked %+v", locked)
	}
	h.app.pipe.Close(ctx)
	if len(sink.evs) != 5 {
		t.Fatalf("%d events: %+v", len(sink.evs), sink.evs)
	}
	if e := sink.evs[3]; e.EventType != event.IPBlocked || !strings.HasPrefix(str(e.Message), "IP range 198.51.100.0/24 blocked by admin until ") {
		t.Errorf("block event %+v message %s", e, str(e.Message))
	}
	if e := sink.evs[4]; e.EventType != event.IPUnblocked || str(e.Message) != "IP range 198.51.100.0/24 unblocked by admin" {
		t.Errorf("unblock event %+v message %s", e, str(e.Message))
	}
	e := sink.evs[1]
	if e.EventType != event.AccountUnlocked || str(e.Email) != "eve@example.com" || e.Source != event.SourcePortal || str(e.Message) != "Account eve@example.com unlocked by admin" {
		t.Errorf("unlock event %+v", e)
	}
	e = sink.evs[2]
	if e.EventType != event.AccountLocked || str(e.Principal) != "ops" || e.Source != event.SourceManager || str(e.Message) != "Account ops locked by admin until unlocked by an admin" {
		t.Errorf("lock event %+v message %s", e, str(e.Message))
	}
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// TestRealmAwareAdmin: on a route with a realm, the admin's view of an account
// (by its bare name, as the users view asks) sees the lock the route set, and
// the admin's unlock and lock reach the realm's key.
func TestRealmAwareAdmin(t *testing.T) {
	h := provisioned(t, `{"realm":"intranet","lockout":{"max_failures":2}}`)
	ctx := context.Background()
	if err := h.app.store.Lock(ctx, gateway.AccountKey("intranet", "bob"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if st, err := h.app.lockouts().AccountStatus(ctx, "Bob"); err != nil || !st.Locked {
		t.Fatalf("status of bob locked in realm intranet: %+v, %v; want locked", st, err)
	}
	if was, err := h.app.lockouts().UnlockAccount(ctx, "bob", "admin"); err != nil || !was {
		t.Fatalf("unlock: %v, %v; want it was locked", was, err)
	}
	if st, _ := h.app.store.Status(ctx, gateway.AccountKey("intranet", "bob")); st.Locked {
		t.Fatal("the realm's key is still locked after the admin's unlock")
	}
	if err := h.app.lockouts().LockAccount(ctx, "carol", time.Hour, "admin"); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.app.store.Status(ctx, gateway.AccountKey("intranet", "carol")); !st.Locked {
		t.Fatal("the admin's lock did not reach the realm's key")
	}
}
