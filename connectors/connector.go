// Package connectors carries login events from the request path to their sinks: the
// Connector interface every sink implements, and the Dispatcher that gives each
// connector its own bounded queue and delivery goroutine so that no sink can slow a
// login or another sink. One sub-package per sink.
package connectors

import (
	"context"

	"github.com/loginguard/loginguard/event"
)

// Connector delivers batches of events to one sink.
type Connector interface {
	// Deliver writes batch to the sink. It returns an error when any event of the
	// batch was not delivered; the dispatcher then retries the whole batch, so a
	// sink that can should make redelivery idempotent by event id.
	Deliver(ctx context.Context, batch []event.Event) error
	// Close flushes and releases the sink.
	Close() error
}
