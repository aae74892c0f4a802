package admin

import (
	"context"
	"net/http"
)

// Actor is who made an admin call: the token's name, the client's address and
// user agent. The admin handler puts it in the context of the calls it makes
// to Lockouts, so that the events of an admin's lock, unlock, block and unblock
// say who did it, from where.
type Actor struct {
	Name      string
	IP        string
	UserAgent string
	// TraceParent is the call's W3C traceparent header, so that the span of
	// the action continues the caller's trace.
	TraceParent string
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorOf returns the actor ctx carries, if any.
func ActorOf(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// actorOf is the actor of an admin call.
func actorOf(r *http.Request, c *call) Actor {
	return Actor{Name: c.token.who(), IP: remoteIP(r), UserAgent: r.UserAgent(), TraceParent: r.Header.Get("Traceparent")}
}
