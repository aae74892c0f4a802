package telemetry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"

	"github.com/loginguard/loginguard/connectors"
)

// Telemetry is the app's OpenTelemetry: a tracer and the instruments, with the
// providers that export them. A nil *Telemetry records nothing.
type Telemetry struct {
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

// scope is the instrumentation scope of the tracer and the meter.
const scope = "github.com/loginguard/loginguard"

// New builds the providers of cfg, or returns nil (and no error) when cfg is
// not [Config.Enabled]. stats reports the connectors for the connector gauges
// (nil: no connector gauges). Stop it with [Telemetry.Shutdown].
func New(ctx context.Context, cfg Config, stats func() []connectors.Stats) (*Telemetry, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	spanExp, metricExp, err := exporters(ctx, cfg)
	if err != nil {
		return nil, err
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
	t := &Telemetry{hash: cfg.HashIdentities == nil || *cfg.HashIdentities}
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
			ropts = append(ropts, sdkmetric.WithInterval(cfg.MetricInterval))
		}
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(metricExp, ropts...)))
	}
	t.mp = sdkmetric.NewMeterProvider(mopts...)
	t.tracer = t.tp.Tracer(scope)
	if err := t.instruments(t.mp.Meter(scope), stats); err != nil {
		t.Shutdown()
		return nil, err
	}
	return t, nil
}

// exporters are the OTLP span and metric exporters of cfg's endpoint and
// protocol, over TLS with cfg's CAs when it names a CA file.
func exporters(ctx context.Context, cfg Config) (sdktrace.SpanExporter, sdkmetric.Exporter, error) {
	proto := cfg.Protocol
	if proto == "" {
		proto = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var tlsCfg *tls.Config
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("telemetry ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("telemetry ca_file %s: no PEM certificate in it", cfg.CAFile)
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
	if proto == "grpc" {
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
		return nil, nil, fmt.Errorf("telemetry: %w", err)
	}
	return spanExp, metricExp, nil
}

// Shutdown flushes and stops the providers (at most 5 seconds).
func (t *Telemetry) Shutdown() {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = t.tp.Shutdown(ctx)
	_ = t.mp.Shutdown(ctx)
}
