package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/loginguard/loginguard/event"
)

// BenchmarkDeliver measures ingest in dispatcher-sized batches of 500 events
// (one op is one event), sealing included.
func BenchmarkDeliver(b *testing.B) {
	s := open(b, Options{})
	ctx := context.Background()
	start := time.Now().Add(-90 * 24 * time.Hour)
	const batch = 500
	buf := make([]event.Event, 0, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		at := start.Add(time.Duration(i) * 777 * time.Millisecond)
		u := i * 7919 % 20000
		e := event.Event{ID: uuid.Must(uuid.NewV7()).String(), EventDate: at, Source: event.SourcePortal,
			Email: event.Str(fmt.Sprintf("user%d@example.com", u)), EventType: event.LoginSuccess,
			RemoteAddress: fmt.Sprintf("10.%d.%d.%d", u%7, i%251, u%13), PortalID: event.Str("p1"),
			UserAgent: "Mozilla/5.0", Host: "portal.example.com", Path: "/login"}
		if i%5 == 0 {
			e.EventType, e.Reason = event.LoginFailure, event.BadCredentials
			e.Message = event.Str("Account " + *e.Email + " failed authentication due to 1 failed login attempts")
			e.FailureCount = 1
		}
		buf = append(buf, e)
		if len(buf) == batch || i == b.N-1 {
			if err := s.Deliver(ctx, buf); err != nil {
				b.Fatal(err)
			}
			buf = buf[:0]
		}
	}
}
