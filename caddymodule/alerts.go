package caddymodule

import (
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/alerts"
	"github.com/loginguard/loginguard/alerts/geoalerts"
	"github.com/loginguard/loginguard/alerts/redisalerts"
	"github.com/loginguard/loginguard/logstore"
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
// credential_stuffing, distributed_attack, guessed_password,
// unattributed_success, breached_success, breached_ips), threshold and window
// (not for the rules that fire on every event of their kind: account_locked,
// unattributed_success, breached_success), and cooldown (default: the window;
// 1h for account_locked and breached_success; none for unattributed_success).
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
//	    unattributed_success [<cooldown>]
//	    breached_success    [<cooldown>]
//	    breached_ips        <attempts> <window> [<cooldown>]
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
			return nil, d.Errf("alerts: unknown rule %q (want one of %s)", name, strings.Join(order, ", "))
		}
		args := d.RemainingArgs()
		if len(args) == 1 && args[0] == "off" {
			delete(byName, name)
			continue
		}
		r := &AlertRule{Name: name}
		if !alerts.PerEvent(name) {
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

// GeoAlerts turns on the location and device alerts (package
// alerts/geoalerts): new_country, new_device, impossible_travel and
// many_asns, judged beside the event path from each account's history in the
// log store. Absent: off.
type GeoAlerts struct {
	// History is how far back an account's earlier successful logins count.
	// Default: 90d.
	History caddy.Duration `json:"history,omitempty"`
	// MaxSpeed is the fastest plausible travel, in km/h. Default: 1000.
	MaxSpeed float64 `json:"max_speed,omitempty"`
	// ASNThreshold and ASNWindow: many_asns fires at this many distinct
	// networks failing on one account within the window. Default: 5, 1h.
	ASNThreshold int            `json:"asn_threshold,omitempty"`
	ASNWindow    caddy.Duration `json:"asn_window,omitempty"`
	// Cooldown is how long a rule stays quiet for an account after it
	// fired. Default: 1h.
	Cooldown caddy.Duration `json:"cooldown,omitempty"`
	// Off lists the rules turned off. Default: none.
	Off []string `json:"off,omitempty"`
	// Connectors the alerts go to (and the log store). Default: every
	// connector.
	Connectors *[]string `json:"connectors,omitempty"`
}

// stage builds the geo alerts' stage over the log store.
func (g *GeoAlerts) stage(st logstore.Store, log *slog.Logger) (*geoalerts.Stage, error) {
	if st == nil {
		return nil, fmt.Errorf("geo_alerts: needs the log store (store is off)")
	}
	cfg := geoalerts.Config{History: time.Duration(g.History), MaxSpeed: g.MaxSpeed, ASNThreshold: g.ASNThreshold,
		ASNWindow: time.Duration(g.ASNWindow), Logger: log}
	rules := map[string]*geoalerts.RuleConfig{geoalerts.NewCountry: &cfg.NewCountry, geoalerts.NewDevice: &cfg.NewDevice,
		geoalerts.ImpossibleTravel: &cfg.ImpossibleTravel, geoalerts.ManyASNs: &cfg.ManyASNs}
	for _, r := range rules {
		r.Cooldown = time.Duration(g.Cooldown)
	}
	for _, name := range g.Off {
		r, ok := rules[name]
		if !ok {
			return nil, fmt.Errorf("geo_alerts off: unknown rule %q (want new_country, new_device, impossible_travel or many_asns)", name)
		}
		r.Off = true
	}
	return geoalerts.New(st, cfg, log)
}

// parseGeoAlerts reads
//
//	geo_alerts {
//	    history   <duration>
//	    max_speed <km/h>
//	    many_asns <networks> <window>
//	    cooldown  <duration>
//	    <rule> off
//	    connectors <name...>|none
//	}
func parseGeoAlerts(d *caddyfile.Dispenser) (*GeoAlerts, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	g := new(GeoAlerts)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "history", "cooldown":
			v, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			if opt == "history" {
				g.History = v
			} else {
				g.Cooldown = v
			}
		case "max_speed":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if g.MaxSpeed, err = strconv.ParseFloat(v, 64); err != nil || g.MaxSpeed <= 0 {
				return nil, d.Errf("geo_alerts max_speed: want a positive number of km/h, got %q", v)
			}
		case "many_asns":
			args := d.RemainingArgs()
			if len(args) == 1 && args[0] == "off" {
				g.Off = append(g.Off, opt)
				continue
			}
			if len(args) != 2 {
				return nil, d.Errf("geo_alerts many_asns: want <networks> <window> or off")
			}
			n, err := strconv.Atoi(args[0])
			w, werr := caddy.ParseDuration(args[1])
			if err != nil || n < 2 || werr != nil || w <= 0 {
				return nil, d.Errf("geo_alerts many_asns: want a number of networks (2 or more) and a positive window, got %q %q", args[0], args[1])
			}
			g.ASNThreshold, g.ASNWindow = n, caddy.Duration(w)
		case "new_country", "new_device", "impossible_travel":
			if args := d.RemainingArgs(); len(args) != 1 || args[0] != "off" {
				return nil, d.Errf("geo_alerts %s: want off (the rule is on by default)", opt)
			}
			g.Off = append(g.Off, opt)
		case "connectors":
			list, err := parseTargets(d, "geo_alerts connectors")
			if err != nil {
				return nil, err
			}
			g.Connectors = &list
		default:
			return nil, d.Errf("geo_alerts: unknown option %q", opt)
		}
	}
	return g, nil
}
