package geoalerts

import (
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Rule names: an alert's rule, a finding's Kind.
const (
	NewCountry       = "new_country"
	NewDevice        = "new_device"
	ImpossibleTravel = "impossible_travel"
	ManyASNs         = "many_asns"
)

// Defaults of Config.
const (
	DefaultHistory      = 90 * 24 * time.Hour
	DefaultMaxHistory   = 200
	DefaultMaxSpeed     = 1000.0 // km/h
	DefaultASNThreshold = 5
	DefaultASNWindow    = time.Hour
	DefaultCooldown     = time.Hour
	DefaultQueueSize    = 4096
	DefaultCacheSize    = 10000
	DefaultCacheTTL     = time.Minute
	DefaultQueryTimeout = 10 * time.Second
)

// RuleConfig switches one rule and sets its cooldown.
type RuleConfig struct {
	// Off turns the rule off. Default: false (every rule is on).
	Off bool
	// Cooldown is how long the rule stays quiet for an account after it
	// fired for it. Default: 1h.
	Cooldown time.Duration
}

// Config configures a Stage. The zero Config runs every rule with its
// defaults. Errors name the fields as the Caddy config does (in
// parentheses below).
type Config struct {
	// NewCountry (new_country), NewDevice (new_device), ImpossibleTravel
	// (impossible_travel) and ManyASNs (many_asns) switch the rules and set
	// their cooldowns. Default: every rule on, cooldown 1h.
	NewCountry, NewDevice, ImpossibleTravel, ManyASNs RuleConfig
	// History (history) is how far back an account's earlier successful
	// logins count, for new_country, new_device and impossible_travel.
	// Default: 90 days.
	History time.Duration
	// MaxHistory (max_history) is the most successful logins (or failures,
	// for many_asns) of one account read from the store at a time, the
	// newest first. Default: 200.
	MaxHistory int
	// MaxSpeed (impossible_travel.max_speed) is the fastest plausible
	// travel in km/h. Default: 1000.
	MaxSpeed float64
	// ASNThreshold (many_asns.threshold) is how many distinct autonomous
	// systems failing on one account fire many_asns. Default: 5.
	ASNThreshold int
	// ASNWindow (many_asns.window) is the time within which those failures
	// count. Default: 1h.
	ASNWindow time.Duration
	// QueueSize (queue_size) is how many events may wait for the stage;
	// more are dropped and counted. Default: 4096.
	QueueSize int
	// CacheSize (cache_size) is how many accounts' summaries are kept in
	// memory. Default: 10000.
	CacheSize int
	// CacheTTL (cache_ttl) is how long a summary read from the store is
	// trusted before the store is read again. Default: 1m.
	CacheTTL time.Duration
	// QueryTimeout (query_timeout) bounds each read of the store. Default:
	// 10s.
	QueryTimeout time.Duration
	// Logger receives the store's errors (at most one warning per 10 s).
	// Default: slog.Default().
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields set to their defaults, or an
// error naming the first field that is wrong.
func (c Config) withDefaults() (Config, error) {
	for _, r := range []struct {
		name string
		rc   *RuleConfig
	}{{NewCountry, &c.NewCountry}, {NewDevice, &c.NewDevice}, {ImpossibleTravel, &c.ImpossibleTravel}, {ManyASNs, &c.ManyASNs}} {
		if r.rc.Cooldown < 0 {
			return c, fmt.Errorf("geo alerts: %s.cooldown: want a positive duration, got %s", r.name, r.rc.Cooldown)
		}
		if r.rc.Cooldown == 0 {
			r.rc.Cooldown = DefaultCooldown
		}
	}
	durations := []struct {
		field string
		v     *time.Duration
		def   time.Duration
	}{
		{"history", &c.History, DefaultHistory},
		{"many_asns.window", &c.ASNWindow, DefaultASNWindow},
		{"cache_ttl", &c.CacheTTL, DefaultCacheTTL},
		{"query_timeout", &c.QueryTimeout, DefaultQueryTimeout},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return c, fmt.Errorf("geo alerts: %s: want a positive duration, got %s", d.field, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	ints := []struct {
		field    string
		v        *int
		def, max int
	}{
		{"max_history", &c.MaxHistory, DefaultMaxHistory, 100000},
		{"many_asns.threshold", &c.ASNThreshold, DefaultASNThreshold, 1000},
		{"queue_size", &c.QueueSize, DefaultQueueSize, 1 << 24},
		{"cache_size", &c.CacheSize, DefaultCacheSize, 1 << 24},
	}
	for _, n := range ints {
		if *n.v < 0 || *n.v > n.max {
			return c, fmt.Errorf("geo alerts: %s: want an integer from 1 to %d, got %d", n.field, n.max, *n.v)
		}
		if *n.v == 0 {
			*n.v = n.def
		}
	}
	if c.ASNThreshold < 2 {
		return c, fmt.Errorf("geo alerts: many_asns.threshold: want at least 2 (one ASN is not many), got %d", c.ASNThreshold)
	}
	if c.MaxSpeed < 0 || math.IsNaN(c.MaxSpeed) || math.IsInf(c.MaxSpeed, 0) {
		return c, fmt.Errorf("geo alerts: impossible_travel.max_speed: want a positive speed in km/h, got %v", c.MaxSpeed)
	}
	if c.MaxSpeed == 0 {
		c.MaxSpeed = DefaultMaxSpeed
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// rule returns the config of the rule named name.
func (c *Config) rule(name string) *RuleConfig {
	switch name {
	case NewCountry:
		return &c.NewCountry
	case NewDevice:
		return &c.NewDevice
	case ImpossibleTravel:
		return &c.ImpossibleTravel
	default:
		return &c.ManyASNs
	}
}
