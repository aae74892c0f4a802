package caddymodule

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors/kafka"
	"github.com/loginguard/loginguard/event"
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
	TLS *KafkaTLS `json:"tls,omitempty"`
	// SASL authenticates to the brokers. Default: none.
	SASL *KafkaSASL `json:"sasl,omitempty"`
	// BatchTimeout is the producer's wait to fill a message set. Default: 5ms.
	BatchTimeout caddy.Duration `json:"batch_timeout,omitempty"`
	// WriteTimeout bounds one write to a broker. Default: 10s.
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`

	sink *kafka.Sink
}

// KafkaTLS is the TLS client configuration for the brokers.
type KafkaTLS struct {
	// CA is a PEM file of the authorities to trust. Default: the system's.
	CA string `json:"ca,omitempty"`
	// Cert and Key are PEM files of a client certificate. Default: none.
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
	// ServerName overrides the name checked in the brokers' certificates.
	// Default: the broker's host.
	ServerName string `json:"server_name,omitempty"`
	// InsecureSkipVerify accepts any broker certificate (tests only).
	// Default: false.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
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
	return caddy.ModuleInfo{
		ID:  "loginguard.connectors.kafka",
		New: func() caddy.Module { return new(KafkaConnector) },
	}
}

// Provision checks the config and builds the producer; it does not connect, so
// brokers that are down at start-up do not stop Caddy (deliveries are retried
// from the spool).
func (k *KafkaConnector) Provision(caddy.Context) error {
	if err := k.checkBase("kafka"); err != nil {
		return err
	}
	where := "connector " + k.Name + " (kafka)"
	enc, err := k.encoder(where)
	if err != nil {
		return err
	}
	if len(k.Brokers) == 0 {
		return fmt.Errorf("%s: brokers: required", where)
	}
	if strings.TrimSpace(k.Topic) == "" {
		return fmt.Errorf("%s: topic: required", where)
	}
	if _, err := kafka.ParseCompression(k.Compression); err != nil {
		return fmt.Errorf("%s: compression: %w", where, err)
	}
	o := kafka.Options{Brokers: k.Brokers, Topic: k.Topic, Encoder: enc, Compression: k.Compression,
		BatchTimeout: time.Duration(k.BatchTimeout), WriteTimeout: time.Duration(k.WriteTimeout)}
	if k.TLS != nil {
		cfg, err := k.TLS.config()
		if err != nil {
			return fmt.Errorf("%s: tls: %w", where, err)
		}
		o.TLS = cfg
	}
	if k.SASL != nil {
		repl := caddy.NewReplacer()
		if k.SASL.Username == "" {
			return fmt.Errorf("%s: sasl username: required", where)
		}
		m, err := kafka.NewSASL(k.SASL.Mechanism, repl.ReplaceAll(k.SASL.Username, ""), repl.ReplaceAll(k.SASL.Password, ""))
		if err != nil {
			return fmt.Errorf("%s: sasl: %w", where, err)
		}
		o.SASL = m
	}
	s, err := kafka.New(o)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	k.sink = s
	return nil
}

func (t *KafkaTLS) config() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca: no PEM certificate in %s", t.CA)
		}
		cfg.RootCAs = pool
	}
	if (t.Cert == "") != (t.Key == "") {
		return nil, fmt.Errorf("cert and key: give both or neither")
	}
	if t.Cert != "" {
		c, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("cert: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// Deliver implements connectors.Connector.
func (k *KafkaConnector) Deliver(ctx context.Context, batch []event.Event) error {
	if k.sink == nil {
		return errNoConnector
	}
	return k.sink.Deliver(ctx, batch)
}

// Close implements connectors.Connector.
func (k *KafkaConnector) Close() error {
	if k.sink == nil {
		return nil
	}
	return k.sink.Close()
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
//	    active on|off
//	    format json|ecs|ocsf
//	    spool off | spool { dir <path>; max_bytes <size>; max_age <duration> }
//	}
func (k *KafkaConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "kafka"
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if ok, err := k.parseBase(d); ok {
			if err != nil {
				return err
			}
			continue
		}
		switch opt := d.Val(); opt {
		case "brokers":
			k.Brokers = append(k.Brokers, d.RemainingArgs()...)
			if len(k.Brokers) == 0 {
				return d.Errf("kafka brokers: want host:port...")
			}
		case "topic":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			k.Topic = v
		case "compression":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			if _, err := kafka.ParseCompression(v); err != nil {
				return d.Errf("kafka compression: %v", err)
			}
			k.Compression = v
		case "batch_timeout", "write_timeout":
			v, err := durationArg(d)
			if err != nil {
				return err
			}
			if opt == "batch_timeout" {
				k.BatchTimeout = v
			} else {
				k.WriteTimeout = v
			}
		case "sasl":
			args := d.RemainingArgs()
			if len(args) != 3 {
				return d.Errf("kafka sasl: want <mechanism> <username> <password>")
			}
			k.SASL = &KafkaSASL{Mechanism: args[0], Username: args[1], Password: args[2]}
			if _, err := kafka.NewSASL(args[0], "u", "p"); err != nil {
				return d.Errf("kafka sasl: %v", err)
			}
		case "tls":
			k.TLS = new(KafkaTLS)
			if d.NextArg() {
				return d.ArgErr()
			}
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				switch d.Val() {
				case "insecure_skip_verify":
					if d.NextArg() {
						return d.ArgErr()
					}
					k.TLS.InsecureSkipVerify = true
				case "ca", "cert", "key", "server_name":
					name := d.Val()
					v, err := oneArg(d)
					if err != nil {
						return err
					}
					switch name {
					case "ca":
						k.TLS.CA = v
					case "cert":
						k.TLS.Cert = v
					case "key":
						k.TLS.Key = v
					default:
						k.TLS.ServerName = v
					}
				default:
					return d.Errf("kafka tls: unknown option %q", d.Val())
				}
			}
		default:
			return d.Errf("kafka: unknown option %q", opt)
		}
	}
	return nil
}

// Interface guards.
var (
	_ ConnectorModule       = (*KafkaConnector)(nil)
	_ caddy.Provisioner     = (*KafkaConnector)(nil)
	_ caddyfile.Unmarshaler = (*KafkaConnector)(nil)
)
