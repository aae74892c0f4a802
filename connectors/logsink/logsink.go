// Package logsink is the connector that writes every login event to a
// *slog.Logger as one record, message "login event", with the event's fields
// as attributes named as in the event's JSON.
package logsink

import (
	"context"
	"log/slog"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

// Message is the message of every record the sink writes.
const Message = "login event"

// Sink logs events. It is safe for concurrent use as far as its logger's
// handler is (slog's own handlers are).
type Sink struct {
	log   *slog.Logger
	level slog.Level
}

// New returns a sink that logs at level to l (slog.Default() when l is nil).
func New(l *slog.Logger, level slog.Level) *Sink {
	if l == nil {
		l = slog.Default()
	}
	return &Sink{log: l, level: level}
}

// Deliver logs each event of batch as one record. The contract fields are
// always present (null when nil); the extensions only when set, as in the
// event's JSON.
func (s *Sink) Deliver(ctx context.Context, batch []event.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(batch) == 0 || !s.log.Enabled(ctx, s.level) {
		return nil
	}
	attrs := make([]slog.Attr, 0, 18)
	for i := range batch {
		attrs = Attrs(attrs[:0], &batch[i])
		s.log.LogAttrs(ctx, s.level, Message, attrs...)
	}
	return nil
}

// Attrs appends ev's fields to attrs as slog attributes named after the
// event's JSON fields, eventDate formatted with event.DateLayout in UTC.
func Attrs(attrs []slog.Attr, ev *event.Event) []slog.Attr {
	attrs = append(attrs,
		slog.String("id", ev.ID),
		slog.String("eventType", string(ev.EventType)),
		slog.String("source", string(ev.Source)),
		nullable("principal", ev.Principal),
		nullable("email", ev.Email),
		nullable("displayName", ev.DisplayName),
		slog.String("eventDate", ev.EventDate.UTC().Format(event.DateLayout)),
		slog.String("remoteAddress", ev.RemoteAddress),
		nullable("message", ev.Message),
		nullable("errorType", ev.ErrorType),
		nullable("portalId", ev.PortalID),
		nullable("accountId", ev.AccountID),
	)
	if ev.Reason != "" {
		attrs = append(attrs, slog.String("reason", string(ev.Reason)))
	}
	if ev.FailureCount != 0 {
		attrs = append(attrs, slog.Int("failureCount", ev.FailureCount))
	}
	if ev.UserAgent != "" {
		attrs = append(attrs, slog.String("userAgent", ev.UserAgent))
	}
	if ev.Host != "" {
		attrs = append(attrs, slog.String("host", ev.Host))
	}
	if ev.Path != "" {
		attrs = append(attrs, slog.String("path", ev.Path))
	}
	if ev.TraceID != "" {
		attrs = append(attrs, slog.String("traceId", ev.TraceID))
	}
	return attrs
}

// nullable is a string attribute, or a nil one (JSON null) when p is nil.
func nullable(key string, p *string) slog.Attr {
	if p == nil {
		return slog.Any(key, nil)
	}
	return slog.String(key, *p)
}

// Close does nothing: the logger belongs to the caller.
func (s *Sink) Close() error { return nil }

// Interface guard.
var _ connectors.Connector = (*Sink)(nil)
