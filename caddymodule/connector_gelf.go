package caddymodule

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/gelf"
)

func init() {
	caddy.RegisterModule(new(GELFConnector))
}

// GELFConnector writes every event as a Graylog GELF message (connectors/gelf).
type GELFConnector struct {
	ConnectorBase
	// Address: udp://host:12201 or tcp://host:12201. Required.
	Address string `json:"address,omitempty"`
	// Host of the messages. Default: the machine's name.
	Host string `json:"host,omitempty"`
	// ChunkSize is the largest UDP datagram, 100 to 65000. Default: 1420.
	ChunkSize int `json:"chunk_size,omitempty"`
	// Timeout of a dial and of one batch. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	network, hostport string
}

// CaddyModule returns the Caddy module information.
func (*GELFConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.gelf", New: func() caddy.Module { return new(GELFConnector) }}
}

// Provision checks the config.
func (c *GELFConnector) Provision(caddy.Context) (err error) {
	if err := c.check("gelf"); err != nil {
		return err
	}
	if c.network, c.hostport, err = splitAddress(c.Address); err != nil {
		return c.errf("%w", err)
	}
	return nil
}

// Build makes the connector; it connects at the first delivery.
func (c *GELFConnector) Build(caddy.Context) (connectors.Connector, error) {
	return c.made(gelf.New(gelf.Options{Network: c.network, Address: c.hostport, Host: c.Host, ChunkSize: c.ChunkSize,
		Encoder: c.encoder(), Timeout: time.Duration(c.Timeout)}))
}

// UnmarshalCaddyfile reads, after `connector <name>`:
//
//	gelf udp|tcp://<host:port> {
//	    host <name>
//	    chunk_size <bytes>
//	    timeout <duration>
//	}
func (c *GELFConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := parseHead(d, "gelf <udp|tcp>://<host:port>", 1, &c.Address); err != nil {
		return err
	}
	return c.parseBlock(d, "gelf", map[string]option{
		"host": text(&c.Host), "chunk_size": integer(&c.ChunkSize), "timeout": duration(&c.Timeout),
	})
}

// Interface guard.
var _ ConnectorModule = (*GELFConnector)(nil)
