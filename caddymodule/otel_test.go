package caddymodule

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/telemetry"
)

// TestTelemetryConfig: every option of the telemetry block, read from the
// Caddyfile or from its JSON, reaches the telemetry package's Config as
// written; no block is the zero Config.
func TestTelemetryConfig(t *testing.T) {
	d := caddyfile.NewTestDispenser(`telemetry {
		endpoint        https://otel.example.com:4318/otlp
		protocol        grpc
		header          X-Api-Key secret
		insecure
		ca_file         /etc/ssl/otel-ca.pem
		sample_ratio    0.25
		hash_identities off
		metric_interval 15s
	}`)
	d.Next()
	parsed, err := parseTelemetry(d)
	if err != nil {
		t.Fatal(err)
	}
	ratio, hash := 0.25, false
	want := telemetry.Config{
		Endpoint:       "https://otel.example.com:4318/otlp",
		Protocol:       "grpc",
		Headers:        map[string]string{"X-Api-Key": "secret"},
		Insecure:       true,
		CAFile:         "/etc/ssl/otel-ca.pem",
		SampleRatio:    &ratio,
		HashIdentities: &hash,
		MetricInterval: 15 * time.Second,
	}
	if got := parsed.config(); !reflect.DeepEqual(got, want) {
		t.Errorf("from the Caddyfile: %+v, want %+v", got, want)
	}
	js, err := json.Marshal(parsed)
	if err != nil {
		t.Fatal(err)
	}
	var loaded Telemetry
	if err := json.Unmarshal(js, &loaded); err != nil {
		t.Fatal(err)
	}
	if got := loaded.config(); !reflect.DeepEqual(got, want) {
		t.Errorf("from JSON %s: %+v, want %+v", js, got, want)
	}

	// Every field of the Caddy configuration has its own in Config, and the
	// test above sets every one of them but Off (checked next).
	ct, tt := reflect.TypeFor[Telemetry](), reflect.TypeFor[telemetry.Config]()
	if ct.NumField() != tt.NumField() {
		t.Errorf("Telemetry has %d fields, telemetry.Config %d", ct.NumField(), tt.NumField())
	}
	d = caddyfile.NewTestDispenser("telemetry off")
	d.Next()
	if off, err := parseTelemetry(d); err != nil || !off.config().Off {
		t.Errorf("telemetry off: %+v, %v; want Off", off, err)
	}
	if got := (*Telemetry)(nil).config(); !reflect.DeepEqual(got, telemetry.Config{}) {
		t.Errorf("no telemetry block: %+v, want the zero Config", got)
	}
}

// TestTelemetryOffByDefault: without a telemetry block, an endpoint in the
// environment, or with `telemetry off`, the app keeps a nil telemetry (every
// call site relies on its methods doing nothing on nil).
func TestTelemetryOffByDefault(t *testing.T) {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"} {
		t.Setenv(v, "")
	}
	for _, cfg := range []*Telemetry{nil, {}, {Off: true, Endpoint: "http://127.0.0.1:1"}} {
		if tel, err := newTelemetry(context.Background(), cfg, nil); tel != nil || err != nil {
			t.Errorf("%+v: %v, %v; want nil", cfg, tel, err)
		}
	}
}
