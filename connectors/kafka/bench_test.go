package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
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

// gate holds deliveries back while closed, as a sink that is down.
type gate struct {
	connectors.Connector
	open atomic.Bool
}

func (g *gate) Deliver(ctx context.Context, b []event.Event) error {
	if !g.open.Load() {
		return errors.New("down")
	}
	return g.Connector.Deliver(ctx, b)
}

// BenchmarkSpoolBacklogToKafka spools b.N events while the sink is down, then
// reports events/s from the moment it is back until the backlog is delivered:
// the catch-up rate, reading the spool from disk (past its in-memory copy).
//
//	go test -run '^$' -bench SpoolBacklog -benchtime 500000x ./connectors/kafka/
func BenchmarkSpoolBacklogToKafka(b *testing.B) {
	addr := newCluster(b).ListenAddrs()[0]
	sink, err := New(Options{Brokers: []string{addr}, Topic: topic})
	if err != nil {
		b.Fatal(err)
	}
	g := &gate{Connector: sink}
	sp, err := spool.Open(spool.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	d := connectors.NewDispatcher(connectors.Options{Logger: slog.New(slog.DiscardHandler), QueueSize: 50000,
		BatchSize: 1000, FlushInterval: 5 * time.Millisecond, RetryBackoff: time.Millisecond,
		MaxRetryBackoff: 2 * time.Millisecond}, connectors.Named{Name: "kafka", Connector: g, Spool: sp})
	ev := event.Event{ID: event.NewID(), Source: event.SourceManager, Principal: event.Str("user1"),
		EventDate: time.Now(), EventType: event.LoginFailure, RemoteAddress: "198.51.100.7",
		Message: event.Str("Bad credentials"), Reason: event.BadCredentials, FailureCount: 1}
	for i := range b.N {
		if i%1000 == 0 {
			for st := d.Stats()[0]; int64(st.Queued)-st.Spooled > 25000; st = d.Stats()[0] {
				time.Sleep(100 * time.Microsecond)
			}
		}
		d.Emit(ev)
	}
	for d.Stats()[0].Spooled < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ResetTimer()
	start := time.Now()
	g.open.Store(true)
	waitDelivered(b, d, uint64(b.N))
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		b.Fatal(err)
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
