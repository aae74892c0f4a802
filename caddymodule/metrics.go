package caddymodule

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

// metrics are loginguard's Prometheus collectors. They carry no per-user or
// per-IP labels: those belong in events, not in time series.
type metrics struct {
	attempts    *prometheus.CounterVec
	refusals    *prometheus.CounterVec
	monitored   *prometheus.CounterVec
	locks       prometheus.Counter
	logouts     *prometheus.CounterVec
	breached    *prometheus.CounterVec
	stateErrors *prometheus.CounterVec
	delivered   *prometheus.CounterVec
	failed      *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	dead        *prometheus.CounterVec
	stateWait   *prometheus.HistogramVec
	alerts      *prometheus.CounterVec
	storeLag    prometheus.Histogram
	sessions    *prometheus.CounterVec
	// admitWait and finishWait are stateWait's two series, looked up once.
	admitWait, finishWait prometheus.Observer
}

var (
	metricsOnce sync.Once
	theMetrics  *metrics
)

func newMetrics() *metrics {
	const ns = "loginguard"
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "login_attempts_total",
			Help: "Login attempts (every login request that reached loginguard, refusals included) by source, outcome (success, failure; a refusal is a failure) and failure reason.",
		}, []string{"source", "outcome", "reason"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "gateway_refusals_total",
			Help: "Login attempts the gateway answered itself without reaching the portal, by reason.",
		}, []string{"reason"}),
		monitored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "monitored_refusals_total",
			Help: "Refusals that routes in monitor mode computed but did not make (the attempt went to the portal), by reason.",
		}, []string{"reason"}),
		locks: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "account_locks_total",
			Help: "Accounts locked by the gateway after too many failures.",
		}),
		logouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "logouts_total",
			Help: "Logouts by source.",
		}, []string{"source"}),
		breached: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "breached_password_checks_total",
			Help: "Attempts whose password was checked against the breached-password set, by result: breached, clean, or error (the set could not answer; the password went through unmarked).",
		}, []string{"result"}),
		stateErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "state_errors_total",
			Help: "Failed calls to the state store, by operation.",
		}, []string{"op"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "events_delivered_total",
			Help: "Events delivered, by sink.",
		}, []string{"sink"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "events_failed_total",
			Help: "Events a sink failed to take after every retry, by sink.",
		}, []string{"sink"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "events_dropped_total",
			Help: "Events dropped because a sink's queue was full, by sink.",
		}, []string{"sink"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "events_dead_lettered_total",
			Help: "Events a connector gave up and wrote to its spool's dead-letter file (also in events_failed_total), by sink.",
		}, []string{"sink"}),
		stateWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "state_wait_seconds",
			Help:    "Time a login request waited for one state store call (admit before forwarding, finish after the answer), by call.",
			Buckets: []float64{.0001, .00025, .0005, .00075, .001, .0015, .002, .003, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"op"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "alerts_total",
			Help: "Alerts fired, by rule.",
		}, []string{"rule"}),
		storeLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "store_write_lag_seconds",
			Help:    "Time from an event (its login answered) to its batch written to the login log store.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "session_requests_total",
			Help: "Requests with a tracked session cookie seen by loginguard_sessions, by result: live, invalid (no live session), ip_conflict.",
		}, []string{"result"}),
	}
	m.admitWait, m.finishWait = m.stateWait.WithLabelValues("admit"), m.stateWait.WithLabelValues("finish")
	return m
}

// registerMetrics registers loginguard's collectors with the registry of this
// config load (Caddy gives every load a new one).
func registerMetrics(reg prometheus.Registerer) (*metrics, error) {
	metricsOnce.Do(func() { theMetrics = newMetrics() })
	if reg == nil {
		return theMetrics, nil
	}
	m := theMetrics
	for _, c := range []prometheus.Collector{m.attempts, m.refusals, m.monitored, m.locks, m.logouts, m.breached, m.stateErrors, m.delivered, m.failed, m.dropped, m.dead, m.stateWait, m.alerts, m.storeLag, m.sessions} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) attempt(src event.Source, success bool, reason event.Reason) {
	if success {
		m.attempts.WithLabelValues(string(src), "success", "").Inc()
		return
	}
	m.attempts.WithLabelValues(string(src), "failure", string(reason)).Inc()
}

// Waited observes in state_wait_seconds and in the OTel metrics how long a
// request waited for the state store since start, by call (op: admit, finish).
func (a *App) Waited(op string, start time.Time) {
	d := time.Since(start)
	o := a.metrics.finishWait
	if op == "admit" {
		o = a.metrics.admitWait
	}
	o.Observe(d.Seconds())
	a.tel.StateTook(op, d)
}

// CountAttempt counts an attempt that reached the portal.
func (a *App) CountAttempt(src event.Source, success bool, reason event.Reason) {
	a.metrics.attempt(src, success, reason)
	a.tel.Attempt(src, success, reason)
}

// CountRefusal counts an attempt the gateway answered itself, or would have
// (monitored: a route in monitor mode let it through).
func (a *App) CountRefusal(src event.Source, reason event.Reason, monitored bool) {
	if monitored {
		a.metrics.monitored.WithLabelValues(string(reason)).Inc()
		return
	}
	a.metrics.refusal(reason)
	a.metrics.attempt(src, false, reason) // a refusal is an attempt: a failure with the refusal's reason
	a.tel.Attempt(src, false, reason)
	if reason == event.RateLimited {
		a.tel.RateLimit()
	}
}

func (m *metrics) refusal(reason event.Reason) { m.refusals.WithLabelValues(string(reason)).Inc() }

// CountLock counts an account locked by a route.
func (a *App) CountLock() {
	a.metrics.locks.Inc()
	a.tel.Lock()
}

// CountBreachedCheck counts one attempt's breached-password check by its result.
func (a *App) CountBreachedCheck(result string) { a.metrics.breached.WithLabelValues(result).Inc() }

// CountSession counts a request with a tracked session cookie by its result.
func (a *App) CountSession(result string) { a.metrics.sessions.WithLabelValues(result).Inc() }

// CountLogout counts a logout.
func (a *App) CountLogout(src event.Source) { a.metrics.logouts.WithLabelValues(string(src)).Inc() }

// Delivered, Failed and Dropped observe the event pipeline.
func (m *metrics) Delivered(sink string, n int) { m.delivered.WithLabelValues(sink).Add(float64(n)) }
func (m *metrics) Failed(sink string, n int)    { m.failed.WithLabelValues(sink).Add(float64(n)) }
func (m *metrics) Dropped(sink string, n int)   { m.dropped.WithLabelValues(sink).Add(float64(n)) }
func (m *metrics) DeadLettered(sink string, n int) {
	m.dead.WithLabelValues(sink).Add(float64(n))
}

// sinkGauges reads the queues and spools of one config's sinks and connectors
// at each scrape: it is registered with that config's registry, so a reload
// shows the new config's sinks.
type sinkGauges struct{ stats func() []connectors.Stats }

var (
	queuedDesc = prometheus.NewDesc("loginguard_sink_queued_events",
		"Events waiting for a sink or connector: its memory queue plus its spool.", []string{"sink"}, nil)
	spooledDesc = prometheus.NewDesc("loginguard_spool_events",
		"Events in a connector's spool on disk, not yet delivered or dead-lettered.", []string{"sink"}, nil)
	spoolBytesDesc = prometheus.NewDesc("loginguard_spool_bytes",
		"Disk used by a connector's spool segments.", []string{"sink"}, nil)
	disabledDesc = prometheus.NewDesc("loginguard_sink_disabled",
		"1 when a connector's target said it takes no more events (a webhook's 410).", []string{"sink"}, nil)
	lastErrorDesc = prometheus.NewDesc("loginguard_sink_last_error_timestamp_seconds",
		"When a sink's or connector's latest delivery attempt failed (Unix time); absent before the first failure.", []string{"sink"}, nil)
)

// Describe implements prometheus.Collector.
func (g sinkGauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queuedDesc, spooledDesc, spoolBytesDesc, disabledDesc, lastErrorDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (g sinkGauges) Collect(ch chan<- prometheus.Metric) {
	for _, s := range g.stats() {
		ch <- prometheus.MustNewConstMetric(queuedDesc, prometheus.GaugeValue, float64(s.Queued), s.Name)
		ch <- prometheus.MustNewConstMetric(spooledDesc, prometheus.GaugeValue, float64(s.Spooled), s.Name)
		ch <- prometheus.MustNewConstMetric(spoolBytesDesc, prometheus.GaugeValue, float64(s.SpoolBytes), s.Name)
		disabled := 0.0
		if s.Disabled {
			disabled = 1
		}
		ch <- prometheus.MustNewConstMetric(disabledDesc, prometheus.GaugeValue, disabled, s.Name)
		if !s.LastErrorAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(lastErrorDesc, prometheus.GaugeValue, float64(s.LastErrorAt.UnixNano())/1e9, s.Name)
		}
	}
}

// stateHealth reports a state store outage once, not once per request.
type stateHealth struct {
	down      atomic.Bool
	lastError atomic.Int64 // unix nanoseconds
}
