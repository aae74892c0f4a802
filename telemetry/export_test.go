package telemetry

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

// collector is an OTLP/HTTP receiver: it decodes what arrives on any path
// ending in /v1/traces or /v1/metrics and keeps it with the path and the
// X-Api-Key header it came with.
type collector struct {
	mu      sync.Mutex
	paths   []string
	keys    []string
	traces  []*coltracepb.ExportTraceServiceRequest
	metrics []*colmetricpb.ExportMetricsServiceRequest
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" || r.Header.Get("Content-Encoding") != "" {
		http.Error(w, "want an uncompressed protobuf body", http.StatusUnsupportedMediaType)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paths = append(c.paths, r.URL.Path)
	c.keys = append(c.keys, r.Header.Get("X-Api-Key"))
	var resp proto.Message
	switch {
	case strings.HasSuffix(r.URL.Path, "/v1/traces"):
		req := new(coltracepb.ExportTraceServiceRequest)
		err, resp = proto.Unmarshal(b, req), &coltracepb.ExportTraceServiceResponse{}
		c.traces = append(c.traces, req)
	case strings.HasSuffix(r.URL.Path, "/v1/metrics"):
		req := new(colmetricpb.ExportMetricsServiceRequest)
		err, resp = proto.Unmarshal(b, req), &colmetricpb.ExportMetricsServiceResponse{}
		c.metrics = append(c.metrics, req)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// attrs are kvs as strings by key.
func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		default:
			m[kv.Key] = kv.Value.String()
		}
	}
	return m
}

// TestTelemetryHTTP: over OTLP/HTTP the spans and metrics go to the
// endpoint's path with /v1/traces and /v1/metrics added, with the configured
// headers, under the service name loginguard; with hash_identities off the
// span names the user; the connector gauges report what stats says.
func TestTelemetryHTTP(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	col := new(collector)
	srv := httptest.NewServer(col)
	defer srv.Close()
	hash := false
	stats := func() []connectors.Stats {
		return []connectors.Stats{{Name: "kafka", Queued: 3, Delivered: 5, Failed: 1, Spooled: 7}}
	}
	tel, err := New(context.Background(), Config{Endpoint: srv.URL + "/otlp/", Headers: map[string]string{"X-Api-Key": "k1"}, HashIdentities: &hash}, stats)
	if err != nil || tel == nil {
		t.Fatalf("New: %v, %v", tel, err)
	}
	_, span := tel.StartSpan(httptest.NewRequest("POST", "/api/login", nil), "loginguard.login")
	tel.EndSpan(span, &event.Event{EventType: event.LoginFailure, Source: event.SourceManager, Principal: event.Str("admin"), Reason: event.BadCredentials}, "admin")
	tel.Lock()
	tel.Shutdown()

	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.traces) == 0 || len(col.metrics) == 0 {
		t.Fatalf("received on %v: %d trace and %d metric exports, want both", col.paths, len(col.traces), len(col.metrics))
	}
	for i, p := range col.paths {
		if (p != "/otlp/v1/traces" && p != "/otlp/v1/metrics") || col.keys[i] != "k1" {
			t.Errorf("export to %s with X-Api-Key %q, want /otlp/v1/... with k1", p, col.keys[i])
		}
	}
	var spans int
	for _, req := range col.traces {
		for _, rs := range req.ResourceSpans {
			if svc := attrs(rs.Resource.Attributes)["service.name"]; svc != "loginguard" {
				t.Errorf("service.name %q, want loginguard", svc)
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spans++
					a := attrs(s.Attributes)
					if s.Name != "loginguard.login" || a["user.name"] != "admin" || a["user.hash"] != "" || a["loginguard.reason"] != "BAD_CREDENTIALS" {
						t.Errorf("span %s %v, want loginguard.login naming the user admin", s.Name, a)
					}
				}
			}
		}
	}
	if spans != 1 {
		t.Errorf("%d spans, want 1", spans)
	}
	got := map[string]int64{}
	for _, req := range col.metrics {
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					var points []interface {
						GetAsInt() int64
						GetAttributes() []*commonpb.KeyValue
					}
					if g := m.GetGauge(); g != nil {
						for _, p := range g.DataPoints {
							points = append(points, p)
						}
					}
					if s := m.GetSum(); s != nil {
						for _, p := range s.DataPoints {
							points = append(points, p)
						}
					}
					for _, p := range points {
						got[m.Name+" "+attrs(p.GetAttributes())["connector"]] = p.GetAsInt()
					}
				}
			}
		}
	}
	for k, v := range map[string]int64{
		"loginguard.connector.queue kafka":     3,
		"loginguard.connector.delivered kafka": 5,
		"loginguard.connector.failed kafka":    1,
		"loginguard.connector.spooled kafka":   7,
		"loginguard.lockouts ":                 1,
	} {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}

// TestTelemetryCAFile: an https collector whose certificate is signed by the
// CA of ca_file receives the spans; a ca_file that is missing or holds no PEM
// certificate is an error naming ca_file.
func TestTelemetryCAFile(t *testing.T) {
	col := new(collector)
	srv := httptest.NewTLSServer(col)
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	tel, err := New(context.Background(), Config{Endpoint: srv.URL, CAFile: ca}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.StartSpan(httptest.NewRequest("POST", "/login", nil), "loginguard.login")
	tel.EndSpan(span, &event.Event{EventType: event.LoginSuccess}, "")
	tel.Shutdown()
	col.mu.Lock()
	if len(col.traces) != 1 {
		t.Errorf("over TLS with ca_file: %d trace exports, want 1", len(col.traces))
	}
	col.mu.Unlock()

	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		filepath.Join(dir, "missing.pem"): "telemetry ca_file: ",
		notPEM:                            "telemetry ca_file " + notPEM + ": no PEM certificate in it",
	} {
		if tel, err := New(context.Background(), Config{Endpoint: srv.URL, CAFile: file}, nil); tel != nil || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ca_file %s: %v, %v; want an error with %q", file, tel, err, want)
		}
	}
}

// TestConfigValidate: a bad protocol, sample ratio or endpoint is refused by
// New with the field named, before anything is built.
func TestConfigValidate(t *testing.T) {
	two := 2.0
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Endpoint: "http://127.0.0.1:1", Protocol: "thrift"}, `telemetry protocol: want http or grpc, got "thrift"`},
		{Config{Endpoint: "http://127.0.0.1:1", SampleRatio: &two}, "telemetry sample_ratio: want a number from 0 to 1, got 2"},
		{Config{Endpoint: "ftp://collector"}, `telemetry endpoint: want http://host:port or https://host:port, got "ftp://collector"`},
		{Config{Endpoint: "http://"}, `telemetry endpoint: want http://host:port or https://host:port, got "http://"`},
	} {
		if tel, err := New(context.Background(), c.cfg, nil); tel != nil || err == nil || err.Error() != c.want {
			t.Errorf("%+v: %v, %v; want %q", c.cfg, tel, err, c.want)
		}
	}
	for _, ok := range []Config{{}, {Protocol: "http/protobuf", Endpoint: "collector:4317"}, {Protocol: "grpc", Endpoint: "https://collector"}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}
