package caddymodule

import (
	"fmt"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors/format"
)

// ConnectorBase holds the options every connector module shares; a module embeds
// it, calls parseBase for each block option it does not know itself, and resolves
// the encoder in Provision with encoder.
type ConnectorBase struct {
	// Name of the connector in logs, metrics, statistics and its spool's
	// directory; unique among the connectors. Required (the Caddyfile's
	// `connector <name> <type>` sets it).
	Name string `json:"name,omitempty"`
	// Spool configures the connector's durable queue on local disk. Default:
	// on, under Caddy's data directory, 1 GiB, 24h.
	Spool *SpoolConfig `json:"spool,omitempty"`
	// Active is false for a connector that is configured but sends nothing
	// (the connector settings' Inactive). Default: true.
	Active *bool `json:"active,omitempty"`
	// Format of the payload: json (the connector event, default), ecs or ocsf.
	Format string `json:"format,omitempty"`
}

// connectorBase lets the app read the shared options of any connector module.
type connectorBase interface{ base() *ConnectorBase }

func (c *ConnectorBase) base() *ConnectorBase { return c }

// IsActive reports whether the connector sends events.
func (c *ConnectorBase) IsActive() bool { return c.Active == nil || *c.Active }

// encoder returns the payload encoder of c.Format; errors name the field.
func (c *ConnectorBase) encoder(module string) (format.Encoder, error) {
	enc, err := format.Lookup(c.Format)
	if err != nil {
		return nil, fmt.Errorf("%s: format: %w", module, err)
	}
	return enc, nil
}

// parseBase consumes the shared block options at the dispenser's current token:
//
//	active on|off
//	format json|ecs|ocsf
//
// It reports whether the token was one of them.
func (c *ConnectorBase) parseBase(d *caddyfile.Dispenser) (bool, error) {
	switch d.Val() {
	case "active":
		if !d.NextArg() {
			return true, d.ArgErr()
		}
		var on bool
		switch d.Val() {
		case "on":
			on = true
		case "off":
		case "if":
			// `active if {$VAR}`: on when the value is there (an unset
			// environment variable leaves no token).
			on = d.NextArg() && d.Val() != ""
		default:
			return true, d.Errf("active: want on, off or `if <value>`, got %q", d.Val())
		}
		c.Active = &on
		if d.NextArg() {
			return true, d.ArgErr()
		}
		return true, nil
	case "spool":
		if c.Spool == nil {
			c.Spool = new(SpoolConfig)
		}
		return true, c.Spool.unmarshal(d)
	case "format":
		if !d.NextArg() {
			return true, d.ArgErr()
		}
		c.Format = d.Val()
		if _, err := format.Lookup(c.Format); err != nil {
			return true, d.Errf("format: %v", err)
		}
		if d.NextArg() {
			return true, d.ArgErr()
		}
		return true, nil
	}
	return false, nil
}
