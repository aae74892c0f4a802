package e2e

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/loginguard/loginguard/event"
)

// otlpReceiver is an OTLP/HTTP collector: it decodes the protobuf requests of
// /v1/traces and /v1/metrics and keeps what they carry.
type otlpReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	spans   []*tracepb.Span
	metrics []*metricpb.Metric
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	o := &otlpReceiver{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want a protobuf body", http.StatusUnsupportedMediaType)
			return
		}
		var resp proto.Message
		o.mu.Lock()
		defer o.mu.Unlock()
		switch r.URL.Path {
		case "/v1/traces":
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(b, &req); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			for _, rs := range req.ResourceSpans {
				for _, ss := range rs.ScopeSpans {
					o.spans = append(o.spans, ss.Spans...)
				}
			}
			resp = &coltracepb.ExportTraceServiceResponse{}
		case "/v1/metrics":
			var req colmetricpb.ExportMetricsServiceRequest
			if err := proto.Unmarshal(b, &req); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			for _, rm := range req.ResourceMetrics {
				for _, sm := range rm.ScopeMetrics {
					o.metrics = append(o.metrics, sm.Metrics...)
				}
			}
			resp = &colmetricpb.ExportMetricsServiceResponse{}
		default:
			http.NotFound(w, r)
			return
		}
		out, _ := proto.Marshal(resp)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(o.Close)
	return o
}

// spansNamed returns the received spans called name.
func (o *otlpReceiver) spansNamed(name string) []*tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range o.spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// spanByID returns the received span with id.
func (o *otlpReceiver) spanByID(id []byte) *tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.spans {
		if string(s.SpanId) == string(id) {
			return s
		}
	}
	return nil
}

// last returns the latest export of the named metric, or nil.
func (o *otlpReceiver) last(name string) *metricpb.Metric {
	o.mu.Lock()
	defer o.mu.Unlock()
	var last *metricpb.Metric
	for _, m := range o.metrics {
		if m.Name == name {
			last = m
		}
	}
	return last
}

// sum adds up the latest export's data points of the named counter with
// attribute key=value (any when key is "").
func (o *otlpReceiver) sum(name, key, value string) int64 {
	last := o.last(name)
	if last == nil || last.GetSum() == nil {
		return 0
	}
	var n int64
	for _, dp := range last.GetSum().DataPoints {
		if key == "" || attr(dp.Attributes, key) == value {
			n += dp.GetAsInt()
		}
	}
	return n
}

func attr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			if v, ok := kv.Value.Value.(*commonpb.AnyValue_IntValue); ok {
				return strconv.FormatInt(v.IntValue, 10)
			}
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOpenTelemetry: Caddyfile.example with OTEL_EXPORTER_OTLP_ENDPOINT set
// sends an in-process OTLP/HTTP receiver Caddy's request spans and, as their
// children, loginguard's login spans with the attempt's attributes (the user
// only as a hash); the events carry the span's trace id; the OTel counters
// move and carry no user or IP; Caddy's /metrics shows loginguard's counters
// before and after a config reload.
func TestOpenTelemetry(t *testing.T) {
	rcv := newOTLPReceiver(t)
	s := newStack(t, stackOptions{Env: []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + rcv.URL,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_BSP_SCHEDULE_DELAY=100",
		"OTEL_METRIC_EXPORT_INTERVAL=200",
		"LOGINGUARD_IP_RATE=20-M",
	}})
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	tp := "00-" + tid + "-00f067aa0ba902b7-01"
	if resp, body := s.post("/api/login", "application/json", `{"email":"active@example.com","password":"correct-horse"}`, "Traceparent", tp); resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	if resp, _ := s.post("/api/login", "application/json", `{"email":"active@example.com","password":"wrong"}`, "Traceparent", tp); resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	waitFor(t, "two loginguard.login spans", func() bool { return len(rcv.spansNamed("loginguard.login")) == 2 })
	for _, sp := range rcv.spansNamed("loginguard.login") {
		if hex.EncodeToString(sp.TraceId) != tid {
			t.Fatalf("span trace %x, want the client's %s", sp.TraceId, tid)
		}
		var parent *tracepb.Span
		waitFor(t, "the parent span", func() bool { parent = rcv.spanByID(sp.ParentSpanId); return parent != nil })
		if parent.Name != "caddy.request" || hex.EncodeToString(parent.ParentSpanId) != "00f067aa0ba902b7" {
			t.Fatalf("parent span %q (its parent %x), want Caddy's caddy.request, a child of the client's", parent.Name, parent.ParentSpanId)
		}
		want := map[string]string{
			"client.address":       "127.0.0.1",
			"http.request.method":  "POST",
			"url.path":             "/api/login",
			"user_agent.original":  "Go-http-client/1.1",
			"loginguard.source":    "API_PORTAL",
			"loginguard.portal_id": "demo-portal",
		}
		for k, v := range want {
			if got := attr(sp.Attributes, k); got != v {
				t.Errorf("span attribute %s = %q, want %q", k, got, v)
			}
		}
		switch attr(sp.Attributes, "loginguard.outcome") {
		case "success":
			if got := attr(sp.Attributes, "loginguard.failure_count"); got != "0" {
				t.Errorf("loginguard.failure_count %q after a success", got)
			}
		case "failure":
			if got := attr(sp.Attributes, "loginguard.failure_count"); got != "1" {
				t.Errorf("loginguard.failure_count %q after the first failure", got)
			}
			if got := attr(sp.Attributes, "loginguard.reason"); got != "BAD_CREDENTIALS" {
				t.Errorf("loginguard.reason %q", got)
			}
		default:
			t.Errorf("loginguard.outcome %q", attr(sp.Attributes, "loginguard.outcome"))
		}
		if h := attr(sp.Attributes, "user.hash"); len(h) != 32 || attr(sp.Attributes, "user.email") != "" || attr(sp.Attributes, "user.name") != "" {
			t.Errorf("user attributes: hash %q, email %q", h, attr(sp.Attributes, "user.email"))
		}
	}
	for _, ev := range s.waitEvents(2) {
		if ev.TraceID != tid {
			t.Errorf("event traceId %q, want %s", ev.TraceID, tid)
		}
	}

	waitFor(t, "loginguard.login.attempts counting 2", func() bool { return rcv.sum("loginguard.login.attempts", "", "") == 2 })
	if n := rcv.sum("loginguard.login.attempts", "outcome", "failure"); n != 1 {
		t.Errorf("%d failures counted, want 1", n)
	}
	// The log store's write lag: both events written, each within the batch
	// interval and far below a minute.
	waitFor(t, "loginguard.store.write_lag counting the two events", func() bool {
		h := rcv.last("loginguard.store.write_lag").GetHistogram()
		return h != nil && len(h.DataPoints) == 1 && h.DataPoints[0].Count >= 2
	})
	if dp := rcv.last("loginguard.store.write_lag").GetHistogram().DataPoints[0]; dp.GetMax() <= 0 || dp.GetMax() > 60 {
		t.Errorf("store write lag max %v s", dp.GetMax())
	}
	for _, name := range []string{"loginguard.connector.spooled", "loginguard.connector.spool_bytes", "loginguard.connector.dead_lettered"} {
		m := rcv.last(name)
		var dps []*metricpb.NumberDataPoint
		if m.GetGauge() != nil {
			dps = m.GetGauge().DataPoints
		} else if m.GetSum() != nil {
			dps = m.GetSum().DataPoints
		}
		found := false
		for _, dp := range dps {
			found = found || attr(dp.Attributes, "connector") == "store"
		}
		if !found {
			t.Errorf("%s has no data point for connector=store: %v", name, m)
		}
	}
	rcv.mu.Lock()
	for _, m := range rcv.metrics {
		var dps [][]*commonpb.KeyValue
		switch d := m.Data.(type) {
		case *metricpb.Metric_Sum:
			for _, dp := range d.Sum.DataPoints {
				dps = append(dps, dp.Attributes)
			}
		case *metricpb.Metric_Gauge:
			for _, dp := range d.Gauge.DataPoints {
				dps = append(dps, dp.Attributes)
			}
		case *metricpb.Metric_Histogram:
			for _, dp := range d.Histogram.DataPoints {
				dps = append(dps, dp.Attributes)
			}
		}
		for _, kvs := range dps {
			for _, kv := range kvs {
				if v := kv.Value.GetStringValue(); strings.Contains(v, "example.com") || strings.Contains(v, "127.0.0.1") {
					t.Errorf("metric %s carries %s=%q", m.Name, kv.Key, v)
				}
			}
		}
	}
	rcv.mu.Unlock()

	// Span events: the failure that locks the account (the 5th) has one; an
	// admin's lock and unlock are spans of their own, each with its event, and
	// the ACCOUNT_UNLOCKED event carries the unlock span's trace.
	for range 4 {
		s.post("/api/login", "application/json", `{"email":"active@example.com","password":"wrong"}`)
	}
	var locking *tracepb.Span
	waitFor(t, "a login span with the loginguard.account_locked event", func() bool {
		for _, sp := range rcv.spansNamed("loginguard.login") {
			if len(sp.Events) == 1 && sp.Events[0].Name == "loginguard.account_locked" {
				locking = sp
				return true
			}
		}
		return false
	})
	if got := attr(locking.Events[0].Attributes, "loginguard.failure_count"); got != "5" {
		t.Errorf("account_locked event's failure_count %q, want 5", got)
	}
	if st, b := s.callAPI("DELETE", "/api/v1/lockouts/accounts/active@example.com", adminToken, "", ""); st != 200 {
		t.Fatalf("unlock: %d %s", st, b)
	}
	if st, b := s.callAPI("POST", "/api/v1/lockouts/accounts", adminToken, "", `{"principal":"waiting@example.com","duration":"1m"}`); st/100 != 2 {
		t.Fatalf("lock: %d %s", st, b)
	}
	for name, evName := range map[string]string{"loginguard.unlock": "loginguard.account_unlocked", "loginguard.lock": "loginguard.account_locked"} {
		waitFor(t, "the "+name+" span", func() bool { return len(rcv.spansNamed(name)) == 1 })
		sp := rcv.spansNamed(name)[0]
		if len(sp.Events) != 1 || sp.Events[0].Name != evName || len(attr(sp.Events[0].Attributes, "user.hash")) != 32 {
			t.Fatalf("%s span's events %v, want one %s with user.hash", name, sp.Events, evName)
		}
	}
	var unlocked []event.Event
	waitFor(t, "the ACCOUNT_UNLOCKED event", func() bool {
		unlocked = byType(s.readEvents(), event.AccountUnlocked)
		return len(unlocked) == 1
	})
	if want := hex.EncodeToString(rcv.spansNamed("loginguard.unlock")[0].TraceId); unlocked[0].TraceID != want {
		t.Errorf("ACCOUNT_UNLOCKED traceId %q, want the unlock span's %s", unlocked[0].TraceID, want)
	}

	// Prometheus on Caddy's /metrics, and again after a reload.
	scrape := func() string {
		resp, err := http.Get("http://" + s.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	if m := scrape(); !strings.Contains(m, `loginguard_login_attempts_total{outcome="success",reason="",source="API_PORTAL"} 1`) {
		t.Fatalf("/metrics lacks the success:\n%s", grepLines(m, "loginguard_login"))
	} else if !strings.Contains(m, "loginguard_store_write_lag_seconds_count ") || strings.Contains(m, "loginguard_store_write_lag_seconds_count 0\n") {
		t.Errorf("/metrics lacks the store's write lag:\n%s", grepLines(m, "write_lag"))
	}
	cf, err := os.ReadFile(filepath.Join(repoRoot, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	s.reload(cf)
	if resp, _ := s.post("/api/login", "application/json", `{"email":"active@example.com","password":"correct-horse"}`); resp.StatusCode != 200 {
		t.Fatalf("login after reload: %d", resp.StatusCode)
	}
	// The attempt is counted after its answer is sent.
	waitFor(t, "/metrics counting the login after a reload", func() bool {
		return strings.Contains(scrape(), `loginguard_login_attempts_total{outcome="success",reason="",source="API_PORTAL"} 2`)
	})

	// The per-IP limit (20 a minute here): the refused attempt's span has the
	// loginguard.rate_limited event.
	limited := false
	for range 25 {
		if resp, _ := s.post("/api/login", "application/json", `{"email":"new@example.com","password":"wrong"}`); resp.StatusCode == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("25 attempts in a minute from one IP, with a limit of 20: no 429")
	}
	waitFor(t, "a login span with the loginguard.rate_limited event", func() bool {
		for _, sp := range rcv.spansNamed("loginguard.login") {
			for _, e := range sp.Events {
				if e.Name == "loginguard.rate_limited" && attr(e.Attributes, "loginguard.scope") != "" {
					return true
				}
			}
		}
		return false
	})
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
