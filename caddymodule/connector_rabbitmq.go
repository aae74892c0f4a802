package caddymodule

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/rabbitmq"
)

func init() {
	caddy.RegisterModule(new(RabbitMQConnector))
}

// RabbitMQConnector publishes every event to RabbitMQ (connectors/rabbitmq),
// persistent and confirmed.
type RabbitMQConnector struct {
	ConnectorBase
	// URL amqp(s)://user:password@host:port/vhost; placeholders are replaced
	// at load time ({env.AMQP_URL}). Required.
	URL string `json:"url,omitempty"`
	// Exchange the events are published to. Default: the default exchange.
	Exchange string `json:"exchange,omitempty"`
	// RoutingKey of every message; required with the default exchange.
	// Default: none.
	RoutingKey string `json:"routing_key,omitempty"`
	// Queue, when set, is declared durable (and bound to Exchange).
	// Default: none.
	Queue string `json:"queue,omitempty"`
	// Timeout of a dial and of one batch's confirms. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*RabbitMQConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.rabbitmq", New: func() caddy.Module { return new(RabbitMQConnector) }}
}

// Provision checks the config.
func (c *RabbitMQConnector) Provision(caddy.Context) error { return c.check("rabbitmq") }

// Build makes the connector; it connects at the first delivery.
func (c *RabbitMQConnector) Build(caddy.Context) (connectors.Connector, error) {
	return c.made(rabbitmq.New(rabbitmq.Options{URL: caddy.NewReplacer().ReplaceAll(c.URL, ""), Exchange: c.Exchange,
		RoutingKey: c.RoutingKey, Queue: c.Queue, Encoder: c.encoder(), Timeout: time.Duration(c.Timeout)}))
}

// UnmarshalCaddyfile reads, after `connector <name>`:
//
//	rabbitmq <url> {
//	    exchange <name>
//	    routing_key <key>
//	    queue <name>
//	    timeout <duration>
//	}
func (c *RabbitMQConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := parseHead(d, "rabbitmq <url>", 1, &c.URL); err != nil {
		return err
	}
	return c.parseBlock(d, "rabbitmq", map[string]option{
		"exchange": text(&c.Exchange), "routing_key": text(&c.RoutingKey), "queue": text(&c.Queue), "timeout": duration(&c.Timeout),
	})
}

// Interface guard.
var _ ConnectorModule = (*RabbitMQConnector)(nil)
