package caddymodule

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/spool"
)

// ConnectorModule is a module of the loginguard.connectors namespace: a named
// connector of the app (kafka, webhook), with the shared options of
// ConnectorBase. Its Provision checks its config and builds the connector
// without reaching the sink, so that a sink down at start-up does not stop Caddy.
type ConnectorModule interface {
	connectors.Connector
	connectorBase
}

// SpoolConfig is a connector's durable queue: events are written to disk,
// one fsync per batch, before they count as accepted, and delivered from there
// at least once, also after a restart.
type SpoolConfig struct {
	// Off turns the spool off: the connector then has only its in-memory
	// queue (queue_size), lost at exit. Default: false (on).
	Off bool `json:"off,omitempty"`
	// Dir is the spool's directory. Default: loginguard/spool/<name> under
	// Caddy's data directory.
	Dir string `json:"dir,omitempty"`
	// MaxBytes bounds the spool's disk use; when full, the newest events are
	// dropped and counted (`dropped`), a login never waits. Default: 1 GiB.
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// MaxAge is how long an event is retried before it goes to the spool's
	// dead-letter file (dead-letter.jsonl). Default: 24h.
	MaxAge caddy.Duration `json:"max_age,omitempty"`
	// DeadLetterMaxBytes bounds the dead-letter file: past it, the file
	// becomes dead-letter.1.jsonl (the one before is removed, its events
	// counted) and a new one is begun. Default: 64 MiB.
	DeadLetterMaxBytes int64 `json:"dead_letter_max_bytes,omitempty"`
}

// open opens the spool of the output name (nil for a spool that is off) under
// loginguard/spool/<name> in Caddy's data directory unless Dir says where.
func (c *SpoolConfig) open(name string) (*spool.Spool, error) {
	if c == nil {
		c = new(SpoolConfig)
	}
	if c.Off {
		return nil, nil
	}
	dir := c.Dir
	if dir == "" {
		dir = filepath.Join(caddy.AppDataDir(), "loginguard", "spool", name)
	}
	return spool.Open(spool.Options{Dir: dir, MaxBytes: c.MaxBytes, MaxAge: time.Duration(c.MaxAge), DeadLetterBytes: c.DeadLetterMaxBytes})
}

// check rejects negative limits; errors name the field (spool or
// store_spool) and the option.
func (c *SpoolConfig) check(field string) error {
	if c == nil {
		return nil
	}
	for _, f := range []struct {
		opt string
		v   int64
	}{{"max_bytes", c.MaxBytes}, {"max_age", int64(c.MaxAge)}, {"dead_letter_max_bytes", c.DeadLetterMaxBytes}} {
		if f.v < 0 {
			return fmt.Errorf("%s %s: must not be negative", field, f.opt)
		}
	}
	return nil
}

// unmarshal reads, at the dispenser's `spool` token:
//
//	spool off
//	spool [{ dir <path>; max_bytes <size>; max_age <duration>; dead_letter_max_bytes <size> }]
func (c *SpoolConfig) unmarshal(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		switch d.Val() {
		case "off":
			c.Off = true
		case "on":
		default:
			return d.Errf("spool: want on, off or a block, got %q", d.Val())
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "dir":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			c.Dir = v
		case "max_bytes":
			n, err := sizeArg(d)
			if err != nil {
				return err
			}
			c.MaxBytes = n
		case "max_age":
			v, err := durationArg(d)
			if err != nil {
				return err
			}
			c.MaxAge = v
		case "dead_letter_max_bytes":
			n, err := sizeArg(d)
			if err != nil {
				return err
			}
			c.DeadLetterMaxBytes = n
		default:
			return d.Errf("spool: unknown option %q", d.Val())
		}
	}
	return nil
}

// sizeArg reads the one size argument of a spool option.
func sizeArg(d *caddyfile.Dispenser) (int64, error) {
	opt := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	n, err := parseSize(v)
	if err != nil {
		return 0, d.Errf("spool %s: %v", opt, err)
	}
	return n, nil
}

var sizeRE = regexp.MustCompile(`^(\d+)\s*(|b|kb|kib|mb|mib|gb|gib|tb|tib)$`)

// parseSize reads a byte count: 1048576, 512MiB, 1GB (units of 1024 or 1000).
func parseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return 0, fmt.Errorf("want a size like 512MiB or 1GB, got %q", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive size, got %q", s)
	}
	mult := map[string]int64{"": 1, "b": 1, "kb": 1e3, "kib": 1 << 10, "mb": 1e6, "mib": 1 << 20,
		"gb": 1e9, "gib": 1 << 30, "tb": 1e12, "tib": 1 << 40}[m[2]]
	return n * mult, nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// provisionConnectors loads the sinks and the named connectors and opens the
// connectors' spools. It returns the sinks and the active connectors; the
// inactive are closed (the connector settings' Inactive: nothing is sent to
// them). It records every configured connector's name in a.connNames.
func (a *App) provisionConnectors(ctx caddy.Context) ([]connectors.Named, error) {
	a.connNames = map[string]bool{}
	sinks, err := ctx.LoadModule(a, "SinksRaw")
	if err != nil {
		return nil, fmt.Errorf("loading sinks: %w", err)
	}
	var named []connectors.Named
	for i, s := range sinks.([]any) {
		sink := s.(Sink)
		named = append(named, connectors.Named{Name: fmt.Sprintf("%s#%d", sink.SinkName(), i), Connector: sink})
	}
	if len(a.ConnectorsRaw) == 0 {
		return named, nil
	}
	mods, err := ctx.LoadModule(a, "ConnectorsRaw")
	if err != nil {
		return nil, fmt.Errorf("loading connectors: %w", err)
	}
	fail := func(err error) ([]connectors.Named, error) {
		for _, n := range named {
			n.Connector.Close()
			if n.Spool != nil {
				n.Spool.Close()
			}
		}
		return nil, err
	}
	seen := map[string]bool{}
	for _, m := range mods.([]any) {
		c := m.(ConnectorModule)
		b := c.base()
		if seen[b.Name] {
			c.Close()
			return fail(fmt.Errorf("connector %s: name: used by two connectors", b.Name))
		}
		seen[b.Name] = true
		a.connNames[b.Name] = true
		if !b.IsActive() {
			c.Close()
			continue
		}
		n := connectors.Named{Name: b.Name, Connector: c}
		sp, err := b.Spool.open(b.Name)
		if err != nil {
			c.Close()
			return fail(fmt.Errorf("connector %s: spool: %w", b.Name, err))
		}
		n.Spool = sp
		named = append(named, n)
	}
	return named, nil
}

// checkBase checks the shared options of a connector module in Provision; errors
// name the connector and the field.
func (c *ConnectorBase) checkBase(module string) error {
	if c.Name == "" {
		return fmt.Errorf("connector (%s): name: required", module)
	}
	if !nameRE.MatchString(c.Name) {
		return fmt.Errorf("connector %s: name: want letters, digits, '.', '_' or '-' (at most 64)", c.Name)
	}
	if c.Name == "none" {
		return fmt.Errorf("connector none: name: none is reserved (`connectors none` means no connector)")
	}
	if err := c.Spool.check("spool"); err != nil {
		return fmt.Errorf("connector %s: %w", c.Name, err)
	}
	if _, err := c.encoder("connector " + c.Name); err != nil {
		return err
	}
	return nil
}

// parseConnector reads, at the dispenser's `connector` token of the global
// option:
//
//	connector <name> <type> [<args>] {
//	    active on|off
//	    format json|ecs|ocsf
//	    spool off | spool { dir <path>; max_bytes <size>; max_age <duration> }
//	    <the type's own options>
//	}
//
// and returns the module's JSON, with "connector": <type> and "name": <name>.
func parseConnector(d *caddyfile.Dispenser) ([]byte, error) {
	if !d.NextArg() {
		return nil, d.Errf("connector: want `connector <name> <type>`")
	}
	name := d.Val()
	if !nameRE.MatchString(name) {
		return nil, d.Errf("connector %s: name: want letters, digits, '.', '_' or '-' (at most 64)", name)
	}
	if name == "none" {
		return nil, d.Errf("connector none: name: none is reserved (`connectors none` means no connector)")
	}
	if !d.NextArg() {
		return nil, d.Errf("connector %s: want a type (kafka, webhook) after the name", name)
	}
	typ := d.Val()
	// The module's UnmarshalCaddyfile sees `<type> [<args>] { ... }`.
	mod, err := caddyfile.UnmarshalModule(d, "loginguard.connectors."+typ)
	if err != nil {
		return nil, fmt.Errorf("connector %s: %w", name, err)
	}
	cm, ok := mod.(connectorBase)
	if !ok {
		return nil, d.Errf("connector %s: %s is not a connector", name, typ)
	}
	cm.base().Name = name
	return caddyconfig.JSONModuleObject(mod, "connector", typ, nil), nil
}

// errNoConnector is returned by a connector module used before Provision.
var errNoConnector = errors.New("connector not provisioned")
