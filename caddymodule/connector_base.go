package caddymodule

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/format"
	"github.com/loginguard/loginguard/connectors/spool"
)

// This file holds what the connector modules (connector_<type>.go) share: the
// module interface, the shared options, the spool's settings, the TLS client
// settings and the Caddyfile option parser.

// ConnectorModule is a module of the loginguard.connectors namespace: the
// configuration of one connector. Its Provision fills defaults and checks the
// configuration, naming the field; Build then makes the connector of
// connectors/<type>, which the app hands to its event pipeline. Build replaces
// placeholders and opens local files but does not reach the connector's peer,
// so a peer that is down at start-up does not stop Caddy.
type ConnectorModule interface {
	caddy.Module
	caddy.Provisioner
	caddyfile.Unmarshaler
	base() *ConnectorBase
	Build(ctx caddy.Context) (connectors.Connector, error)
}

// ConnectorBase holds the options every connector module shares.
type ConnectorBase struct {
	// Name of the connector in logs, metrics, statistics, its spool's
	// directory and the `connectors` lists of routes and alerts; unique among
	// the connectors. Required (the Caddyfile's `connector <name> <type>`
	// sets it).
	Name string `json:"name,omitempty"`
	// Spool configures the connector's durable queue on local disk.
	// Default: on, under Caddy's data directory, 1 GiB, 24h (off for the
	// file and log connectors, which write locally).
	Spool *SpoolConfig `json:"spool,omitempty"`
	// Active is false for a connector that is configured but sends nothing
	// (the connector settings' Inactive); it is then not built. Default: true.
	Active *bool `json:"active,omitempty"`
	// Format of the payload: json (the connector event), ecs or ocsf.
	// Default: json (ecs for elasticsearch).
	Format string `json:"format,omitempty"`

	kind string // the module's name, for errors; set by check
}

func (c *ConnectorBase) base() *ConnectorBase { return c }

// IsActive reports whether the connector sends events.
func (c *ConnectorBase) IsActive() bool { return c.Active == nil || *c.Active }

// check checks the shared options in a module's Provision; kind is the
// module's name, which the connector's errors show.
func (c *ConnectorBase) check(kind string) error {
	c.kind = kind
	if err := c.Spool.check("spool"); err != nil {
		return c.errf("%w", err)
	}
	if _, err := format.Lookup(c.Format); err != nil {
		return c.errf("format: %w", err)
	}
	return nil
}

// errf returns an error that names the connector and its type.
func (c *ConnectorBase) errf(msg string, args ...any) error {
	who := "connector " + c.Name + " (" + c.kind + "): "
	if c.Name == "" {
		who = "connector (" + c.kind + "): "
	}
	return fmt.Errorf(who+msg, args...)
}

// encoder returns the payload encoder of Format, which check accepted.
func (c *ConnectorBase) encoder() format.Encoder {
	enc, _ := format.Lookup(c.Format)
	return enc
}

// made returns what a Build made, or its error naming the connector.
func (c *ConnectorBase) made(conn connectors.Connector, err error) (connectors.Connector, error) {
	if err != nil {
		return nil, c.errf("%w", err)
	}
	return conn, nil
}

// openSpool opens the connector's spool; nil when it is off.
func (c *ConnectorBase) openSpool() (*spool.Spool, error) {
	sp, err := c.Spool.open(c.Name)
	if err != nil {
		return nil, c.errf("spool: %w", err)
	}
	return sp, nil
}

// open opens the spool of the output name (nil when it is off) in Dir, or in
// loginguard/spool/<name> under Caddy's data directory.
func (sc *SpoolConfig) open(name string) (*spool.Spool, error) {
	sc = cmp.Or(sc, new(SpoolConfig))
	if sc.Off {
		return nil, nil
	}
	dir := cmp.Or(sc.Dir, filepath.Join(caddy.AppDataDir(), "loginguard", "spool", name))
	return spool.Open(spool.Options{Dir: dir, MaxBytes: sc.MaxBytes, MaxAge: time.Duration(sc.MaxAge), DeadLetterBytes: sc.DeadLetterMaxBytes})
}

// check rejects negative limits; errors name the field (spool or
// store_spool) and the option.
func (sc *SpoolConfig) check(field string) error {
	if sc == nil {
		return nil
	}
	for _, f := range []struct {
		opt string
		v   int64
	}{{"max_bytes", sc.MaxBytes}, {"max_age", int64(sc.MaxAge)}, {"dead_letter_max_bytes", sc.DeadLetterMaxBytes}} {
		if f.v < 0 {
			return fmt.Errorf("%s %s: must not be negative", field, f.opt)
		}
	}
	return nil
}

// SpoolConfig is a connector's durable queue: events are written to disk,
// one fsync per batch, before they count as accepted, and delivered from there
// at least once, also after a restart.
type SpoolConfig struct {
	// Off turns the spool off: the connector then has only its in-memory
	// queue (queue_size), lost at exit. Default: false (on), true for the
	// file and log connectors.
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

// TLSConfig is the TLS client configuration of a connector.
type TLSConfig struct {
	// CA is a PEM file of the authorities to trust. Default: the system's.
	CA string `json:"ca,omitempty"`
	// Cert and Key are PEM files of a client certificate. Default: none.
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
	// ServerName overrides the name checked in the server's certificate.
	// Default: the host connected to.
	ServerName string `json:"server_name,omitempty"`
	// InsecureSkipVerify accepts any server certificate (tests only).
	// Default: false.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
}

// withCA returns t with the CA file ca when t sets none (the `ca_file`
// shorthand of some connectors).
func (t *TLSConfig) withCA(ca string) *TLSConfig {
	if ca == "" {
		return t
	}
	if t == nil {
		t = new(TLSConfig)
	}
	if t.CA == "" {
		t.CA = ca
	}
	return t
}

// build returns the crypto/tls configuration; nil for a nil t. Errors name
// the field.
func (t *TLSConfig) build() (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca: no PEM certificate in %s", t.CA)
		}
	}
	if (t.Cert == "") != (t.Key == "") {
		return nil, fmt.Errorf("cert and key: give both or neither")
	}
	if t.Cert != "" {
		c, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("cert: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// The Caddyfile of the connectors. Every connector reads
//
//	connector <name> <type> [<args>] {
//	    active on|off|if <value>
//	    format json|ecs|ocsf
//	    spool off | spool [{ dir <path>; max_bytes <size>; max_age <duration>; dead_letter_max_bytes <size> }]
//	    <the type's own options>
//	}
//
// with one table of options per block, each option read by one of the
// functions below (built on oneArg, intArg and durationArg, which the rest of
// the Caddyfile uses too).

// option reads the arguments (and block) of one option; the dispenser is at
// the option's name.
type option func(d *caddyfile.Dispenser) error

// parseOptions reads the options of the block that opens at the dispenser's
// token; what names the block in errors (e.g. "kafka", "kafka tls").
func parseOptions(d *caddyfile.Dispenser, what string, opts map[string]option) error {
	for n := d.Nesting(); d.NextBlock(n); {
		f, ok := opts[d.Val()]
		if !ok {
			return d.Errf("%s: unknown option %q", what, d.Val())
		}
		if err := f(d); err != nil {
			return fmt.Errorf("%s %w", what, err)
		}
	}
	return nil
}

// parseHead reads the connector's first line, `<type> <args>`, into ps, of
// which the first required must be there; usage shows the line in errors.
func parseHead(d *caddyfile.Dispenser, usage string, required int, ps ...*string) error {
	d.Next() // the type
	args := d.RemainingArgs()
	if len(args) < required || len(args) > len(ps) {
		return d.Errf("want `%s`", usage)
	}
	for i, v := range args {
		*ps[i] = v
	}
	return nil
}

// parseBlock reads a connector's block: its own options, opts, and the
// shared ones. kind names the connector's type in errors.
func (c *ConnectorBase) parseBlock(d *caddyfile.Dispenser, kind string, opts map[string]option) error {
	opts["active"] = func(d *caddyfile.Dispenser) error {
		var on bool
		switch args := d.RemainingArgs(); {
		case len(args) == 1 && (args[0] == "on" || args[0] == "off"):
			on = args[0] == "on"
		case len(args) <= 2 && len(args) > 0 && args[0] == "if":
			// `active if {$VAR}`: on when the value is there (an unset
			// environment variable leaves no token).
			on = len(args) == 2 && args[1] != ""
		default:
			return d.Errf("active: want on, off or `if <value>`, got %q", strings.Join(args, " "))
		}
		c.Active = &on
		return nil
	}
	opts["format"] = func(d *caddyfile.Dispenser) error {
		v, err := oneArg(d)
		if err != nil {
			return err
		}
		if _, err := format.Lookup(v); err != nil {
			return d.Errf("format: %v", err)
		}
		c.Format = v
		return nil
	}
	opts["spool"] = func(d *caddyfile.Dispenser) error {
		c.Spool = cmp.Or(c.Spool, new(SpoolConfig))
		return c.Spool.unmarshal(d, "spool")
	}
	return parseOptions(d, kind, opts)
}

// unmarshal reads `<field> off|on` or `<field> { dir; max_bytes; max_age;
// dead_letter_max_bytes }` (field: spool, or the app's store_spool).
func (s *SpoolConfig) unmarshal(d *caddyfile.Dispenser, field string) error {
	switch args := d.RemainingArgs(); {
	case len(args) == 1 && args[0] == "off":
		s.Off = true
		return nil
	case len(args) > 1 || len(args) == 1 && args[0] != "on":
		return d.Errf("%s: want on, off or a block, got %q", field, strings.Join(args, " "))
	}
	return parseOptions(d, field, map[string]option{
		"dir": text(&s.Dir), "max_bytes": size(&s.MaxBytes), "max_age": duration(&s.MaxAge),
		"dead_letter_max_bytes": size(&s.DeadLetterMaxBytes),
	})
}

// text reads one value into p.
func text(p *string) option {
	return func(d *caddyfile.Dispenser) (err error) {
		*p, err = oneArg(d)
		return err
	}
}

// texts reads one or more values, appended to p.
func texts(p *[]string) option {
	return func(d *caddyfile.Dispenser) error {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		*p = append(*p, args...)
		return nil
	}
}

// integer reads one positive integer into p.
func integer(p *int) option {
	return func(d *caddyfile.Dispenser) (err error) {
		*p, err = intArg(d)
		return err
	}
}

// integerRef reads one integer, 0 or more, into a new *p.
func integerRef(p **int) option {
	return func(d *caddyfile.Dispenser) error {
		name := d.Val()
		v, err := oneArg(d)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return d.Errf("%s: want an integer ≥ 0, got %q", name, v)
		}
		*p = &n
		return nil
	}
}

// duration reads one positive duration into p.
func duration(p *caddy.Duration) option {
	return func(d *caddyfile.Dispenser) (err error) {
		*p, err = durationArg(d)
		return err
	}
}

// size reads one size (1048576, 512MiB, 1GB) into p.
func size(p *int64) option {
	return func(d *caddyfile.Dispenser) error {
		name := d.Val()
		v, err := oneArg(d)
		if err != nil {
			return err
		}
		if *p, err = parseSize(v); err != nil {
			return d.Errf("%s: %v", name, err)
		}
		return nil
	}
}

// set sets p; the option takes no value.
func set(p *bool) option {
	return func(d *caddyfile.Dispenser) error {
		if name := d.Val(); d.NextArg() {
			return d.Errf("%s: takes no value, got %q", name, d.Val())
		}
		*p = true
		return nil
	}
}

// tlsBlock reads `tls [{ ca <pem>; cert <pem>; key <pem>; server_name <name>; insecure_skip_verify }]`.
func tlsBlock(p **TLSConfig) option {
	return func(d *caddyfile.Dispenser) error {
		if d.NextArg() {
			return d.Errf("tls: want a block or nothing, got %q", d.Val())
		}
		if *p == nil {
			*p = new(TLSConfig)
		}
		t := *p
		return parseOptions(d, "tls", map[string]option{
			"ca": text(&t.CA), "cert": text(&t.Cert), "key": text(&t.Key), "server_name": text(&t.ServerName),
			"insecure_skip_verify": set(&t.InsecureSkipVerify),
		})
	}
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

// splitAddress reads network://host:port; the error names the field.
func splitAddress(raw string) (network, hostport string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
		return "", "", fmt.Errorf("address: want <network>://host:port, got %q", raw)
	}
	return u.Scheme, u.Host, nil
}
