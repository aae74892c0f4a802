package telemetry

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/event"
)

// TestSpanIdentity: the user is a hash by default and the email or username
// with hash_identities off; the span is propagated to the portal.
func TestSpanIdentity(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	for _, hash := range []bool{true, false} {
		tel := &Telemetry{tracer: tp.Tracer("test"), hash: hash}
		in := httptest.NewRequest("POST", "/login", nil)
		in.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		r, span := tel.StartSpan(in, "loginguard.login")
		if got := span.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Fatalf("without Caddy's span the gateway's continues the client's trace; got %s", got)
		}
		if tp := r.Header.Get("Traceparent"); !strings.Contains(tp, span.SpanContext().SpanID().String()) {
			t.Fatalf("the portal's traceparent %q is not the gateway span's", tp)
		}
		ev := event.Event{EventType: event.LoginFailure, Source: event.SourcePortal, Email: event.Str("a@x.com"), Reason: event.BadCredentials}
		tel.EndSpan(span, &ev, "a@x.com")
		ended := rec.Ended()
		got := map[string]string{}
		for _, kv := range ended[len(ended)-1].Attributes() {
			got[string(kv.Key)] = kv.Value.String()
		}
		if hash && (len(got["user.hash"]) != 32 || got["user.email"] != "") {
			t.Errorf("hashed: %v", got)
		}
		if !hash && (got["user.email"] != "a@x.com" || got["user.hash"] != "") {
			t.Errorf("not hashed: %v", got)
		}
	}
}

// TestSpanKindAndStatus: the gateway's span is a server span of its own only
// when Caddy's tracing is off, internal inside Caddy's; an attempt the portal
// failed (UPSTREAM_ERROR) has an error status, a wrong password does not.
func TestSpanKindAndStatus(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tel := &Telemetry{tracer: tp.Tracer("test"), hash: true}
	caddySpanCtx, caddySpan := tp.Tracer("caddy").Start(context.Background(), "caddy.request", trace.WithSpanKind(trace.SpanKindServer))
	for _, c := range []struct {
		name   string
		ctx    context.Context
		reason event.Reason
		kind   trace.SpanKind
		status codes.Code
	}{
		{"alone, wrong password", context.Background(), event.BadCredentials, trace.SpanKindServer, codes.Unset},
		{"in Caddy's span, wrong password", caddySpanCtx, event.BadCredentials, trace.SpanKindInternal, codes.Unset},
		{"in Caddy's span, portal down", caddySpanCtx, event.UpstreamError, trace.SpanKindInternal, codes.Error},
	} {
		_, span := tel.StartSpan(httptest.NewRequest("POST", "/login", nil).WithContext(c.ctx), "loginguard.login")
		ev := event.Event{EventType: event.LoginFailure, Source: event.SourcePortal, Reason: c.reason}
		tel.EndSpan(span, &ev, "")
		ended := rec.Ended()
		got := ended[len(ended)-1]
		if got.SpanKind() != c.kind || got.Status().Code != c.status {
			t.Errorf("%s: kind %v status %v, want %v %v", c.name, got.SpanKind(), got.Status().Code, c.kind, c.status)
		}
	}
	caddySpan.End()
}

// TestAccountActionContinuesTrace: an admin's lock is a span of the caller's
// trace (its traceparent) when Caddy's tracing is off, and the event carries
// that trace.
func TestAccountActionContinuesTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tel := &Telemetry{tracer: tp.Tracer("test"), hash: true}
	ctx := admin.WithActor(context.Background(), admin.Actor{Name: "ops", TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	ev := event.Event{EventType: event.AccountLocked, Email: event.Str("a@x.com")}
	tel.AccountAction(ctx, "loginguard.lock", "loginguard.account_locked", &ev)
	ended := rec.Ended()
	if len(ended) != 1 || ended[0].Parent().SpanID().String() != "00f067aa0ba902b7" || ev.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("span %v parent %v, event trace %q; want the caller's trace", ended, ended[0].Parent(), ev.TraceID)
	}
}

// traceCollector is an OTLP/gRPC trace collector that counts spans by name.
type traceCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
}

func (c *traceCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.names = append(c.names, s.Name)
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// TestTelemetryGRPC: protocol grpc exports the spans to an OTLP/gRPC
// collector; shutdown flushes them.
func TestTelemetryGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	col := new(traceCollector)
	coltracepb.RegisterTraceServiceServer(srv, col)
	go srv.Serve(ln)
	defer srv.Stop()

	tel, err := New(context.Background(), Config{Endpoint: ln.Addr().String(), Protocol: "grpc", Insecure: true}, nil)
	if err != nil || tel == nil {
		t.Fatalf("New: %v, %v", tel, err)
	}
	_, span := tel.StartSpan(httptest.NewRequest("POST", "/login", nil), "loginguard.login")
	ev := event.Event{EventType: event.LoginSuccess, Source: event.SourceManager, Principal: event.Str("admin")}
	tel.EndSpan(span, &ev, "admin")
	tel.Shutdown()
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.names) != 1 || col.names[0] != "loginguard.login" {
		t.Fatalf("collector received %v", col.names)
	}
}

// TestTelemetryOff: no endpoint and no OTEL_EXPORTER_OTLP_ENDPOINT, or off:
// nothing is built, and a nil telemetry records nothing without failing.
func TestTelemetryOff(t *testing.T) {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"} {
		t.Setenv(v, "")
	}
	for _, cfg := range []Config{{}, {Off: true, Endpoint: "http://127.0.0.1:1"}} {
		tel, err := New(context.Background(), cfg, nil)
		if tel != nil || err != nil {
			t.Fatalf("%+v: %v, %v", cfg, tel, err)
		}
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	if !(Config{}).Enabled() {
		t.Fatal("OTEL_EXPORTER_OTLP_ENDPOINT set: want telemetry on")
	}
	var tel *Telemetry
	r, span := tel.StartSpan(httptest.NewRequest("POST", "/login", nil), "x")
	tel.EndSpan(span, &event.Event{}, "")
	tel.Attempt(event.SourcePortal, true, "")
	tel.Lock()
	tel.RateLimit()
	tel.UpstreamTook(time.Millisecond)
	tel.StateTook("admit", time.Millisecond)
	tel.StoreLag(1)
	tel.Alert("ip_failures")
	ev := event.Event{EventType: event.AccountLocked, Email: event.Str("a@x.com")}
	tel.AccountAction(context.Background(), "loginguard.lock", "loginguard.account_locked", &ev)
	tel.Shutdown()
	if ev.TraceID != "" {
		t.Fatal("telemetry off gave the event a trace id")
	}
	if r.Header.Get("Traceparent") != "" {
		t.Fatal("telemetry off added a traceparent")
	}
}

// TestMetricAttributeSets: each attempt is counted under its own source,
// outcome and reason, and each state operation under its op, whatever order
// the cached attribute sets were built in.
func TestMetricAttributeSets(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	tel := new(Telemetry)
	if err := tel.instruments(mp.Meter("test"), nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		tel.Attempt(event.SourcePortal, true, "")
		tel.Attempt(event.SourcePortal, false, event.BadCredentials)
		tel.Attempt(event.SourceManager, false, event.BadCredentials)
		tel.StateTook("admit", time.Millisecond)
	}
	tel.Attempt(event.SourcePortal, false, event.Locked)
	tel.StateTook("finish", time.Millisecond)
	tel.Alert("ip_failures")

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					got[m.Name+" "+attrString(p.Attributes)] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					got[m.Name+" "+attrString(p.Attributes)] += int64(p.Count)
				}
			}
		}
	}
	want := map[string]int64{
		"loginguard.login.attempts outcome=success,reason=,source=API_PORTAL":                 3,
		"loginguard.login.attempts outcome=failure,reason=BAD_CREDENTIALS,source=API_PORTAL":  3,
		"loginguard.login.attempts outcome=failure,reason=BAD_CREDENTIALS,source=API_MANAGER": 3,
		"loginguard.login.attempts outcome=failure,reason=LOCKED,source=API_PORTAL":           1,
		"loginguard.state.duration op=admit":                                                  3,
		"loginguard.state.duration op=finish":                                                 1,
		"loginguard.alerts rule=ip_failures":                                                  1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("data points %v, want %v", got, want)
	}
}

func attrString(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

// BenchmarkTelemetryAttempt: what one login attempt costs the gateway in
// telemetry (its span with every attribute, exported over OTLP/HTTP to a
// receiver that discards, and its metrics), against telemetry off in the same
// run.
func BenchmarkTelemetryAttempt(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	ev := event.Event{EventType: event.LoginFailure, Source: event.SourcePortal, Email: event.Str("a@x.com"),
		Reason: event.BadCredentials, RemoteAddress: "10.1.2.3", PortalID: event.Str("bench"), FailureCount: 2}
	attempt := func(tel *Telemetry) {
		r, span := tel.StartSpan(httptest.NewRequest("POST", "/api/login", nil), "loginguard.login")
		_ = r
		tel.StateTook("admit", time.Microsecond)
		tel.UpstreamTook(time.Millisecond)
		tel.StateTook("finish", time.Microsecond)
		tel.Attempt(ev.Source, false, ev.Reason)
		tel.EndSpan(span, &ev, "a@x.com")
	}
	b.Run("off", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			attempt(nil)
		}
	})
	b.Run("on", func(b *testing.B) {
		tel, err := New(context.Background(), Config{Endpoint: srv.URL}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer tel.Shutdown()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			attempt(tel)
		}
	})
}

// TestExporterNone: OTEL_METRICS_EXPORTER=none exports traces only (a
// traces-only backend), OTEL_TRACES_EXPORTER=none metrics only.
func TestExporterNone(t *testing.T) {
	for _, off := range []string{"OTEL_METRICS_EXPORTER", "OTEL_TRACES_EXPORTER"} {
		t.Run(off, func(t *testing.T) {
			var mu sync.Mutex
			paths := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				mu.Lock()
				paths[r.URL.Path]++
				mu.Unlock()
			}))
			defer srv.Close()
			t.Setenv(off, "none")
			tel, err := New(context.Background(), Config{Endpoint: srv.URL}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, span := tel.StartSpan(httptest.NewRequest("POST", "/api/login", nil), "loginguard.login")
			tel.Attempt(event.SourcePortal, false, event.BadCredentials)
			tel.EndSpan(span, &event.Event{EventType: event.LoginFailure, Source: event.SourcePortal, Reason: event.BadCredentials}, "")
			tel.Shutdown() // flushes what is exported
			mu.Lock()
			defer mu.Unlock()
			traces, metrics := paths["/v1/traces"], paths["/v1/metrics"]
			if off == "OTEL_METRICS_EXPORTER" && (traces == 0 || metrics != 0) {
				t.Errorf("metrics off: %d trace and %d metric exports, want traces only", traces, metrics)
			}
			if off == "OTEL_TRACES_EXPORTER" && (traces != 0 || metrics == 0) {
				t.Errorf("traces off: %d trace and %d metric exports, want metrics only", traces, metrics)
			}
		})
	}
}

// TestOptionCacheConcurrent: requests build and read the cached attribute
// sets at once (run it with -race: the cache is shared by every request), and
// each key keeps its own set.
func TestOptionCacheConcurrent(t *testing.T) {
	var c optionCache[int]
	build := func(k int) []attribute.KeyValue { return []attribute.KeyValue{attribute.Int("k", k)} }
	const workers, keys = 8, 500
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < keys; i++ {
				k := (i*7 + w*keys/workers) % keys // each worker its own order
				set := metric.NewAddConfig([]metric.AddOption{c.get(k, build)}).Attributes()
				if v, _ := set.Value("k"); v.AsInt64() != int64(k) || set.Len() != 1 {
					t.Errorf("key %d: set %v", k, set.ToSlice())
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(c.m) != keys {
		t.Errorf("%d sets cached, want %d", len(c.m), keys)
	}
}
