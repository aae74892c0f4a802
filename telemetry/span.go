package telemetry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/event"
)

// noopSpan is the span of an attempt when telemetry is off.
var noopSpan = noop.Span{}

// StartSpan starts the span of a login or logout on r, a child of the span in
// r's context (the web server's, when its tracing is on) or else of the
// client's traceparent, and propagates it to the portal in r's traceparent
// header. Off, it returns r and a no-op span.
func (t *Telemetry) StartSpan(r *http.Request, name string) (*http.Request, trace.Span) {
	if t == nil {
		return r, noopSpan
	}
	ctx := r.Context()
	// Inside the web server's span the gateway's span is internal; with the
	// server's tracing off it is the server span of the request, continuing
	// the client's trace if it sent one.
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

// EndSpan sets the attributes of the attempt's outcome (ev, and identity, the
// email or username it was for) on span and ends it.
func (t *Telemetry) EndSpan(span trace.Span, ev *event.Event, identity string) {
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
func (t *Telemetry) user(identity string, email bool) attribute.KeyValue {
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

// AccountAction records an admin's lock or unlock of ev's account as a span
// named name (a child of ctx's span: the web server's request span when its
// tracing is on, else of the traceparent of ctx's admin.Actor) holding one
// span event, evName, and sets ev's traceId to the span's.
func (t *Telemetry) AccountAction(ctx context.Context, name, evName string, ev *event.Event) {
	if t == nil {
		return
	}
	if !trace.SpanContextFromContext(ctx).IsValid() {
		// The admin site is not traced: continue the caller's trace.
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
