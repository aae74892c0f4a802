package caddymodule

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/alerts"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/state"
)

// alertsOf parses the alerts block src as the loginguard global option's.
func alertsOf(t *testing.T, src string) (*Alerts, error) {
	t.Helper()
	d := caddyfile.NewTestDispenser(src)
	if !d.Next() {
		t.Fatalf("no tokens in %q", src)
	}
	return parseAlerts(d)
}

// ruleOf returns the rule named name of c, and whether it is there.
func ruleOf(c *Alerts, name string) (AlertRule, bool) {
	for _, r := range c.Rules {
		if r.Name == name {
			return r, true
		}
	}
	return AlertRule{}, false
}

// TestAlertsBreachedRules: breached_success and breached_ips are default
// rules (every success with a breached password, cooldown 1h; 10 breached
// passwords from one IP in 10m); the Caddyfile sets breached_success's
// cooldown, breached_ips's threshold, window and cooldown, turns either off
// (the other rules keep their defaults), and refuses values that do not fit
// with a message naming the rule; the JSON config sets them the same way, and
// the engine built from it fires both.
func TestAlertsBreachedRules(t *testing.T) {
	c, err := alertsOf(t, "alerts")
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := ruleOf(c, alerts.BreachedSuccess); !ok || r.Threshold != 0 || r.Window != 0 || r.Cooldown != 0 {
		t.Errorf("default breached_success %+v, %v", r, ok)
	}
	if r, ok := ruleOf(c, alerts.BreachedIPs); !ok || r.Threshold != 10 || time.Duration(r.Window) != 10*time.Minute {
		t.Errorf("default breached_ips %+v, %v", r, ok)
	}
	c, err = alertsOf(t, "alerts {\n breached_success 30m\n breached_ips 20 5m 1h\n}")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := ruleOf(c, alerts.BreachedSuccess); time.Duration(r.Cooldown) != 30*time.Minute || r.Threshold != 0 {
		t.Errorf("breached_success 30m: %+v", r)
	}
	if r, _ := ruleOf(c, alerts.BreachedIPs); r.Threshold != 20 || time.Duration(r.Window) != 5*time.Minute || time.Duration(r.Cooldown) != time.Hour {
		t.Errorf("breached_ips 20 5m 1h: %+v", r)
	}
	if r, ok := ruleOf(c, alerts.IPFailures); !ok || r.Threshold != 10 {
		t.Errorf("ip_failures lost its default: %+v, %v", r, ok)
	}
	for _, off := range []string{alerts.BreachedSuccess, alerts.BreachedIPs} {
		c, err := alertsOf(t, "alerts {\n "+off+" off\n}")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ruleOf(c, off); ok || len(c.Rules) != len(alerts.Defaults())-1 {
			t.Errorf("%s off: rules %+v", off, c.Rules)
		}
	}
	for _, bad := range []struct{ src, want string }{
		{"alerts {\n breached_success 5 10m\n}", "alerts breached_success: too many values"},
		{"alerts {\n breached_success soon\n}", `alerts breached_success: cooldown: want a positive duration, got "soon"`},
		{"alerts {\n breached_ips 10\n}", "alerts breached_ips: want <threshold> <window> [<cooldown>] or off"},
		{"alerts {\n breached_ips 0 10m\n}", `alerts breached_ips: threshold: want a positive integer, got "0"`},
		{"alerts {\n breached_ip 10 10m\n}", "breached_success, breached_ips"},
	} {
		if _, err := alertsOf(t, bad.src); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.src, err, bad.want)
		}
	}

	// JSON, as the Caddyfile adapts to and as a JSON config gives it.
	var j Alerts
	if err := json.Unmarshal([]byte(`{"rules":[{"name":"breached_success","cooldown":60000000000},
		{"name":"breached_ips","threshold":3,"window":60000000000}]}`), &j); err != nil {
		t.Fatal(err)
	}
	st := state.NewMemory(state.MemoryOptions{})
	t.Cleanup(func() { st.Close() })
	e, err := j.engine(st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rules := e.Rules()
	if len(rules) != 2 || rules[0].Name != alerts.BreachedIPs || rules[0].Cooldown != time.Minute || rules[1].Name != alerts.BreachedSuccess || rules[1].Cooldown != time.Minute {
		t.Fatalf("rules of the JSON config: %+v", rules)
	}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	fired := map[string]int{}
	for i := range 3 {
		ev := event.Event{EventType: event.LoginFailure, Email: event.Str("u@x.com"), RemoteAddress: "198.51.100.3", PasswordBreached: true}
		if i == 2 {
			ev.EventType = event.LoginSuccess
		}
		for _, a := range e.Observe(ev, now.Add(time.Duration(i)*time.Second)) {
			fired[a.Rule]++
		}
	}
	if fired[alerts.BreachedIPs] != 1 || fired[alerts.BreachedSuccess] != 1 {
		t.Errorf("the JSON config's engine fired %v, want breached_ips and breached_success once each", fired)
	}
	// A JSON rule the engine refuses names itself.
	bad := Alerts{Rules: []AlertRule{{Name: alerts.BreachedIPs, Window: caddy.Duration(time.Minute)}}}
	if _, err := bad.engine(st, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "breached_ips: threshold") {
		t.Errorf("breached_ips without a threshold: %v", err)
	}
}
