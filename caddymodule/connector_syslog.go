package caddymodule

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/syslog"
)

func init() {
	caddy.RegisterModule(new(SyslogConnector))
}

// SyslogConnector writes every event as an RFC 5424 syslog message
// (connectors/syslog).
type SyslogConnector struct {
	ConnectorBase
	// Address: udp://host:514, tcp://host:601 or tls://host:6514. Required.
	Address string `json:"address,omitempty"`
	// PEN is the private enterprise number of the SD-ID. Default: 32473.
	PEN int `json:"pen,omitempty"`
	// Facility, 0 to 23. Default: 10 (authpriv).
	Facility *int `json:"facility,omitempty"`
	// Hostname of the messages. Default: the machine's.
	Hostname string `json:"hostname,omitempty"`
	// TLS configures a tls:// address. Default: the system's roots.
	TLS *TLSConfig `json:"tls,omitempty"`
	// CAFile is the same as tls.ca. Default: none.
	CAFile string `json:"ca_file,omitempty"`
	// Timeout of a dial and of one batch. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	network, hostport string
}

// CaddyModule returns the Caddy module information.
func (*SyslogConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.syslog", New: func() caddy.Module { return new(SyslogConnector) }}
}

// Provision fills the defaults and checks the config.
func (c *SyslogConnector) Provision(caddy.Context) (err error) {
	if err := c.check("syslog"); err != nil {
		return err
	}
	c.TLS = c.TLS.withCA(c.CAFile)
	c.network, c.hostport, err = splitAddress(c.Address)
	if err != nil {
		return c.errf("%w", err)
	}
	return nil
}

// Build makes the connector; it connects at the first delivery.
func (c *SyslogConnector) Build(caddy.Context) (connectors.Connector, error) {
	o := syslog.Options{Network: c.network, Address: c.hostport, PEN: c.PEN, Facility: c.Facility, Hostname: c.Hostname,
		Encoder: c.encoder(), Timeout: time.Duration(c.Timeout)}
	var err error
	if o.TLS, err = c.TLS.build(); err != nil {
		return nil, c.errf("tls: %w", err)
	}
	return c.made(syslog.New(o))
}

// UnmarshalCaddyfile reads, after `connector <name>`:
//
//	syslog udp|tcp|tls://<host:port> {
//	    pen <number>
//	    facility <0-23>
//	    hostname <name>
//	    tls [{ ca <pem>; cert <pem>; key <pem>; server_name <name> }]
//	    ca_file <pem>
//	    timeout <duration>
//	}
func (c *SyslogConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := parseHead(d, "syslog <udp|tcp|tls>://<host:port>", 1, &c.Address); err != nil {
		return err
	}
	return c.parseBlock(d, "syslog", map[string]option{
		"pen": integer(&c.PEN), "facility": integerRef(&c.Facility), "hostname": text(&c.Hostname),
		"tls": tlsBlock(&c.TLS), "ca_file": text(&c.CAFile), "timeout": duration(&c.Timeout),
	})
}

// Interface guard.
var _ ConnectorModule = (*SyslogConnector)(nil)
