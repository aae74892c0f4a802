package telemetry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

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

// instruments creates t's instruments on m, and the connector gauges, read
// from stats on each collection, when stats is not nil.
func (t *Telemetry) instruments(m metric.Meter, stats func() []connectors.Stats) error {
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

// Attempt counts a login attempt (refusals included) by source, outcome and
// reason.
func (t *Telemetry) Attempt(src event.Source, success bool, reason event.Reason) {
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

// Lock counts an account locked after too many failures.
func (t *Telemetry) Lock() {
	if t != nil {
		t.lockouts.Add(context.Background(), 1)
	}
}

// RateLimit counts an attempt refused by a rate limit, a deny list or an IP
// block.
func (t *Telemetry) RateLimit() {
	if t != nil {
		t.rateLimited.Add(context.Background(), 1)
	}
}

// UpstreamTook records how long the portal took to answer a login.
func (t *Telemetry) UpstreamTook(d time.Duration) {
	if t != nil {
		t.upstream.Record(context.Background(), d.Seconds())
	}
}

// StateTook records how long the state store took for the operation op.
func (t *Telemetry) StateTook(op string, d time.Duration) {
	if t != nil {
		t.stateDur.Record(context.Background(), d.Seconds(), t.opSets.get(op, func(op string) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("op", op)}
		}))
	}
}

// StoreLag records the seconds from an event to its batch written to the
// login log store.
func (t *Telemetry) StoreLag(seconds float64) {
	if t != nil {
		t.storeLagDur.Record(context.Background(), seconds)
	}
}

// Alert counts an alert fired by rule.
func (t *Telemetry) Alert(rule string) {
	if t != nil {
		t.alerts.Add(context.Background(), 1, t.ruleSets.get(rule, func(rule string) []attribute.KeyValue {
			return []attribute.KeyValue{attribute.String("rule", rule)}
		}))
	}
}
