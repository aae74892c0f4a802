package caddymodule

import (
	"cmp"
	"log/slog"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/logsink"
)

func init() {
	caddy.RegisterModule(new(LogConnector))
}

// LogConnector writes every event to Caddy's log as one structured entry
// (connectors/logsink). Its spool is off unless configured.
type LogConnector struct {
	ConnectorBase
	// Level of the entries: debug, info, warn or error. Default: info.
	Level string `json:"level,omitempty"`

	level  slog.Level
	logger *slog.Logger
}

// CaddyModule returns the Caddy module information.
func (*LogConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.log", New: func() caddy.Module { return new(LogConnector) }}
}

// Provision fills the defaults and checks the config.
func (c *LogConnector) Provision(ctx caddy.Context) error {
	c.Spool = cmp.Or(c.Spool, &SpoolConfig{Off: true}) // local: no spool unless asked
	if err := c.check("log"); err != nil {
		return err
	}
	if c.Level == "" {
		c.Level = "info"
	}
	if err := c.level.UnmarshalText([]byte(c.Level)); err != nil {
		return c.errf("level: want debug, info, warn or error, got %q", c.Level)
	}
	if c.Format != "" && c.Format != "json" {
		return c.errf("format: the log connector logs the connector event's fields; want json, got %q", c.Format)
	}
	c.logger = ctx.Slogger()
	return nil
}

// Build returns the connector.
func (c *LogConnector) Build(caddy.Context) (connectors.Connector, error) {
	return logsink.New(c.logger, c.level), nil
}

// UnmarshalCaddyfile reads, after `connector <name>`, `log [<level>]`.
func (c *LogConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := parseHead(d, "log [<level>]", 0, &c.Level); err != nil {
		return err
	}
	return c.parseBlock(d, "log", map[string]option{})
}

// Interface guard.
var _ ConnectorModule = (*LogConnector)(nil)
