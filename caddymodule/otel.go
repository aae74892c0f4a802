package caddymodule

import (
	"context"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/telemetry"
)

// Telemetry configures OpenTelemetry export of the app's spans and metrics
// (the `telemetry` block of the loginguard global option). It is on when an
// endpoint is set here or in OTEL_EXPORTER_OTLP_ENDPOINT (or its _TRACES_ /
// _METRICS_ forms), unless Off; the other OTEL_EXPORTER_OTLP_* variables are
// honoured for what is not set here. The export itself is the telemetry
// package's; this is its Caddy configuration.
type Telemetry struct {
	// Off turns export off whatever the environment says.
	// Default: false.
	Off bool `json:"off,omitempty"`
	// Endpoint is the OTLP base URL (http://host:4318, https://…; for grpc
	// host:4317 or a URL). The signal paths /v1/traces and /v1/metrics are added
	// for http.
	// Default: OTEL_EXPORTER_OTLP_ENDPOINT (and its per-signal forms), else off.
	Endpoint string `json:"endpoint,omitempty"`
	// Protocol is "http" (http/protobuf) or "grpc".
	// Default: OTEL_EXPORTER_OTLP_PROTOCOL, else http.
	Protocol string `json:"protocol,omitempty"`
	// Headers are sent with every export (e.g. an API key).
	// Default: OTEL_EXPORTER_OTLP_HEADERS, else none.
	Headers map[string]string `json:"headers,omitempty"`
	// Insecure sends over plain text to an endpoint without a scheme (grpc).
	// Default: false (an http:// endpoint is plain text anyway).
	Insecure bool `json:"insecure,omitempty"`
	// CAFile is a PEM file of the CAs that sign the collector's certificate.
	// Default: the system's roots.
	CAFile string `json:"ca_file,omitempty"`
	// SampleRatio of the traces started here (0..1), parent-based: a request
	// whose parent was sampled is always sampled.
	// Default: 1.
	SampleRatio *float64 `json:"sample_ratio,omitempty"`
	// HashIdentities puts only a hash of the user in spans (user.hash), never
	// the email or username.
	// Default: true.
	HashIdentities *bool `json:"hash_identities,omitempty"`
	// MetricInterval is how often metrics are exported.
	// Default: OTEL_METRIC_EXPORT_INTERVAL, else 60s.
	MetricInterval caddy.Duration `json:"metric_interval,omitempty"`
}

// parseTelemetry reads
//
//	telemetry off
//	telemetry [<endpoint>] {
//	    endpoint        <url>
//	    protocol        http|grpc
//	    header          <name> <value>
//	    insecure
//	    ca_file         <file>
//	    sample_ratio    <0..1>
//	    hash_identities on|off
//	    metric_interval <duration>
//	}
func parseTelemetry(d *caddyfile.Dispenser) (*Telemetry, error) {
	t := new(Telemetry)
	if d.NextArg() {
		if d.Val() == "off" {
			t.Off = true
		} else {
			t.Endpoint = d.Val()
		}
		if d.NextArg() {
			return nil, d.ArgErr()
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		args := d.RemainingArgs()
		one := func() (string, error) {
			if len(args) != 1 {
				return "", d.Errf("telemetry %s: want one value", opt)
			}
			return args[0], nil
		}
		var err error
		switch opt {
		case "endpoint":
			t.Endpoint, err = one()
		case "protocol":
			t.Protocol, err = one()
		case "header":
			if len(args) != 2 {
				return nil, d.Errf("telemetry header: want <name> <value>")
			}
			if t.Headers == nil {
				t.Headers = map[string]string{}
			}
			t.Headers[args[0]] = args[1]
		case "insecure":
			if len(args) != 0 {
				return nil, d.ArgErr()
			}
			t.Insecure = true
		case "ca_file":
			t.CAFile, err = one()
		case "sample_ratio":
			var v string
			if v, err = one(); err == nil {
				f, perr := strconv.ParseFloat(v, 64)
				if perr != nil {
					return nil, d.Errf("telemetry sample_ratio: want a number from 0 to 1, got %q", v)
				}
				t.SampleRatio = &f
			}
		case "hash_identities":
			var v string
			if v, err = one(); err == nil {
				if v != "on" && v != "off" {
					return nil, d.Errf("telemetry hash_identities: want on or off, got %q", v)
				}
				on := v == "on"
				t.HashIdentities = &on
			}
		case "metric_interval":
			var v string
			if v, err = one(); err == nil {
				dur, perr := caddy.ParseDuration(v)
				if perr != nil || dur <= 0 {
					return nil, d.Errf("telemetry metric_interval: want a positive duration, got %q", v)
				}
				t.MetricInterval = caddy.Duration(dur)
			}
		default:
			return nil, d.Errf("telemetry: unknown option %q", opt)
		}
		if err != nil {
			return nil, err
		}
	}
	return t, t.validate()
}

// validate checks what can be checked without the environment.
func (t *Telemetry) validate() error {
	return t.config().Validate()
}

// config is t as the telemetry package reads it (the zero Config, export
// decided by the environment alone, when t is nil).
func (t *Telemetry) config() telemetry.Config {
	if t == nil {
		return telemetry.Config{}
	}
	return telemetry.Config{
		Off:            t.Off,
		Endpoint:       t.Endpoint,
		Protocol:       t.Protocol,
		Headers:        t.Headers,
		Insecure:       t.Insecure,
		CAFile:         t.CAFile,
		SampleRatio:    t.SampleRatio,
		HashIdentities: t.HashIdentities,
		MetricInterval: time.Duration(t.MetricInterval),
	}
}

// newTelemetry builds the exporters of cfg (nil when telemetry is off). stats
// reports the connectors for the connector gauges.
func newTelemetry(ctx context.Context, cfg *Telemetry, stats func() []connectors.Stats) (*telemetry.Telemetry, error) {
	return telemetry.New(ctx, cfg.config(), stats)
}
