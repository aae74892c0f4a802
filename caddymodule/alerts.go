package caddymodule

import (
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"slices"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/alerts"
	"github.com/loginguard/loginguard/alerts/redisalerts"
	"github.com/loginguard/loginguard/state"
)

// Alerts configures the alert rules (the `alerts` option of the loginguard
// global option). Each firing is an ALERT event sent to the log store and every
// sink, a warning in Caddy's log and loginguard_alerts_total{rule}.
type Alerts struct {
	// Rules are the rules in force. Empty: the defaults (alerts.Defaults).
	Rules []AlertRule `json:"rules,omitempty"`
	// Connectors names the connectors ALERT events go to (and every sink).
	// Default (nil): every connector; empty: none.
	Connectors *[]string `json:"connectors,omitempty"`
}

// AlertRule is one rule: name (ip_failures, account_locked,
// credential_stuffing, distributed_attack, guessed_password), threshold and
// window (not for account_locked), and cooldown (default: the window; 1h for
// account_locked).
type AlertRule struct {
	Name      string         `json:"name"`
	Threshold int            `json:"threshold,omitempty"`
	Window    caddy.Duration `json:"window,omitempty"`
	Cooldown  caddy.Duration `json:"cooldown,omitempty"`
}

// engine builds the alert engine of c (nil when c is nil). With Redis state,
// its windows and cooldowns are the fleet's, in that Redis.
func (c *Alerts) engine(st state.Store, log *slog.Logger) (*alerts.Engine, error) {
	if c == nil {
		return nil, nil
	}
	rules := alerts.Defaults()
	if len(c.Rules) > 0 {
		rules = rules[:0]
		for _, r := range c.Rules {
			rules = append(rules, alerts.Rule{Name: r.Name, Threshold: r.Threshold, Window: time.Duration(r.Window), Cooldown: time.Duration(r.Cooldown)})
		}
	}
	if r, ok := st.(interface{ Client() redis.UniversalClient }); ok {
		w, err := redisalerts.New(r.Client(), redisalerts.Options{})
		if err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		return alerts.NewFleet(rules, w, alerts.FleetOptions{Logger: log})
	}
	return alerts.New(rules, 0)
}

// parseAlerts reads
//
//	alerts
//	alerts {
//	    ip_failures         <n> <window> [<cooldown>]
//	    account_locked      [<cooldown>]
//	    credential_stuffing <accounts> <window> [<cooldown>]
//	    distributed_attack  <ips> <window> [<cooldown>]
//	    guessed_password    <failures> <window> [<cooldown>]
//	    <rule> off
//	    connectors <name...>|none
//	}
//
// A rule named in the block replaces its default; `off` drops it; the others
// keep their defaults.
func parseAlerts(d *caddyfile.Dispenser) (*Alerts, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	byName := map[string]*AlertRule{}
	var order []string
	for _, r := range alerts.Defaults() {
		byName[r.Name] = &AlertRule{Name: r.Name, Threshold: r.Threshold, Window: caddy.Duration(r.Window), Cooldown: caddy.Duration(r.Cooldown)}
		order = append(order, r.Name)
	}
	var to *[]string
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if name == "connectors" {
			list, err := parseTargets(d, "alerts connectors")
			if err != nil {
				return nil, err
			}
			to = &list
			continue
		}
		if !slices.Contains(order, name) {
			return nil, d.Errf("alerts: unknown rule %q (want ip_failures, account_locked, credential_stuffing, distributed_attack, guessed_password or unattributed_success)", name)
		}
		args := d.RemainingArgs()
		if len(args) == 1 && args[0] == "off" {
			delete(byName, name)
			continue
		}
		r := &AlertRule{Name: name}
		if name != alerts.AccountLocked && name != alerts.UnattributedSuccess {
			if len(args) < 2 || len(args) > 3 {
				return nil, d.Errf("alerts %s: want <threshold> <window> [<cooldown>] or off", name)
			}
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 {
				return nil, d.Errf("alerts %s: threshold: want a positive integer, got %q", name, args[0])
			}
			w, err := caddy.ParseDuration(args[1])
			if err != nil || w <= 0 {
				return nil, d.Errf("alerts %s: window: want a positive duration, got %q", name, args[1])
			}
			r.Threshold, r.Window = n, caddy.Duration(w)
			args = args[2:]
		}
		if len(args) > 1 {
			return nil, d.Errf("alerts %s: too many values", name)
		}
		if len(args) == 1 {
			c, err := caddy.ParseDuration(args[0])
			if err != nil || c <= 0 {
				return nil, d.Errf("alerts %s: cooldown: want a positive duration, got %q", name, args[0])
			}
			r.Cooldown = caddy.Duration(c)
		}
		byName[name] = r
	}
	cfg := &Alerts{Connectors: to}
	for _, n := range order {
		if r, ok := byName[n]; ok {
			cfg.Rules = append(cfg.Rules, *r)
		}
	}
	if len(cfg.Rules) == 0 {
		return nil, d.Err("alerts: every rule is off; remove the alerts option instead")
	}
	return cfg, nil
}
