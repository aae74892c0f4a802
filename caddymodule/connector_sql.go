package caddymodule

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/sqlsink"
)

func init() {
	caddy.RegisterModule(new(SQLConnector))
}

// SQLConnector inserts every event into a PostgreSQL or MySQL/MariaDB table
// (connectors/sqlsink).
type SQLConnector struct {
	ConnectorBase
	// Driver: postgres or mysql. Required.
	Driver string `json:"driver,omitempty"`
	// DSN of the database; placeholders are replaced at load time. Required.
	DSN string `json:"dsn,omitempty"`
	// Table, created when missing. Default: loginguard_events.
	Table string `json:"table,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*SQLConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.sql", New: func() caddy.Module { return new(SQLConnector) }}
}

// Provision checks the config.
func (c *SQLConnector) Provision(caddy.Context) error { return c.check("sql") }

// Build makes the connector; it connects at the first delivery.
func (c *SQLConnector) Build(caddy.Context) (connectors.Connector, error) {
	return c.made(sqlsink.New(sqlsink.Options{Driver: c.Driver, DSN: caddy.NewReplacer().ReplaceAll(c.DSN, ""), Table: c.Table, Encoder: c.encoder()}))
}

// UnmarshalCaddyfile reads, after `connector <name>`:
//
//	sql postgres|mysql <dsn> {
//	    table <name>
//	}
func (c *SQLConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := parseHead(d, "sql <postgres|mysql> <dsn>", 2, &c.Driver, &c.DSN); err != nil {
		return err
	}
	return c.parseBlock(d, "sql", map[string]option{"table": text(&c.Table)})
}

// Interface guard.
var _ ConnectorModule = (*SQLConnector)(nil)
