package caddymodule

import (
	"cmp"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/file"
)

func init() {
	caddy.RegisterModule(new(FileConnector))
}

// FileConnector appends every event to a file as one line of the connector
// event's JSON (connectors/file). The file is local, so its spool is off
// unless configured.
type FileConnector struct {
	ConnectorBase
	// Path of the file (mode 0600); missing directories are created.
	// Required.
	Path string `json:"path"`
	// Fsync syncs the file after every batch. Default: off.
	Fsync bool `json:"fsync,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*FileConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.file", New: func() caddy.Module { return new(FileConnector) }}
}

// Provision fills the defaults and checks the config.
func (c *FileConnector) Provision(caddy.Context) error {
	c.Spool = cmp.Or(c.Spool, &SpoolConfig{Off: true}) // local: no spool unless asked
	if err := c.check("file"); err != nil {
		return err
	}
	if strings.TrimSpace(c.Path) == "" {
		return c.errf("path: required")
	}
	if c.Format != "" && c.Format != "json" {
		return c.errf("format: the file connector writes the connector event's JSON; want json, got %q", c.Format)
	}
	return nil
}

// Build opens the file.
func (c *FileConnector) Build(caddy.Context) (connectors.Connector, error) {
	return c.made(file.New(file.Options{Path: c.Path, Mode: 0o600, Fsync: c.Fsync}))
}

// UnmarshalCaddyfile reads, after `connector <name>`:
//
//	file <path> {
//	    fsync
//	}
func (c *FileConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := parseHead(d, "file <path>", 1, &c.Path); err != nil {
		return err
	}
	return c.parseBlock(d, "file", map[string]option{"fsync": set(&c.Fsync)})
}

// Interface guard.
var _ ConnectorModule = (*FileConnector)(nil)
