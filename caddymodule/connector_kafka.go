package caddymodule

import (
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/kafka"
)

func init() {
	caddy.RegisterModule(new(KafkaConnector))
}

// KafkaConnector writes every event to a Kafka topic (connectors/kafka): one
// message per event, keyed by principal, with an event-id header; acks=all.
type KafkaConnector struct {
	ConnectorBase
	// Brokers are the bootstrap brokers, host:port. Required.
	Brokers []string `json:"brokers,omitempty"`
	// Topic the events go to. Required.
	Topic string `json:"topic,omitempty"`
	// Compression: none, gzip, snappy, lz4 or zstd. Default: none.
	Compression string `json:"compression,omitempty"`
	// TLS connects to the brokers over TLS. Default: plaintext.
	TLS *TLSConfig `json:"tls,omitempty"`
	// SASL authenticates to the brokers. Default: none.
	SASL *KafkaSASL `json:"sasl,omitempty"`
	// BatchTimeout is the producer's wait to fill a message set. Default: 5ms.
	BatchTimeout caddy.Duration `json:"batch_timeout,omitempty"`
	// WriteTimeout bounds one write to a broker. Default: 10s.
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`
}

// KafkaSASL is the SASL login to the brokers.
type KafkaSASL struct {
	// Mechanism: plain, scram-sha-256 or scram-sha-512. Required.
	Mechanism string `json:"mechanism,omitempty"`
	// Username. Required.
	Username string `json:"username,omitempty"`
	// Password; placeholders such as {env.KAFKA_PASSWORD} are replaced at
	// load time. Required.
	Password string `json:"password,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*KafkaConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.kafka", New: func() caddy.Module { return new(KafkaConnector) }}
}

// Provision checks the config.
func (c *KafkaConnector) Provision(caddy.Context) error {
	if err := c.check("kafka"); err != nil {
		return err
	}
	switch {
	case len(c.Brokers) == 0:
		return c.errf("brokers: required")
	case strings.TrimSpace(c.Topic) == "":
		return c.errf("topic: required")
	case c.SASL != nil && c.SASL.Username == "":
		return c.errf("sasl username: required")
	}
	if _, err := kafka.ParseCompression(c.Compression); err != nil {
		return c.errf("compression: %w", err)
	}
	if c.SASL != nil {
		if _, err := kafka.NewSASL(c.SASL.Mechanism, "u", "p"); err != nil {
			return c.errf("sasl: %w", err)
		}
	}
	return nil
}

// Build makes the producer; it connects at the first delivery.
func (c *KafkaConnector) Build(caddy.Context) (connectors.Connector, error) {
	o := kafka.Options{Brokers: c.Brokers, Topic: c.Topic, Encoder: c.encoder(), Compression: c.Compression,
		BatchTimeout: time.Duration(c.BatchTimeout), WriteTimeout: time.Duration(c.WriteTimeout)}
	var err error
	if o.TLS, err = c.TLS.build(); err != nil {
		return nil, c.errf("tls: %w", err)
	}
	if c.SASL != nil {
		repl := caddy.NewReplacer()
		if o.SASL, err = kafka.NewSASL(c.SASL.Mechanism, repl.ReplaceAll(c.SASL.Username, ""), repl.ReplaceAll(c.SASL.Password, "")); err != nil {
			return nil, c.errf("sasl: %w", err)
		}
	}
	return c.made(kafka.New(o))
}

// UnmarshalCaddyfile reads, after `connector <name>`:
//
//	kafka {
//	    brokers <host:port>...
//	    topic <topic>
//	    compression none|gzip|snappy|lz4|zstd
//	    tls [{ ca <pem>; cert <pem>; key <pem>; server_name <name>; insecure_skip_verify }]
//	    sasl plain|scram-sha-256|scram-sha-512 <username> <password>
//	    batch_timeout <duration>
//	    write_timeout <duration>
//	}
func (c *KafkaConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := parseHead(d, "kafka", 0); err != nil {
		return err
	}
	return c.parseBlock(d, "kafka", map[string]option{
		"brokers": texts(&c.Brokers), "topic": text(&c.Topic), "compression": text(&c.Compression), "tls": tlsBlock(&c.TLS),
		"batch_timeout": duration(&c.BatchTimeout), "write_timeout": duration(&c.WriteTimeout),
		"sasl": func(d *caddyfile.Dispenser) error {
			args := d.RemainingArgs()
			if len(args) != 3 {
				return d.Errf("sasl: want <mechanism> <username> <password>")
			}
			c.SASL = &KafkaSASL{Mechanism: args[0], Username: args[1], Password: args[2]}
			return nil
		},
	})
}

// Interface guard.
var _ ConnectorModule = (*KafkaConnector)(nil)
