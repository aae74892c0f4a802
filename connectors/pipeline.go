package connectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/loginguard/loginguard/connectors/spool"
	"github.com/loginguard/loginguard/event"
)

// StoreName is the log store's name among the pipeline's outputs: in
// statistics, metrics and warnings.
const StoreName = "store"

// Pipeline carries every login event from the gateway to its outputs: the
// login log store and the connectors, each with its own queue (and spool),
// through stages that watch the events and may add their own (the alert
// engine). It knows nothing of Caddy: the Caddy module builds it from config
// and hands it the events; nothing an event goes through calls back up.
type Pipeline struct {
	d          *Dispatcher
	store      bool            // the log store is an output
	selectable map[string]bool // the names a route may choose
	stages     []stage
	log        *slog.Logger
	found      func(Finding)
	enrich     func(*event.Event)
}

// PipelineConfig is what a Pipeline is built from.
type PipelineConfig struct {
	// Options of every output's queue and delivery.
	Options
	// Store is the login log store, given its own queue; nil: none. The
	// pipeline does not close it: its owner does (the store outlives a
	// pipeline across config reloads).
	Store Connector
	// StoreSpool, when not nil, is the log store's spool (see Named.Spool);
	// the pipeline closes it.
	StoreSpool *spool.Spool
	// StoreLag, when not nil, is told of every event the store wrote: how
	// long after the login it was written.
	StoreLag func(time.Duration)
	// Enrich, when not nil, completes every event before it goes anywhere
	// (location and device fields). It runs in Emit, so it must be quick.
	Enrich func(*event.Event)
	// Outputs are the connectors, each with its name and optional spool; the
	// pipeline closes them.
	Outputs []Named
	// Selectable lists the names a route's or a stage's connector list may
	// choose: every configured connector, active or not (an inactive one is
	// not among the outputs and receives nothing). An output whose name is
	// not listed receives every event, whatever the routes choose.
	Selectable []string
	// Stages see every event, in order; see Stage.
	Stages []StageConfig
	// Found, when not nil, is told of every finding of a stage (for metrics).
	Found func(Finding)
}

// Stage watches the events a pipeline carries and may answer with findings
// (an alert): each finding's event is carried too, to the stage's route, and
// logged as a warning. Observe is called from Emit, so it must be quick and
// safe for concurrent use. A finding's event is not shown to the stages.
type Stage interface {
	Observe(ev event.Event, now time.Time) []Finding
}

// AsyncStage is a Stage whose findings may also come later, from goroutines
// of its own (a stage that asks a store or Redis before it decides): the
// pipeline calls Start once, before any Observe, with the function that
// carries findings (safe for concurrent use), and Close when it closes,
// before its outputs close; a finding reported after Close is dropped.
type AsyncStage interface {
	Stage
	Start(report func([]Finding))
	Close() error
}

// Finding is what a stage found: an event to carry, and the warning to log.
type Finding struct {
	Event event.Event
	// Kind names what was found (an alert's rule), for metrics.
	Kind string
	// Message and Attrs are the warning logged for it.
	Message string
	Attrs   []slog.Attr
}

// StageConfig is a stage and where its findings go.
type StageConfig struct {
	Stage Stage
	// Field names the config field of Connectors, for errors.
	Field string
	// Connectors names the connectors the findings go to (and the log store,
	// and every output not in Selectable); nil: every connector.
	Connectors *[]string
}

type stage struct {
	Stage
	route Route
}

// Route is where one source's events go: the log store or not, and a choice
// of connectors. The zero Route chooses every output; Pipeline.Route builds
// the others.
type Route struct {
	to Targets
}

// NewPipeline builds the pipeline and starts its outputs' delivery. Close
// stops them. An error names the config field at fault; the outputs are then
// closed.
func NewPipeline(c PipelineConfig) (*Pipeline, error) {
	p := &Pipeline{store: c.Store != nil, selectable: map[string]bool{}, log: c.Logger, found: c.Found, enrich: c.Enrich}
	if p.log == nil {
		p.log = slog.Default()
	}
	for _, n := range c.Selectable {
		p.selectable[n] = true
	}
	seen := map[string]bool{StoreName: p.store}
	for _, o := range c.Outputs {
		if seen[o.Name] {
			closeAll(c.Outputs)
			if c.StoreSpool != nil {
				c.StoreSpool.Close()
			}
			return nil, fmt.Errorf("connector %s: name: used twice (the log store's is %q)", o.Name, StoreName)
		}
		seen[o.Name] = true
	}
	outs := c.Outputs
	if p.store {
		outs = append([]Named{{Name: StoreName, Connector: storeOutput{c.Store, c.StoreLag}, Spool: c.StoreSpool}}, outs...)
	}
	p.d = NewDispatcher(c.Options, outs...)
	for _, s := range c.Stages {
		r, err := p.Route(s.Field, s.Connectors, true)
		if err != nil {
			p.Close(context.Background())
			return nil, err
		}
		p.stages = append(p.stages, stage{s.Stage, r})
		if as, ok := s.Stage.(AsyncStage); ok {
			as.Start(func(fs []Finding) { p.carry(fs, r) })
		}
	}
	return p, nil
}

// closeAll closes outputs that never got a queue.
func closeAll(outs []Named) {
	for _, o := range outs {
		o.Connector.Close()
		if o.Spool != nil {
			o.Spool.Close()
		}
	}
}

// Route resolves a connector list (a route's `connectors`, named field in
// errors) and whether events are saved to the log store: nil names choose
// every connector; an empty list, none but the outputs every event goes to. A
// name no connector has is an error that lists the defined ones.
func (p *Pipeline) Route(field string, names *[]string, save bool) (Route, error) {
	if names == nil && (save || !p.store) {
		return Route{}, nil
	}
	chosen := map[string]bool{}
	if names != nil {
		for _, n := range *names {
			if !p.selectable[n] {
				defined := slices.Sorted(maps.Keys(p.selectable))
				if len(defined) == 0 {
					return Route{}, fmt.Errorf("%s: unknown connector %q: the loginguard app defines none", field, n)
				}
				return Route{}, fmt.Errorf("%s: unknown connector %q: the loginguard app defines %s", field, n, strings.Join(defined, ", "))
			}
			chosen[n] = true
		}
	}
	return Route{to: p.d.Select(func(name string) bool {
		if name == StoreName && p.store {
			return save
		}
		return names == nil || !p.selectable[name] || chosen[name]
	})}, nil
}

// Names lists the outputs r chooses (the log store as StoreName).
func (p *Pipeline) Names(r Route) []string { return p.d.Names(r.to) }

// Emit carries ev to every output.
func (p *Pipeline) Emit(ev event.Event) { p.EmitTo(ev, Route{}) }

// EmitTo carries ev to the outputs r chooses, without blocking (see
// Dispatcher.Emit), completed by Enrich first, then shows it to the stages
// and carries their findings.
func (p *Pipeline) EmitTo(ev event.Event, r Route) {
	if p.enrich != nil {
		p.enrich(&ev)
	}
	p.d.EmitTo(ev, r.to)
	if len(p.stages) == 0 {
		return
	}
	now := time.Now()
	for _, s := range p.stages {
		p.carry(s.Observe(ev, now), s.route)
	}
}

// carry logs, reports and carries a stage's findings to its route.
func (p *Pipeline) carry(fs []Finding, r Route) {
	for _, f := range fs {
		p.log.LogAttrs(context.Background(), slog.LevelWarn, f.Message, f.Attrs...)
		if p.found != nil {
			p.found(f)
		}
		p.d.EmitTo(f.Event, r.to)
	}
}

// Stats returns the delivery statistics of every output, the log store first.
func (p *Pipeline) Stats() []Stats { return p.d.Stats() }

// Close delivers what is queued, until ctx ends, and stops every goroutine
// the pipeline started; see Dispatcher.Close. Events emitted after Close are
// counted as dropped.
func (p *Pipeline) Close(ctx context.Context) error {
	var errs []error
	for _, s := range p.stages {
		if as, ok := s.Stage.(AsyncStage); ok {
			if err := as.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing a stage: %w", err))
			}
		}
	}
	return errors.Join(append(errs, p.d.Close(ctx))...)
}

// storeOutput is the log store as an output: it tells the write lag of every
// event written, and leaves the store open when the pipeline closes.
type storeOutput struct {
	Connector
	lag func(time.Duration)
}

func (storeOutput) Close() error { return nil }

func (s storeOutput) Deliver(ctx context.Context, batch []event.Event) error {
	err := s.Connector.Deliver(ctx, batch)
	if err == nil && s.lag != nil {
		now := time.Now()
		for i := range batch {
			s.lag(now.Sub(batch[i].EventDate))
		}
	}
	return err
}
