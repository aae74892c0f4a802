// Package telemetry exports loginguard's OpenTelemetry spans and metrics over
// OTLP (http/protobuf or gRPC): a span per login, logout and admin lock or
// unlock, and counters and histograms of attempts, lockouts, rate limits,
// alerts, the portal's and the state store's latency, the login log's write
// lag and each connector's queue and deliveries.
//
// It knows nothing of Caddy: the Caddy module turns its configuration into a
// [Config] and calls [New]. A nil *Telemetry is valid and records nothing, so
// callers keep a nil one when export is off.
package telemetry

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config configures the export. It is on when an endpoint is set here or in
// OTEL_EXPORTER_OTLP_ENDPOINT (or its _TRACES_ / _METRICS_ forms), unless Off;
// the other OTEL_EXPORTER_OTLP_* variables are honoured for what is not set
// here, and OTEL_TRACES_EXPORTER=none or OTEL_METRICS_EXPORTER=none turns that
// one signal's export off. The resource's service.name is "loginguard" unless
// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES names another.
//
// The field names in error messages are those of the configuration the Caddy
// module reads (telemetry endpoint, telemetry sample_ratio, ...).
type Config struct {
	// Off turns export off whatever the environment says.
	// Default: false.
	Off bool
	// Endpoint is the OTLP base URL (http://host:4318, https://…; for grpc
	// host:4317 or a URL). The signal paths /v1/traces and /v1/metrics are
	// added for http.
	// Default: OTEL_EXPORTER_OTLP_ENDPOINT (and its per-signal forms), else off.
	Endpoint string
	// Protocol is "http" (http/protobuf) or "grpc".
	// Default: OTEL_EXPORTER_OTLP_PROTOCOL, else http.
	Protocol string
	// Headers are sent with every export (e.g. an API key).
	// Default: OTEL_EXPORTER_OTLP_HEADERS, else none.
	Headers map[string]string
	// Insecure sends over plain text to an endpoint without a scheme (grpc).
	// Default: false (an http:// endpoint is plain text anyway).
	Insecure bool
	// CAFile is a PEM file of the CAs that sign the collector's certificate.
	// Default: the system's roots.
	CAFile string
	// SampleRatio of the traces started here (0..1), parent-based: a request
	// whose parent was sampled is always sampled.
	// Default: 1.
	SampleRatio *float64
	// HashIdentities puts only a hash of the user in spans (user.hash), never
	// the email or username.
	// Default: true.
	HashIdentities *bool
	// MetricInterval is how often metrics are exported; zero or less takes the
	// default.
	// Default: OTEL_METRIC_EXPORT_INTERVAL, else 60s.
	MetricInterval time.Duration
}

// Validate checks what can be checked without the environment.
func (c Config) Validate() error {
	switch c.Protocol {
	case "", "http", "http/protobuf", "grpc":
	default:
		return fmt.Errorf("telemetry protocol: want http or grpc, got %q", c.Protocol)
	}
	if r := c.SampleRatio; r != nil && (*r < 0 || *r > 1) {
		return fmt.Errorf("telemetry sample_ratio: want a number from 0 to 1, got %v", *r)
	}
	if c.Endpoint != "" && strings.Contains(c.Endpoint, "://") {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("telemetry endpoint: want http://host:port or https://host:port, got %q", c.Endpoint)
		}
	}
	return nil
}

// Enabled reports whether c exports, given the environment.
func (c Config) Enabled() bool {
	if c.Off {
		return false
	}
	if c.Endpoint != "" {
		return true
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	return false
}

// exporterOff reports whether the environment variable v (OTEL_TRACES_EXPORTER,
// OTEL_METRICS_EXPORTER) turns its signal's export off.
func exporterOff(v string) bool {
	return strings.EqualFold(strings.TrimSpace(os.Getenv(v)), "none")
}
