package caddymodule

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/credentials"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

// Telemetry configures OpenTelemetry export of the app's spans and metrics
// (the `telemetry` block of the loginguard global option). It is on when an
// endpoint is set here or in OTEL_EXPORTER_OTLP_ENDPOINT (or its _TRACES_ /
// _METRICS_ forms), unless Off; the other OTEL_EXPORTER_OTLP_* variables are
// honoured for what is not set here.
type Telemetry struct {
	// Off turns export off whatever the environment says.
	Off bool `json:"off,omitempty"`
	// Endpoint is the OTLP base URL (http://host:4318, https://…; for grpc
	// host:4317 or a URL). The signal paths /v1/traces and /v1/metrics are added
	// for http.
	Endpoint string `json:"endpoint,omitempty"`
	// Protocol is "http" (http/protobuf, the default) or "grpc". Default:
	// OTEL_EXPORTER_OTLP_PROTOCOL, else http.
	Protocol string `json:"protocol,omitempty"`
	// Headers are sent with every export (e.g. an API key).
	Headers map[string]string `json:"headers,omitempty"`
	// Insecure sends over plain text to an endpoint without a scheme (grpc).
	Insecure bool `json:"insecure,omitempty"`
	// CAFile is a PEM file of the CAs that sign the collector's certificate.
	CAFile string `json:"ca_file,omitempty"`
	// SampleRatio of the traces started here (0..1), parent-based: a request
	// whose parent was sampled is always sampled. Default 1.
	SampleRatio *float64 `json:"sample_ratio,omitempty"`
	// HashIdentities puts only a hash of the user in spans (user.hash), never
	// the email or username. Default true.
	HashIdentities *bool `json:"hash_identities,omitempty"`
	// MetricInterval is how often metrics are exported. Default:
	// OTEL_METRIC_EXPORT_INTERVAL, else 60s.
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
	switch t.Protocol {
	case "", "http", "http/protobuf", "grpc":
	default:
		return fmt.Errorf("telemetry protocol: want http or grpc, got %q", t.Protocol)
	}
	if r := t.SampleRatio; r != nil && (*r < 0 || *r > 1) {
		return fmt.Errorf("telemetry sample_ratio: want a number from 0 to 1, got %v", *r)
	}
	if t.Endpoint != "" && strings.Contains(t.Endpoint, "://") {
		u, err := url.Parse(t.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("telemetry endpoint: want http://host:port or https://host:port, got %q", t.Endpoint)
		}
	}
	return nil
}

// enabled reports whether t exports, given the environment.
func (t *Telemetry) enabled() bool {
	if t != nil && t.Off {
		return false
	}
	if t != nil && t.Endpoint != "" {
		return true
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	return false
}

// telemetry is the app's OpenTelemetry: a tracer and the instruments, with the
// providers that export them. A nil *telemetry records nothing.
type telemetry struct {
	tp     *sdktrace.TracerProvider
	mp     *sdkmetric.MeterProvider
	tracer trace.Tracer
	hash   bool

	attempts, lockouts, rateLimited, alerts metric.Int64Counter
	upstream, stateDur, storeLagDur         metric.Float64Histogram

	// The attribute sets of the metrics, built once each: they are few (sources x
	// outcomes x reasons, state operations, rules), and a set built on every
	// record costs a sort, a hash and allocations on the login path.
	attemptSets optionCache[attemptKey]
	opSets      optionCache[string]
	ruleSets    optionCache[string]
}

type attemptKey struct {
	src     event.Source
	success bool
	reason  event.Reason
}

// optionCache holds the measurement option of each attribute set by its key.
type optionCache[K comparable] struct {
	mu sync.RWMutex
	m  map[K]metric.MeasurementOption
}

// get is k's option, built by build(k) on first use.
func (c *optionCache[K]) get(k K, build func(K) []attribute.KeyValue) metric.MeasurementOption {
	c.mu.RLock()
	o, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return o
	}
	o = metric.WithAttributeSet(attribute.NewSet(build(k)...))
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[K]metric.MeasurementOption)
	}
	c.m[k] = o
	c.mu.Unlock()
	return o
}

// noopSpan is the span of an attempt when telemetry is off.
var noopSpan = noop.Span{}

// newTelemetry builds the providers of cfg (nil when telemetry is off). stats
// reports the connectors for the connector gauges.
func newTelemetry(ctx context.Context, cfg *Telemetry, stats func() []connectors.Stats) (*telemetry, error) {
	if !cfg.enabled() {
		return nil, nil
	}
	if cfg == nil {
		cfg = new(Telemetry)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	proto := cfg.Protocol
	if proto == "" {
		proto = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	grpc := proto == "grpc"
	var tlsCfg *tls.Config
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("telemetry ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("telemetry ca_file %s: no PEM certificate in it", cfg.CAFile)
		}
		tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	host, basePath, insecure := "", "", cfg.Insecure
	if cfg.Endpoint != "" {
		if u, err := url.Parse(cfg.Endpoint); err == nil && u.Host != "" {
			host, basePath, insecure = u.Host, strings.TrimSuffix(u.Path, "/"), insecure || u.Scheme == "http"
		} else {
			host = cfg.Endpoint
		}
	}

	var spanExp sdktrace.SpanExporter
	var metricExp sdkmetric.Exporter
	var err error
	if grpc {
		topts := []otlptracegrpc.Option{}
		mopts := []otlpmetricgrpc.Option{}
		if host != "" {
			topts, mopts = append(topts, otlptracegrpc.WithEndpoint(host)), append(mopts, otlpmetricgrpc.WithEndpoint(host))
		}
		if insecure {
			topts, mopts = append(topts, otlptracegrpc.WithInsecure()), append(mopts, otlpmetricgrpc.WithInsecure())
		}
		if tlsCfg != nil {
			c := credentials.NewTLS(tlsCfg)
			topts, mopts = append(topts, otlptracegrpc.WithTLSCredentials(c)), append(mopts, otlpmetricgrpc.WithTLSCredentials(c))
		}
		if len(cfg.Headers) > 0 {
			topts, mopts = append(topts, otlptracegrpc.WithHeaders(cfg.Headers)), append(mopts, otlpmetricgrpc.WithHeaders(cfg.Headers))
		}
		if spanExp, err = otlptracegrpc.New(ctx, topts...); err == nil {
			metricExp, err = otlpmetricgrpc.New(ctx, mopts...)
		}
	} else {
		topts := []otlptracehttp.Option{}
		mopts := []otlpmetrichttp.Option{}
		if host != "" {
			topts = append(topts, otlptracehttp.WithEndpoint(host), otlptracehttp.WithURLPath(basePath+"/v1/traces"))
			mopts = append(mopts, otlpmetrichttp.WithEndpoint(host), otlpmetrichttp.WithURLPath(basePath+"/v1/metrics"))
		}
		if insecure {
			topts, mopts = append(topts, otlptracehttp.WithInsecure()), append(mopts, otlpmetrichttp.WithInsecure())
		}
		if tlsCfg != nil {
			topts, mopts = append(topts, otlptracehttp.WithTLSClientConfig(tlsCfg)), append(mopts, otlpmetrichttp.WithTLSClientConfig(tlsCfg))
		}
		if len(cfg.Headers) > 0 {
			topts, mopts = append(topts, otlptracehttp.WithHeaders(cfg.Headers)), append(mopts, otlpmetrichttp.WithHeaders(cfg.Headers))
		}
		if spanExp, err = otlptracehttp.New(ctx, topts...); err == nil {
			metricExp, err = otlpmetrichttp.New(ctx, mopts...)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "loginguard")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	ratio := 1.0
	if cfg.SampleRatio != nil {
		ratio = *cfg.SampleRatio
	}
	t := &telemetry{hash: cfg.HashIdentities == nil || *cfg.HashIdentities}
	// OTEL_TRACES_EXPORTER=none or OTEL_METRICS_EXPORTER=none turns that
	// signal's export off (a traces-only backend answers 404 to metrics).
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)))}
	if exporterOff("OTEL_TRACES_EXPORTER") {
		_ = spanExp.Shutdown(ctx)
	} else {
		topts = append(topts, sdktrace.WithBatcher(spanExp))
	}
	t.tp = sdktrace.NewTracerProvider(topts...)
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if exporterOff("OTEL_METRICS_EXPORTER") {
		_ = metricExp.Shutdown(ctx)
	} else {
		var ropts []sdkmetric.PeriodicReaderOption
		if cfg.MetricInterval > 0 {
			ropts = append(ropts, sdkmetric.WithInterval(time.Duration(cfg.MetricInterval)))
		}
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp, ropts...)))
	}
	t.mp = sdkmetric.NewMeterProvider(mopts...)
	const scope = "github.com/loginguard/loginguard"
	t.tracer = t.tp.Tracer(scope)
	if err := t.instruments(t.mp.Meter(scope), stats); err != nil {
		t.shutdown()
		return nil, err
	}
	return t, nil
}

// exporterOff reports whether the environment variable v (OTEL_TRACES_EXPORTER,
// OTEL_METRICS_EXPORTER) turns its signal's export off.
func exporterOff(v string) bool {
	return strings.EqualFold(strings.TrimSpace(os.Getenv(v)), "none")
}

func (t *telemetry) instruments(m metric.Meter, stats func() []connectors.Stats) error {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	t.attempts, err = m.Int64Counter("loginguard.login.attempts", metric.WithDescription("Login attempts by source, outcome and reason, refusals included."))
	add(err)
	t.lockouts, err = m.Int64Counter("loginguard.lockouts", metric.WithDescription("Accounts locked after too many failures."))
	add(err)
	t.rateLimited, err = m.Int64Counter("loginguard.rate_limited", metric.WithDescription("Attempts refused by a rate limit, a deny list or an IP block."))
	add(err)
	t.alerts, err = m.Int64Counter("loginguard.alerts", metric.WithDescription("Alerts fired, by rule."))
	add(err)
	t.upstream, err = m.Float64Histogram("loginguard.upstream.duration", metric.WithUnit("s"), metric.WithDescription("How long the portal took to answer a login."))
	add(err)
	t.stateDur, err = m.Float64Histogram("loginguard.state.duration", metric.WithUnit("s"), metric.WithDescription("How long the state store (Redis or memory) took to decide, by operation."))
	add(err)
	t.storeLagDur, err = m.Float64Histogram("loginguard.store.write_lag", metric.WithUnit("s"),
		metric.WithDescription("Time from an event (its login answered) to its batch written to the login log store."),
		metric.WithExplicitBucketBoundaries(.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300))
	add(err)
	queued, err := m.Int64ObservableGauge("loginguard.connector.queue", metric.WithDescription("Events waiting for each connector."))
	add(err)
	delivered, err := m.Int64ObservableCounter("loginguard.connector.delivered", metric.WithDescription("Events delivered by each connector."))
	add(err)
	failed, err := m.Int64ObservableCounter("loginguard.connector.failed", metric.WithDescription("Events each connector failed to deliver."))
	add(err)
	dropped, err := m.Int64ObservableCounter("loginguard.connector.dropped", metric.WithDescription("Events dropped before each connector (queue full, or its spool full)."))
	add(err)
	spooled, err := m.Int64ObservableGauge("loginguard.connector.spooled", metric.WithDescription("Events in each connector's spool on disk, not yet delivered or dead-lettered."))
	add(err)
	spoolBytes, err := m.Int64ObservableGauge("loginguard.connector.spool_bytes", metric.WithUnit("By"), metric.WithDescription("Disk used by each connector's spool segments."))
	add(err)
	deadLettered, err := m.Int64ObservableCounter("loginguard.connector.dead_lettered", metric.WithDescription("Events each connector wrote to its spool's dead-letter file (also counted failed)."))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("telemetry instruments: %w", err)
	}
	if stats == nil {
		return nil
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, s := range stats() {
			at := metric.WithAttributes(attribute.String("connector", s.Name))
			o.ObserveInt64(queued, int64(s.Queued), at)
			o.ObserveInt64(delivered, int64(s.Delivered), at)
			o.ObserveInt64(failed, int64(s.Failed), at)
			o.ObserveInt64(dropped, int64(s.Dropped), at)
			o.ObserveInt64(spooled, s.Spooled, at)
			o.ObserveInt64(spoolBytes, s.SpoolBytes, at)
			o.ObserveInt64(deadLettered, int64(s.DeadLettered), at)
		}
		return nil
	}, queued, delivered, failed, dropped, spooled, spoolBytes, deadLettered)
	return err
}

// shutdown flushes and stops the providers.
func (t *telemetry) shutdown() {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = t.tp.Shutdown(ctx)
	_ = t.mp.Shutdown(ctx)
}

// startSpan starts the span of a login or logout on r, a child of the span in
// r's context (Caddy's, when its tracing is on) or else of the client's
// traceparent, and propagates it to the
// portal in r's traceparent header. Off, it returns r and a no-op span.
func (t *telemetry) startSpan(r *http.Request, name string) (*http.Request, trace.Span) {
	if t == nil {
		return r, noopSpan
	}
	ctx := r.Context()
	// Inside Caddy's server span the gateway's span is internal; with Caddy's
	// tracing off it is the server span of the request, continuing the
	// client's trace if it sent one.
	kind := trace.SpanKindInternal
	if !trace.SpanContextFromContext(ctx).IsValid() {
		kind = trace.SpanKindServer
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(kind),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("user_agent.original", r.UserAgent())))
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(r.Header))
	return r.WithContext(ctx), span
}

// endSpan sets the attributes of the attempt's outcome on span and ends it.
func (t *telemetry) endSpan(span trace.Span, ev *event.Event, identity string) {
	if t == nil {
		return
	}
	outcome := "failure"
	switch ev.EventType {
	case event.LoginSuccess:
		outcome = "success"
	case event.Logout:
		outcome = "logout"
	}
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs,
		attribute.String("client.address", ev.RemoteAddress),
		attribute.String("loginguard.source", string(ev.Source)),
		attribute.String("loginguard.outcome", outcome),
		attribute.Int("loginguard.failure_count", ev.FailureCount))
	if ev.PortalID != nil {
		attrs = append(attrs, attribute.String("loginguard.portal_id", *ev.PortalID))
	}
	if ev.Reason != "" {
		attrs = append(attrs, attribute.String("loginguard.reason", string(ev.Reason)))
	}
	if identity != "" {
		attrs = append(attrs, t.user(identity, ev.Email != nil))
	}
	span.SetAttributes(attrs...)
	if ev.Reason == event.UpstreamError {
		// The portal failed or could not be reached (or, fail_closed, the
		// state): an error of the request, not a user's failed login.
		span.SetStatus(codes.Error, "the portal failed or could not be reached")
	}
	span.End()
}

// user is the attribute naming a user: user.hash when identities are hashed,
// else user.email or user.name.
func (t *telemetry) user(identity string, email bool) attribute.KeyValue {
	switch {
	case t.hash:
		sum := sha256.Sum256([]byte(strings.ToLower(identity)))
		return attribute.String("user.hash", hex.EncodeToString(sum[:16]))
	case email:
		return attribute.String("user.email", identity)
	default:
		return attribute.String("user.name", identity)
	}
}

// accountAction records an admin's lock or unlock of ev's account as a span
// named name (a child of ctx's span: Caddy's request span when its tracing is
// on) holding one span event, evName, and sets ev's traceId to the span's.
func (t *telemetry) accountAction(ctx context.Context, name, evName string, ev *event.Event) {
	if t == nil {
		return
	}
	if !trace.SpanContextFromContext(ctx).IsValid() {
		// Caddy's tracing is off on the admin site: continue the caller's trace.
		if act, ok := admin.ActorOf(ctx); ok && act.TraceParent != "" {
			ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": act.TraceParent})
		}
	}
	_, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal))
	identity, email := "", ev.Email != nil
	if email {
		identity = *ev.Email
	} else if ev.Principal != nil {
		identity = *ev.Principal
	}
	span.AddEvent(evName, trace.WithAttributes(t.user(identity, email)))
	if sc := span.SpanContext(); sc.IsValid() {
		ev.TraceID = sc.TraceID().String()
	}
	span.End()
}

// attempt counts a login attempt (refusals included) in the OTel metrics.
func (t *telemetry) attempt(src event.Source, success bool, reason event.Reason) {
	if t == nil {
		return
	}
	t.attempts.Add(context.Background(), 1, t.attemptSets.get(attemptKey{src, success, reason}, func(k attemptKey) []attribute.KeyValue {
		outcome := "failure"
		if k.success {
			outcome = "success"
		}
		return []attribute.KeyValue{attribute.String("source", string(k.src)), attribute.String("outcome", outcome), attribute.String("reason", string(k.reason))}
	}))
}

func (t *telemetry) lock() {
	if t != nil {
		t.lockouts.Add(context.Background(), 1)
	}
}

func (t *telemetry) rateLimit() {
	if t != nil {
		t.rateLimited.Add(context.Background(), 1)
	}
}

func (t *telemetry) upstreamTook(d time.Duration) {
	if t != nil {
		t.upstream.Record(context.Background(), d.Seconds())
	}
}

func (t *telemetry) stateTook(op string, d time.Duration) {
	if t != nil {
		t.stateDur.Record(context.Background(), d.Seconds(), t.opSets.get(op, func(op string) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("op", op)}
		}))
	}
}

func (t *telemetry) storeLag(seconds float64) {
	if t != nil {
		t.storeLagDur.Record(context.Background(), seconds)
	}
}

func (t *telemetry) alert(rule string) {
	if t != nil {
		t.alerts.Add(context.Background(), 1, t.ruleSets.get(rule, func(rule string) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("rule", rule)}
		}))
	}
}
