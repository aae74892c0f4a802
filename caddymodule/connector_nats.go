package caddymodule

import (
	"os"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	natsgo "github.com/nats-io/nats.go"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/nats"
)

func init() {
	caddy.RegisterModule(new(NATSConnector))
}

// NATSConnector publishes every event to NATS JetStream (connectors/nats).
type NATSConnector struct {
	ConnectorBase
	// URL of the servers (nats://host:4222, comma-separated); placeholders
	// are replaced at load time. Required.
	URL string `json:"url,omitempty"`
	// Subject the events are published on. Required.
	Subject string `json:"subject,omitempty"`
	// Stream, when set, is created or updated to capture Subject.
	// Default: none (a stream must capture Subject).
	Stream string `json:"stream,omitempty"`
	// CredsFile is a NATS credentials file (JWT and NKey). Default: none.
	CredsFile string `json:"creds_file,omitempty"`
	// Timeout of the connection and of one batch's acknowledgements.
	// Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*NATSConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.nats", New: func() caddy.Module { return new(NATSConnector) }}
}

// Provision checks the config.
func (c *NATSConnector) Provision(caddy.Context) error {
	if err := c.check("nats"); err != nil {
		return err
	}
	if c.CredsFile != "" {
		if _, err := os.Stat(c.CredsFile); err != nil {
			return c.errf("creds_file: %w", err)
		}
	}
	return nil
}

// Build makes the connector; it connects at the first delivery.
func (c *NATSConnector) Build(caddy.Context) (connectors.Connector, error) {
	var opts []natsgo.Option
	if c.CredsFile != "" {
		opts = append(opts, natsgo.UserCredentials(c.CredsFile))
	}
	return c.made(nats.New(nats.Options{URL: caddy.NewReplacer().ReplaceAll(c.URL, ""), Subject: c.Subject, Stream: c.Stream,
		Encoder: c.encoder(), Options: opts, Timeout: time.Duration(c.Timeout)}))
}

// UnmarshalCaddyfile reads, after `connector <name>`:
//
//	nats <url> {
//	    subject <subject>
//	    stream <name>
//	    creds_file <file>
//	    timeout <duration>
//	}
func (c *NATSConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := parseHead(d, "nats <url>", 1, &c.URL); err != nil {
		return err
	}
	return c.parseBlock(d, "nats", map[string]option{
		"subject": text(&c.Subject), "stream": text(&c.Stream), "creds_file": text(&c.CredsFile), "timeout": duration(&c.Timeout),
	})
}

// Interface guard.
var _ ConnectorModule = (*NATSConnector)(nil)
