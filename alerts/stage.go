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
func (e *Engine) Stage() connectors.Stage { return stage{e} }

type stage struct{ e *Engine }

func (s stage) Observe(ev event.Event, now time.Time) []connectors.Finding {
	als := s.e.Observe(ev, now)
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
