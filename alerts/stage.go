package alerts

import (
	"log/slog"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

// Stage returns the engine as a stage of the event pipeline: each alert is an
// ALERT event, carried to the alerts' route, and a warning "loginguard alert"
// with the rule, subject, count and window.
//
// An Engine made by New answers from Observe. One made by NewFleet answers
// later, from the flushes of its windows: its stage is a connectors.AsyncStage,
// which the pipeline starts when it is built and closes before its outputs
// close, so that the last flush's alerts are still delivered.
func (e *Engine) Stage() connectors.Stage { return stage{e} }

type stage struct{ e *Engine }

func (s stage) Observe(ev event.Event, now time.Time) []connectors.Finding {
	return findings(s.e.Observe(ev, now))
}

// Start starts the engine, its alerts handed to found as findings (nothing
// for an Engine made by New, whose Observe answers).
func (s stage) Start(found func([]connectors.Finding)) {
	s.e.Start(func(als []Alert) { found(findings(als)) })
}

// Close closes the engine (Engine.Close).
func (s stage) Close() error { return s.e.Close() }

// findings turns alerts into the pipeline's findings.
func findings(als []Alert) []connectors.Finding {
	if len(als) == 0 {
		return nil
	}
	fs := make([]connectors.Finding, len(als))
	for i, al := range als {
		fs[i] = connectors.Finding{
			Event:   al.Event(),
			Kind:    al.Rule,
			Message: "loginguard alert",
			Attrs: []slog.Attr{slog.String("rule", al.Rule), slog.String("subject", al.Subject),
				slog.Int("count", al.Count), slog.String("window", al.Window.String())},
		}
	}
	return fs
}
