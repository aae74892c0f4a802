package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/spool"
	"github.com/loginguard/loginguard/event"
)

// BenchmarkDispatcherToKafka emits b.N events through one dispatcher to the
// Kafka sink and the in-process broker, and reports events/s from the first
// Emit to the last acknowledged delivery: spool=off is the in-memory queue,
// spool=on the durable spool (fsync per batch). The producer waits while more
// than half the queue is waiting, so no event is dropped.
//
//	go test -run '^$' -bench DispatcherToKafka -benchtime 200000x ./connectors/kafka/
func BenchmarkDispatcherToKafka(b *testing.B) {
	for _, spooled := range []bool{false, true} {
		b.Run(fmt.Sprintf("spool=%v", map[bool]string{false: "off", true: "on"}[spooled]), func(b *testing.B) {
			addr := newCluster(b).ListenAddrs()[0]
			sink, err := New(Options{Brokers: []string{addr}, Topic: topic})
			if err != nil {
				b.Fatal(err)
			}
			named := connectors.Named{Name: "kafka", Connector: sink}
			if spooled {
				sp, err := spool.Open(spool.Options{Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				named.Spool = sp
			}
			const queue = 50000
			d := connectors.NewDispatcher(connectors.Options{Logger: slog.New(slog.DiscardHandler), QueueSize: queue,
				BatchSize: 1000, FlushInterval: 5 * time.Millisecond}, named)
			evs := make([]event.Event, 1024)
			for i := range evs {
				evs[i] = event.Event{ID: event.NewID(), Source: event.SourceManager,
					Principal: event.Str(fmt.Sprintf("user%d", i%100)), EventDate: time.Now(),
					EventType: event.LoginFailure, RemoteAddress: "198.51.100.7",
					Message: event.Str("Bad credentials"), Reason: event.BadCredentials, FailureCount: 1}
			}
			// Connect before timing.
			d.Emit(evs[0])
			waitDelivered(b, d, 1)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if i%1000 == 0 {
					for d.Stats()[0].Queued > queue/2 {
						time.Sleep(100 * time.Microsecond)
					}
				}
				d.Emit(evs[i%len(evs)])
			}
			waitDelivered(b, d, uint64(b.N)+1)
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
			st := d.Stats()[0]
			if st.Dropped != 0 || st.Failed != 0 {
				b.Fatalf("stats %+v", st)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := d.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func waitDelivered(b *testing.B, d *connectors.Dispatcher, n uint64) {
	deadline := time.Now().Add(5 * time.Minute)
	for d.Stats()[0].Delivered < n {
		if time.Now().After(deadline) {
			b.Fatalf("timed out: %+v", d.Stats()[0])
		}
		time.Sleep(200 * time.Microsecond)
	}
}
