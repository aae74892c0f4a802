package caddymodule

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	natsgo "github.com/nats-io/nats.go"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/elasticsearch"
	"github.com/loginguard/loginguard/connectors/format"
	"github.com/loginguard/loginguard/connectors/gelf"
	"github.com/loginguard/loginguard/connectors/nats"
	"github.com/loginguard/loginguard/connectors/rabbitmq"
	"github.com/loginguard/loginguard/connectors/sqlsink"
	"github.com/loginguard/loginguard/connectors/syslog"
	"github.com/loginguard/loginguard/event"
)

func init() {
	caddy.RegisterModule(new(NATSConnector))
	caddy.RegisterModule(new(RabbitMQConnector))
	caddy.RegisterModule(new(SyslogConnector))
	caddy.RegisterModule(new(GELFConnector))
	caddy.RegisterModule(new(SQLConnector))
	caddy.RegisterModule(new(ElasticsearchConnector))
}

// built holds the sink a connector module built in Provision.
type built struct{ sink connectors.Connector }

// Deliver implements connectors.Connector.
func (b *built) Deliver(ctx context.Context, batch []event.Event) error {
	if b.sink == nil {
		return errNoConnector
	}
	return b.sink.Deliver(ctx, batch)
}

// Close implements connectors.Connector.
func (b *built) Close() error {
	if b.sink == nil {
		return nil
	}
	return b.sink.Close()
}

// options reads a connector's block: the shared options, then each option of
// opts, whose function gets the option's arguments.
func options(d *caddyfile.Dispenser, base *ConnectorBase, module string, opts map[string]func(args []string) error) error {
	for d.NextBlock(0) {
		if ok, err := base.parseBase(d); ok {
			if err != nil {
				return err
			}
			continue
		}
		opt := d.Val()
		f, ok := opts[opt]
		if !ok {
			return d.Errf("%s: unknown option %q", module, opt)
		}
		if err := f(d.RemainingArgs()); err != nil {
			return d.Errf("%s %s: %v", module, opt, err)
		}
	}
	return nil
}

// strOpt sets *p from a one-value option.
func strOpt(p *string) func([]string) error {
	return func(args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("want one value")
		}
		*p = args[0]
		return nil
	}
}

// num sets *p from a one-integer option.
func num(p *int) func([]string) error {
	return func(args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("want one value")
		}
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return fmt.Errorf("want an integer, got %q", args[0])
		}
		*p = n
		return nil
	}
}

// dur sets *p from a one-duration option.
func dur(p *caddy.Duration) func([]string) error {
	return func(args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("want one value")
		}
		v, err := caddy.ParseDuration(args[0])
		if err != nil || v <= 0 {
			return fmt.Errorf("want a positive duration, got %q", args[0])
		}
		*p = caddy.Duration(v)
		return nil
	}
}

// firstArg reads the module's one argument after its name.
func firstArg(d *caddyfile.Dispenser, module, what string) (string, error) {
	d.Next() // the type
	if !d.NextArg() {
		return "", d.Errf("%s: %s: required", module, what)
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

// prepare checks the shared options and returns the payload encoder and a
// function that prefixes an error with the connector's name and type.
func prepare(b *ConnectorBase, module string) (format.Encoder, func(error) error, error) {
	if err := b.checkBase(module); err != nil {
		return nil, nil, err
	}
	where := "connector " + b.Name + " (" + module + ")"
	enc, err := b.encoder(where)
	if err != nil {
		return nil, nil, err
	}
	return enc, func(err error) error { return fmt.Errorf("%s: %w", where, err) }, nil
}

// tlsFromCA returns a TLS config trusting the CAs of a PEM file ("" : the
// system's).
func tlsFromCA(file string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if file == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	cfg.RootCAs = x509.NewCertPool()
	if !cfg.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", file)
	}
	return cfg, nil
}

// NATSConnector publishes every event to NATS JetStream (connectors/nats).
type NATSConnector struct {
	ConnectorBase
	// URL of the servers (nats://host:4222, comma-separated). Placeholders
	// are replaced at load. Required.
	URL string `json:"url,omitempty"`
	// Subject the events are published on. Required.
	Subject string `json:"subject,omitempty"`
	// Stream, when set, is created or updated to capture Subject.
	Stream string `json:"stream,omitempty"`
	// CredsFile is a NATS credentials file (JWT and NKey).
	CredsFile string `json:"creds_file,omitempty"`
	// Timeout of the connection and of one batch's acknowledgements. Default 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	built
}

// CaddyModule returns the Caddy module information.
func (*NATSConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.nats", New: func() caddy.Module { return new(NATSConnector) }}
}

// Provision checks the config and builds the sink.
func (c *NATSConnector) Provision(caddy.Context) error {
	enc, wrap, err := prepare(&c.ConnectorBase, "nats")
	if err != nil {
		return err
	}
	var opts []natsgo.Option
	if c.CredsFile != "" {
		if _, err := os.Stat(c.CredsFile); err != nil {
			return wrap(fmt.Errorf("creds_file: %w", err))
		}
		opts = append(opts, natsgo.UserCredentials(c.CredsFile))
	}
	s, err := nats.New(nats.Options{URL: caddy.NewReplacer().ReplaceAll(c.URL, ""), Subject: c.Subject, Stream: c.Stream,
		Encoder: enc, Options: opts, Timeout: time.Duration(c.Timeout)})
	if err != nil {
		return wrap(err)
	}
	c.sink = s
	return nil
}

// UnmarshalCaddyfile reads `nats <url> { subject <s>; stream <name>; creds_file <f>; timeout <d> }`.
func (c *NATSConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) (err error) {
	if c.URL, err = firstArg(d, "nats", "url"); err != nil {
		return err
	}
	return options(d, &c.ConnectorBase, "nats", map[string]func([]string) error{
		"subject": strOpt(&c.Subject), "stream": strOpt(&c.Stream), "creds_file": strOpt(&c.CredsFile), "timeout": dur(&c.Timeout),
	})
}

// RabbitMQConnector publishes every event to RabbitMQ (connectors/rabbitmq).
type RabbitMQConnector struct {
	ConnectorBase
	// URL amqp(s)://user:password@host:port/vhost; placeholders are replaced
	// at load ({env.AMQP_URL}). Required.
	URL string `json:"url,omitempty"`
	// Exchange ("" : the default exchange).
	Exchange string `json:"exchange,omitempty"`
	// RoutingKey of every message (required with the default exchange).
	RoutingKey string `json:"routing_key,omitempty"`
	// Queue, when set, is declared durable (and bound to Exchange).
	Queue string `json:"queue,omitempty"`
	// Timeout of a dial and of one batch's confirms. Default 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	built
}

// CaddyModule returns the Caddy module information.
func (*RabbitMQConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.rabbitmq", New: func() caddy.Module { return new(RabbitMQConnector) }}
}

// Provision checks the config and builds the sink.
func (c *RabbitMQConnector) Provision(caddy.Context) error {
	enc, wrap, err := prepare(&c.ConnectorBase, "rabbitmq")
	if err != nil {
		return err
	}
	s, err := rabbitmq.New(rabbitmq.Options{URL: caddy.NewReplacer().ReplaceAll(c.URL, ""), Exchange: c.Exchange,
		RoutingKey: c.RoutingKey, Queue: c.Queue, Encoder: enc, Timeout: time.Duration(c.Timeout)})
	if err != nil {
		return wrap(err)
	}
	c.sink = s
	return nil
}

// UnmarshalCaddyfile reads `rabbitmq <url> { exchange <x>; routing_key <k>; queue <q>; timeout <d> }`.
func (c *RabbitMQConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) (err error) {
	if c.URL, err = firstArg(d, "rabbitmq", "url"); err != nil {
		return err
	}
	return options(d, &c.ConnectorBase, "rabbitmq", map[string]func([]string) error{
		"exchange": strOpt(&c.Exchange), "routing_key": strOpt(&c.RoutingKey), "queue": strOpt(&c.Queue), "timeout": dur(&c.Timeout),
	})
}

// SyslogConnector writes every event as RFC 5424 syslog (connectors/syslog).
type SyslogConnector struct {
	ConnectorBase
	// Address: udp://host:514, tcp://host:601 or tls://host:6514. Required.
	Address string `json:"address,omitempty"`
	// PEN is the private enterprise number of the SD-ID. Default 32473.
	PEN int `json:"pen,omitempty"`
	// Facility 0..23. Default 10 (authpriv).
	Facility *int `json:"facility,omitempty"`
	// Hostname of the messages. Default: the machine's.
	Hostname string `json:"hostname,omitempty"`
	// CAFile: the CAs of a tls receiver's certificate (default: the system's).
	CAFile string `json:"ca_file,omitempty"`
	// Timeout of a dial and one batch. Default 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	built
}

// CaddyModule returns the Caddy module information.
func (*SyslogConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.syslog", New: func() caddy.Module { return new(SyslogConnector) }}
}

// splitAddress reads network://host:port.
func splitAddress(raw string) (network, hostport string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Path != "" {
		return "", "", fmt.Errorf("address: want <network>://host:port, got %q", raw)
	}
	return u.Scheme, u.Host, nil
}

// Provision checks the config and builds the sink.
func (c *SyslogConnector) Provision(caddy.Context) error {
	enc, wrap, err := prepare(&c.ConnectorBase, "syslog")
	if err != nil {
		return err
	}
	network, addr, err := splitAddress(c.Address)
	if err != nil {
		return wrap(err)
	}
	o := syslog.Options{Network: network, Address: addr, PEN: c.PEN, Facility: c.Facility, Hostname: c.Hostname,
		Encoder: enc, Timeout: time.Duration(c.Timeout)}
	if network == "tls" {
		if o.TLS, err = tlsFromCA(c.CAFile); err != nil {
			return wrap(err)
		}
	}
	s, err := syslog.New(o)
	if err != nil {
		return wrap(err)
	}
	c.sink = s
	return nil
}

// UnmarshalCaddyfile reads `syslog <udp|tcp|tls>://host:port { pen <n>; facility <n>; hostname <h>; ca_file <f>; timeout <d> }`.
func (c *SyslogConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) (err error) {
	if c.Address, err = firstArg(d, "syslog", "address"); err != nil {
		return err
	}
	return options(d, &c.ConnectorBase, "syslog", map[string]func([]string) error{
		"pen": num(&c.PEN), "hostname": strOpt(&c.Hostname), "ca_file": strOpt(&c.CAFile), "timeout": dur(&c.Timeout),
		"facility": func(args []string) error { var n int; err := num(&n)(args); c.Facility = &n; return err },
	})
}

// GELFConnector writes every event as a Graylog GELF message (connectors/gelf).
type GELFConnector struct {
	ConnectorBase
	// Address: udp://host:12201 or tcp://host:12201. Required.
	Address string `json:"address,omitempty"`
	// Host of the messages. Default: the machine's name.
	Host string `json:"host,omitempty"`
	// ChunkSize of UDP datagrams. Default 1420.
	ChunkSize int `json:"chunk_size,omitempty"`
	// Timeout of a dial and one batch. Default 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	built
}

// CaddyModule returns the Caddy module information.
func (*GELFConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.gelf", New: func() caddy.Module { return new(GELFConnector) }}
}

// Provision checks the config and builds the sink.
func (c *GELFConnector) Provision(caddy.Context) error {
	enc, wrap, err := prepare(&c.ConnectorBase, "gelf")
	if err != nil {
		return err
	}
	network, addr, err := splitAddress(c.Address)
	if err != nil {
		return wrap(err)
	}
	s, err := gelf.New(gelf.Options{Network: network, Address: addr, Host: c.Host, ChunkSize: c.ChunkSize, Encoder: enc, Timeout: time.Duration(c.Timeout)})
	if err != nil {
		return wrap(err)
	}
	c.sink = s
	return nil
}

// UnmarshalCaddyfile reads `gelf <udp|tcp>://host:port { host <h>; chunk_size <n>; timeout <d> }`.
func (c *GELFConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) (err error) {
	if c.Address, err = firstArg(d, "gelf", "address"); err != nil {
		return err
	}
	return options(d, &c.ConnectorBase, "gelf", map[string]func([]string) error{
		"host": strOpt(&c.Host), "chunk_size": num(&c.ChunkSize), "timeout": dur(&c.Timeout),
	})
}

// SQLConnector inserts every event into a PostgreSQL or MySQL/MariaDB table
// (connectors/sqlsink).
type SQLConnector struct {
	ConnectorBase
	// Driver: postgres or mysql. Required.
	Driver string `json:"driver,omitempty"`
	// DSN of the database; placeholders are replaced at load. Required.
	DSN string `json:"dsn,omitempty"`
	// Table, created when missing. Default loginguard_events.
	Table string `json:"table,omitempty"`
	built
}

// CaddyModule returns the Caddy module information.
func (*SQLConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.sql", New: func() caddy.Module { return new(SQLConnector) }}
}

// Provision checks the config and builds the sink.
func (c *SQLConnector) Provision(caddy.Context) error {
	enc, wrap, err := prepare(&c.ConnectorBase, "sql")
	if err != nil {
		return err
	}
	s, err := sqlsink.New(sqlsink.Options{Driver: c.Driver, DSN: caddy.NewReplacer().ReplaceAll(c.DSN, ""), Table: c.Table, Encoder: enc})
	if err != nil {
		return wrap(err)
	}
	c.sink = s
	return nil
}

// UnmarshalCaddyfile reads `sql <postgres|mysql> <dsn> { table <name> }`.
func (c *SQLConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "sql"
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Errf("sql: want `sql <postgres|mysql> <dsn>`")
	}
	c.Driver, c.DSN = args[0], args[1]
	return options(d, &c.ConnectorBase, "sql", map[string]func([]string) error{"table": strOpt(&c.Table)})
}

// ElasticsearchConnector indexes every event with the bulk API
// (connectors/elasticsearch). Its default format is ecs.
type ElasticsearchConnector struct {
	ConnectorBase
	// URL of the cluster. Required.
	URL string `json:"url,omitempty"`
	// Index: a data stream, or an index name with {yyyy}, {MM}, {dd}. Required.
	Index string `json:"index,omitempty"`
	// APIKey (base64 id:key) or Username and Password; placeholders are
	// replaced at load.
	APIKey   string `json:"api_key,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// CAFile: the CAs of the cluster's certificate (default: the system's).
	CAFile string `json:"ca_file,omitempty"`
	// Timeout of one bulk request. Default 30s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	built
}

// CaddyModule returns the Caddy module information.
func (*ElasticsearchConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.elasticsearch", New: func() caddy.Module { return new(ElasticsearchConnector) }}
}

// Provision checks the config and builds the sink.
func (c *ElasticsearchConnector) Provision(caddy.Context) error {
	if c.Format == "" {
		c.Format = "ecs"
	}
	enc, wrap, err := prepare(&c.ConnectorBase, "elasticsearch")
	if err != nil {
		return err
	}
	repl := caddy.NewReplacer()
	o := elasticsearch.Options{URL: c.URL, Index: c.Index, APIKey: repl.ReplaceAll(c.APIKey, ""),
		Username: repl.ReplaceAll(c.Username, ""), Password: repl.ReplaceAll(c.Password, ""), Encoder: enc, Timeout: time.Duration(c.Timeout)}
	if c.CAFile != "" {
		cfg, err := tlsFromCA(c.CAFile)
		if err != nil {
			return wrap(err)
		}
		o.Client = newTLSClient(cfg, time.Duration(c.Timeout))
	}
	s, err := elasticsearch.New(o)
	if err != nil {
		return wrap(err)
	}
	c.sink = s
	return nil
}

// UnmarshalCaddyfile reads `elasticsearch <url> { index <i>; api_key <k>; username <u>; password <p>; ca_file <f>; timeout <d> }`.
func (c *ElasticsearchConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) (err error) {
	if c.URL, err = firstArg(d, "elasticsearch", "url"); err != nil {
		return err
	}
	return options(d, &c.ConnectorBase, "elasticsearch", map[string]func([]string) error{
		"index": strOpt(&c.Index), "api_key": strOpt(&c.APIKey), "username": strOpt(&c.Username), "password": strOpt(&c.Password),
		"ca_file": strOpt(&c.CAFile), "timeout": dur(&c.Timeout),
	})
}

// Interface guards.
var (
	_ ConnectorModule       = (*NATSConnector)(nil)
	_ ConnectorModule       = (*RabbitMQConnector)(nil)
	_ ConnectorModule       = (*SyslogConnector)(nil)
	_ ConnectorModule       = (*GELFConnector)(nil)
	_ ConnectorModule       = (*SQLConnector)(nil)
	_ ConnectorModule       = (*ElasticsearchConnector)(nil)
	_ caddy.Provisioner     = (*NATSConnector)(nil)
	_ caddyfile.Unmarshaler = (*NATSConnector)(nil)
	_ caddyfile.Unmarshaler = (*RabbitMQConnector)(nil)
	_ caddyfile.Unmarshaler = (*SyslogConnector)(nil)
	_ caddyfile.Unmarshaler = (*GELFConnector)(nil)
	_ caddyfile.Unmarshaler = (*SQLConnector)(nil)
	_ caddyfile.Unmarshaler = (*ElasticsearchConnector)(nil)
)

// newTLSClient is an HTTP client with its own TLS roots.
func newTLSClient(cfg *tls.Config, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment}}
}
