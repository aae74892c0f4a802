// Package caddymodule is the only package of loginguard that knows Caddy, and
// only its glue: the loginguard app (shared state and event sinks), the
// loginguard HTTP handler (whose work is a gateway.Route's), their JSON and
// Caddyfile configuration, their Provision and Validate, and their metrics.
package caddymodule

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/loginguard/loginguard/alerts/geoalerts"
	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/spool"
	"github.com/loginguard/loginguard/enrich"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/gateway"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/pwned"
	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/telemetry"
)

func init() {
	caddy.RegisterModule(new(App))
}

// App is the loginguard app: it holds what every loginguard handler of a config
// shares, the lockout state and the event pipeline. Configure it with the
// `loginguard` global option; without one it runs with the defaults.
type App struct {
	// State is where counters, locks and sessions live, a module of the
	// loginguard.state namespace. Default: memory (this process only).
	StateRaw json.RawMessage `json:"state,omitempty" caddy:"namespace=loginguard.state inline_key=backend"`

	// Sinks are deprecated: connectors (modules of the loginguard.connectors
	// namespace, file and log before) that receive every event, whatever the
	// routes' `connectors` choose. Use Connectors. Default: none.
	SinksRaw []json.RawMessage `json:"sinks,omitempty" caddy:"namespace=loginguard.connectors inline_key=sink"`

	// Connectors are the named connectors, modules of the
	// loginguard.connectors namespace (kafka, webhook), each with its own
	// queue and, unless turned off, its durable spool. Default: none.
	ConnectorsRaw []json.RawMessage `json:"connectors,omitempty" caddy:"namespace=loginguard.connectors inline_key=connector"`

	// Store is the login log store that the admin API searches, a module of
	// the loginguard.stores namespace (sqlite, postgres). Default: SQLite under
	// Caddy's data directory. Every event goes there unless its route has
	// save_to_database off.
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=loginguard.stores inline_key=driver"`

	// NoStore turns the login log store off: events go to the sinks only.
	NoStore bool `json:"no_store,omitempty"`

	// StoreSpool is the log store's durable queue, as a connector's spool:
	// events wait there, on disk, while the store cannot take them (the
	// database down, its disk full) and are stored when it can. Default: on,
	// in loginguard/spool/store under Caddy's data directory, 1 GiB, 24h.
	StoreSpool *SpoolConfig `json:"store_spool,omitempty"`

	// Retention is how long events are kept in the store; a background job
	// deletes older ones, in small batches, every RetentionInterval.
	// Default: 90d.
	Retention caddy.Duration `json:"retention,omitempty"`

	// RetentionInterval is how often the retention job runs (and it runs at
	// start). Default: 1h.
	RetentionInterval caddy.Duration `json:"retention_interval,omitempty"`

	// Mode is every login route's mode unless it sets its own: enforce or
	// monitor (see Handler.Mode). Default: enforce.
	Mode string `json:"mode,omitempty"`

	// OnStateError says what happens to a login attempt while the state store
	// cannot be reached: "fail_open" (default: the attempt goes to the portal
	// uncounted, and a warning is logged once per outage) or "fail_closed" (the
	// gateway answers 503 with Retry-After and the portal never sees it).
	OnStateError string `json:"on_state_error,omitempty"`

	// QueueSize is how many events may wait for each sink before new ones are
	// dropped (and counted). Default: 10000.
	QueueSize int `json:"queue_size,omitempty"`

	// FlushInterval is the longest an event waits for its batch to fill.
	// Default: 200ms.
	FlushInterval caddy.Duration `json:"flush_interval,omitempty"`

	// Enrich adds location (from GeoIP databases) and device (from the user
	// agent) to every event. Default: the device only.
	Enrich *Enrich `json:"enrich,omitempty"`

	// Pwned is the breached-password set that the routes check passwords
	// against: a file or the range API. Default: none, no check.
	PwnedPasswords *Pwned `json:"pwned,omitempty"`

	// Alerts turns attacks into ALERT events (package alerts). Default: none.
	Alerts *Alerts `json:"alerts,omitempty"`

	// GeoAlerts turns on the location and device alerts. Default: off.
	GeoAlerts *GeoAlerts `json:"geo_alerts,omitempty"`

	// Telemetry exports OpenTelemetry spans and metrics over OTLP. Default: on
	// when OTEL_EXPORTER_OTLP_ENDPOINT is set, else off.
	Telemetry *Telemetry `json:"telemetry,omitempty"`

	store     state.Store
	storeKey  string
	pipe      *connectors.Pipeline // every event's way to the log store and the connectors
	connNames map[string]bool      // every configured connector, active or not

	logStore    logstore.Store
	logStoreKey string
	enrichKey   string // the enricher's in enrichPool
	pwned       pwned.Checker
	pwnedKey    string // the checker's in pwnedPool
	logger      *slog.Logger
	metrics     *metrics
	tel         *telemetry.Telemetry // nil when off
	health      stateHealth

	blocked atomic.Pointer[[]netip.Prefix] // admin IP blocks, refreshed by Start's goroutine
	stopBg  context.CancelFunc             // cancels the background jobs Start began
	bg      sync.WaitGroup                 // the background jobs

	users      atomic.Int64  // holds on the event pipeline (see hold)
	closeGrace time.Duration // see closeWhenIdle; set in Provision
	cleaning   atomic.Bool   // Cleanup was called
	closeOnce  sync.Once

	flushMu  sync.Mutex
	flushers []func() // the handlers' last reports of sampled refusals, run before the queues close

	// realms holds the realms (string keys) of the config's routes, for the
	// admin's lock, unlock and status of a bare account name.
	realms sync.Map

	// aliasRealms holds the realms (string keys) of which some route learns
	// aliases: every route of such a realm looks its spellings up.
	aliasRealms sync.Map

	enricher *enrich.Enricher // the pipeline's; nil-safe through asnOf
	// sweep holds the session timeouts of the config's loginguard_sessions
	// handlers, for the session sweep Start runs.
	sweep gateway.SessionSweep
}

// LearnsAliases reports whether some route of realm learns aliases.
func (a *App) LearnsAliases(realm string) bool {
	_, on := a.aliasRealms.Load(realm)
	return on
}

// OnCleanup registers f to run in Cleanup before the event queues close, so the
// events it emits are delivered. Caddy cleans modules up in no set order, so a
// handler cannot count on emitting from its own Cleanup.
func (a *App) OnCleanup(f func()) {
	a.flushMu.Lock()
	a.flushers = append(a.flushers, f)
	a.flushMu.Unlock()
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "loginguard",
		New: func() caddy.Module { return new(App) },
	}
}

// statePool keeps state stores across config reloads: a reload with the same state
// settings keeps every counter, lock and session.
var statePool = caddy.NewUsagePool()

type pooledStore struct{ state.Store }

func (p pooledStore) Destruct() error { return p.Close() }

// Provision sets up the app.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Slogger()
	a.closeGrace = 2 * time.Second
	m, err := registerMetrics(ctx.GetMetricsRegistry())
	if err != nil {
		return err
	}
	a.metrics = m
	if reg := ctx.GetMetricsRegistry(); reg != nil {
		if err := reg.Register(sinkGauges{a.ConnectorStats}); err != nil {
			return fmt.Errorf("registering the sink gauges: %w", err)
		}
	}
	if a.tel, err = newTelemetry(ctx, a.Telemetry, a.ConnectorStats); err != nil {
		return err
	}

	if a.StateRaw == nil {
		a.StateRaw = json.RawMessage(`{"backend":"memory"}`)
	}
	mod, err := ctx.LoadModule(a, "StateRaw")
	if err != nil {
		return fmt.Errorf("loading state: %w", err)
	}
	backend := mod.(StateBackend)
	a.storeKey = "state:" + backend.PoolKey()
	val, _, err := statePool.LoadOrNew(a.storeKey, func() (caddy.Destructor, error) {
		s, err := backend.Open()
		if err != nil {
			return nil, err
		}
		return pooledStore{s}, nil
	})
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	a.store = val.(pooledStore).Store

	switch a.Mode {
	case "":
		a.Mode = "enforce"
	case "enforce", "monitor":
	default:
		return fmt.Errorf("mode: must be \"enforce\" or \"monitor\", got %q", a.Mode)
	}
	switch a.OnStateError {
	case "":
		a.OnStateError = "fail_open"
	case "fail_open", "fail_closed":
	default:
		return fmt.Errorf("on_state_error: must be \"fail_open\" or \"fail_closed\", got %q", a.OnStateError)
	}
	if a.QueueSize < 0 {
		return fmt.Errorf("queue_size: must not be negative, got %d", a.QueueSize)
	}
	if a.FlushInterval < 0 {
		return fmt.Errorf("flush_interval: must not be negative")
	}
	engine, err := a.Alerts.engine(a.store, a.logger)
	if err != nil {
		return err
	}
	enricher, key, err := a.Enrich.open(a)
	if err != nil {
		return err
	}
	a.enrichKey = key
	a.enricher = enricher
	if a.pwned, a.pwnedKey, err = a.PwnedPasswords.open(a); err != nil {
		return err
	}
	storeSpool, err := a.provisionLogStore(ctx)
	if err != nil {
		return err
	}
	var geo *geoalerts.Stage
	if a.GeoAlerts != nil {
		geo, err = a.GeoAlerts.stage(a.logStore, a.logger)
	}
	var outputs []connectors.Named
	if err == nil {
		outputs, err = a.provisionConnectors(ctx)
	}
	if err != nil {
		if storeSpool != nil {
			storeSpool.Close()
		}
		return err
	}
	cfg := connectors.PipelineConfig{
		Options: connectors.Options{
			QueueSize:     a.QueueSize,
			FlushInterval: time.Duration(a.FlushInterval),
			Logger:        a.logger,
			Observer:      a.metrics,
		},
		StoreLag: func(d time.Duration) {
			a.metrics.storeLag.Observe(d.Seconds())
			a.tel.StoreLag(d.Seconds())
		},
		Enrich:     enricher.Enrich,
		Outputs:    outputs,
		Selectable: slices.Collect(maps.Keys(a.connNames)),
		Found: func(f connectors.Finding) {
			a.metrics.alerts.WithLabelValues(f.Kind).Inc()
			a.tel.Alert(f.Kind)
		},
	}
	if a.logStore != nil {
		cfg.Store = a.logStore
		cfg.StoreSpool = storeSpool
	}
	if engine != nil {
		cfg.Stages = []connectors.StageConfig{{Stage: engine.Stage(), Field: "alerts connectors", Connectors: a.Alerts.Connectors}}
	}
	if geo != nil {
		cfg.Stages = append(cfg.Stages, connectors.StageConfig{Stage: geo, Field: "geo_alerts connectors", Connectors: a.GeoAlerts.Connectors})
	}
	a.pipe, err = connectors.NewPipeline(cfg)
	return err
}

// logStorePool keeps login log stores across config reloads: one writer per file.
var logStorePool = caddy.NewUsagePool()

type pooledLogStore struct{ logstore.Store }

func (p pooledLogStore) Destruct() error { return p.Close() }

// provisionLogStore opens the login log store (shared through logStorePool)
// and its spool, unless the store is off.
func (a *App) provisionLogStore(ctx caddy.Context) (*spool.Spool, error) {
	if a.Retention == 0 {
		a.Retention = caddy.Duration(90 * 24 * time.Hour)
	}
	if a.Retention < 0 {
		return nil, fmt.Errorf("retention: must be positive")
	}
	if a.RetentionInterval == 0 {
		a.RetentionInterval = caddy.Duration(time.Hour)
	}
	if a.RetentionInterval < 0 {
		return nil, fmt.Errorf("retention_interval: must be positive")
	}
	if a.NoStore {
		return nil, nil
	}
	if a.StoreRaw == nil {
		a.StoreRaw = json.RawMessage(`{"driver":"sqlite"}`)
	}
	mod, err := ctx.LoadModule(a, "StoreRaw")
	if err != nil {
		return nil, fmt.Errorf("loading store: %w", err)
	}
	backend := mod.(LogStoreBackend)
	a.logStoreKey = "logstore:" + backend.PoolKey()
	val, _, err := logStorePool.LoadOrNew(a.logStoreKey, func() (caddy.Destructor, error) {
		openCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := backend.Open(openCtx)
		if err != nil {
			return nil, err
		}
		return pooledLogStore{st}, nil
	})
	if err != nil {
		a.logStoreKey = ""
		return nil, err
	}
	a.logStore = val.(pooledLogStore).Store
	if err := a.StoreSpool.check("store_spool"); err != nil {
		return nil, err
	}
	sp, err := a.StoreSpool.open(connectors.StoreName)
	if err != nil {
		return nil, fmt.Errorf("store_spool: %w", err)
	}
	return sp, nil
}

// Start starts the app's background jobs: it keeps a copy of the admin IP
// blocks, refreshed every blockRefresh, so that checking a client costs no
// round trip to the state; announces the locks that ran out every lockSweep;
// and applies the log's retention. Stop cancels them and waits for them.
func (a *App) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.stopBg = cancel
	a.refreshBlocks(ctx)
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		blocks, locks := time.NewTicker(blockRefresh), time.NewTicker(lockSweep)
		defer blocks.Stop()
		defer locks.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-blocks.C:
				a.refreshBlocks(ctx)
			case <-locks.C:
				a.sweepEndedLocks(ctx)
			}
		}
	}()
	if a.logStore != nil {
		a.bg.Add(1)
		go func() {
			defer a.bg.Done()
			a.retain(ctx)
		}()
	}
	if a.sweep.Every() > 0 {
		a.bg.Add(1)
		go func() {
			defer a.bg.Done()
			a.sweep.Run(ctx, a.store, a.Emit, a.StateError)
		}()
	}
	return nil
}

// retentionRuns serialises retention runs on one store (by its pool key): a
// config reload starts the new app before it stops the old one, and two runs
// deleting the same rows at once would only fight over locks.
var retentionRuns sync.Map // pool key → *sync.Mutex

// retain deletes the events older than the retention period from the store:
// now, then every RetentionInterval, until ctx ends.
func (a *App) retain(ctx context.Context) {
	t := time.NewTicker(cmp.Or(time.Duration(a.RetentionInterval), time.Hour))
	defer t.Stop()
	muV, _ := retentionRuns.LoadOrStore(a.logStoreKey, new(sync.Mutex))
	mu := muV.(*sync.Mutex)
	for {
		mu.Lock()
		if ctx.Err() == nil {
			a.retentionRun(ctx)
		}
		mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// retentionRun deletes the events older than the retention period, once.
func (a *App) retentionRun(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	n, err := a.logStore.DeleteBefore(ctx, time.Now().Add(-time.Duration(a.Retention)), 1000)
	switch {
	case err != nil && ctx.Err() == nil:
		a.logger.Warn("retention: deleting old events", "error", err)
	case n > 0:
		a.logger.Info("retention: deleted old events", "events", n, "retention", time.Duration(a.Retention))
	}
}

const (
	// blockRefresh is how often the admin IP blocks are read from the state.
	blockRefresh = 2 * time.Second
	// lockSweep is how often the locks that ran out are announced.
	lockSweep = 5 * time.Second
)

// sweepEndedLocks emits ACCOUNT_UNLOCKED, dated at the end of the lock, for
// every account lock that ran out. The state hands each end to one caller, so
// any number of instances announce it once.
func (a *App) sweepEndedLocks(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, lockSweep)
	defer cancel()
	ends, err := a.store.EndedLocks(ctx)
	for _, e := range ends {
		ev := gateway.AccountEvent(e.Account, event.AccountUnlocked, "Account "+e.Account+" unlocked: its lock ended")
		ev.EventDate = e.Until.UTC()
		a.Emit(ev)
	}
	if err != nil {
		a.metrics.stateErrors.WithLabelValues("ended_locks").Inc()
	}
}

// Stop stops the app's background jobs and waits for them. Events are drained
// in Cleanup, after the HTTP servers of the old config have finished their
// requests.
func (a *App) Stop() error {
	if a.stopBg != nil {
		a.stopBg()
		a.stopBg = nil
	}
	a.bg.Wait()
	return nil
}

// refreshBlocks reads the admin IP blocks; on an error it keeps the last copy.
func (a *App) refreshBlocks(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	blocks, err := a.store.BlockedIPs(ctx)
	if err != nil {
		a.metrics.stateErrors.WithLabelValues("blocked_ips").Inc()
		return
	}
	ps := make([]netip.Prefix, 0, len(blocks))
	for _, b := range blocks {
		if p, err := netip.ParsePrefix(b.CIDR); err == nil {
			ps = append(ps, p)
		}
	}
	a.blocked.Store(&ps)
}

// IsBlocked reports whether an admin blocked ip (an unmapped address).
func (a *App) IsBlocked(ip netip.Addr) bool {
	ps := a.blocked.Load()
	if ps == nil {
		return false
	}
	for _, p := range *ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Hold marks a user of the app's event pipeline: a handler from its Provision
// to its Cleanup, and each request it serves. The pipeline closes when the app
// is cleaned up and its last user lets go.
func (a *App) Hold() { a.users.Add(1) }

// LetGo ends a hold; the last one after Cleanup closes the pipeline.
func (a *App) LetGo() {
	if a.users.Add(-1) == 0 && a.cleaning.Load() {
		a.closeWhenIdle()
	}
}

// closeWhenIdle closes the pipeline now when the process is exiting (its
// servers have finished every request), else once nothing has held the app
// for closeGrace: on a reload, a request of the old config that was still on
// its way through Caddy's routes may reach the handler after the last hold
// ended.
func (a *App) closeWhenIdle() {
	if caddy.Exiting() || a.closeGrace <= 0 {
		a.closeOnce.Do(a.close)
		return
	}
	time.AfterFunc(a.closeGrace, func() {
		if a.users.Load() == 0 {
			a.closeOnce.Do(a.close)
		} // else the last of those users closes it again
	})
}

// Cleanup delivers the queued events and releases the app's share of the state,
// once nothing uses the app any more. On a config reload Caddy cleans up the old
// config while its servers still finish their requests (and before its
// handlers' own Cleanup): those requests' events are delivered by the old
// pipeline, which closes when the last of them ends.
func (a *App) Cleanup() error {
	a.cleaning.Store(true)
	if a.users.Load() == 0 {
		a.closeWhenIdle()
	}
	return nil
}

// close delivers the queued events and releases the app's share of the state.
func (a *App) close() {
	a.flushMu.Lock()
	for _, f := range a.flushers {
		f()
	}
	a.flushers = nil
	a.flushMu.Unlock()
	if a.pipe != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.pipe.Close(ctx); err != nil {
			a.logger.Warn("events not delivered before shutdown", "error", err)
		}
		cancel()
	}
	a.tel.Shutdown()
	if a.enrichKey != "" {
		if _, err := enrichPool.Delete(a.enrichKey); err != nil {
			a.logger.Warn("closing the enrichment databases", "error", err)
		}
	}
	if a.pwnedKey != "" {
		if _, err := pwnedPool.Delete(a.pwnedKey); err != nil {
			a.logger.Warn("closing the breached-password set", "error", err)
		}
	}
	if a.logStoreKey != "" {
		if _, err := logStorePool.Delete(a.logStoreKey); err != nil {
			a.logger.Warn("closing the login log store", "error", err)
		}
	}
	if a.storeKey != "" {
		if _, err := statePool.Delete(a.storeKey); err != nil {
			a.logger.Warn("closing the state", "error", err)
		}
	}
}

// Emit hands an event to the log store and to every connector, without
// blocking.
func (a *App) Emit(ev event.Event) { a.pipe.Emit(ev) }

// LogStore returns the login log store, nil when it is off.
func (a *App) LogStore() logstore.Store { return a.logStore }

// ConnectorStats returns the delivery statistics of the log store and the
// connectors.
func (a *App) ConnectorStats() []connectors.Stats {
	if a.pipe == nil {
		return nil
	}
	return a.pipe.Stats()
}

// Store returns the lockout state store.
func (a *App) Store() state.Store { return a.store }

// FailClosed reports whether on_state_error is fail_closed.
func (a *App) FailClosed() bool { return a.OnStateError == "fail_closed" }

// Logger returns the app's logger.
func (a *App) Logger() *slog.Logger { return a.logger }

// Pwned returns the breached-password set, nil when there is none.
func (a *App) Pwned() pwned.Checker { return a.pwned }

// Interface guards.
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
	_ gateway.App        = (*App)(nil)
)

// StateError counts a failed state call and warns once per outage.
func (a *App) StateError(op string, err error) {
	if errors.Is(err, context.Canceled) {
		return // a request's client went away: not the store's failure
	}
	a.metrics.stateErrors.WithLabelValues(op).Inc()
	a.health.lastError.Store(time.Now().UnixNano())
	if a.health.down.CompareAndSwap(false, true) {
		if a.OnStateError == "fail_closed" {
			a.logger.Warn("state store unavailable: login attempts are refused (503) until it is back", "op", op, "error", err)
		} else {
			a.logger.Warn("state store unavailable: login attempts go through uncounted until it is back", "op", op, "error", err)
		}
	}
}

// StateOK notes a successful state call. An outage ends when calls have
// succeeded for outageSettle after the last error, so that a store that flaps
// while it comes back is one outage, with one warning.
func (a *App) StateOK() {
	if !a.health.down.Load() || time.Since(time.Unix(0, a.health.lastError.Load())) < outageSettle {
		return
	}
	if a.health.down.CompareAndSwap(true, false) {
		a.logger.Info("state store available again")
	}
}

const outageSettle = 2 * time.Second
