package rabbitmq

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/spool"
	"github.com/loginguard/loginguard/event"
)

// BenchmarkDispatcherToRabbitMQ emits b.N events through one dispatcher to the
// RabbitMQ sink and the machine's broker (amqpURL: 127.0.0.1:5672, guest), and
// reports events/s from the first Emit to the last acknowledged delivery. The
// sink runs as the product runs it: confirm mode, persistent messages, a
// durable queue it declares (a fresh one per case, deleted after), a batch
// delivered once the broker confirmed every message. The dispatcher has the
// product's defaults (queue 10,000, batches of 500, flush 200 ms); spool=off is
// the memory queue only, the baseline, spool=on the durable spool (fsync per
// batch). The producer waits while more than half the queue is waiting, so no
// event is dropped. It fails, not skips, without a broker.
//
//	go test -run '^$' -bench DispatcherToRabbitMQ -benchtime 50000x ./connectors/rabbitmq/
func BenchmarkDispatcherToRabbitMQ(b *testing.B) {
	for _, spooled := range []bool{false, true} {
		b.Run("spool="+map[bool]string{false: "off", true: "on"}[spooled], func(b *testing.B) {
			conn, err := amqp.Dial(amqpURL())
			if err != nil {
				b.Fatalf("RabbitMQ at %s: %v (start rabbitmq-server)", amqpURL(), err)
			}
			defer conn.Close()
			ch, err := conn.Channel()
			if err != nil {
				b.Fatal(err)
			}
			q := fmt.Sprintf("lgbench-%d-%d", time.Now().UnixNano(), seq.Add(1))
			defer ch.QueueDelete(q, false, false, false)
			sink, err := New(Options{URL: amqpURL(), RoutingKey: q, Queue: q})
			if err != nil {
				b.Fatal(err)
			}
			named := connectors.Named{Name: "rabbitmq", Connector: sink}
			if spooled {
				sp, err := spool.Open(spool.Options{Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				named.Spool = sp
			}
			d := connectors.NewDispatcher(connectors.Options{Logger: slog.New(slog.DiscardHandler)}, named)
			runDispatcherBench(b, d, connectors.DefaultQueueSize)
			info, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
			if err != nil {
				b.Fatal(err)
			}
			if info.Messages < b.N+1 {
				b.Fatalf("the queue holds %d messages, want %d", info.Messages, b.N+1)
			}
		})
	}
}

// benchEvents are the events the benchmark emits, in turn: failures of 100
// principals, as the Kafka benchmark emits.
func benchEvents() []event.Event {
	evs := make([]event.Event, 1024)
	for i := range evs {
		evs[i] = event.Event{ID: event.NewID(), Source: event.SourceManager,
			Principal: event.Str(fmt.Sprintf("user%d", i%100)), EventDate: time.Now(),
			EventType: event.LoginFailure, RemoteAddress: "198.51.100.7",
			Message: event.Str("Bad credentials"), Reason: event.BadCredentials, FailureCount: 1}
	}
	return evs
}

// runDispatcherBench delivers one event before the timer (to connect), then
// emits b.N, keeping at most half of queue waiting, waits until all are
// delivered, reports events/s and closes d. Nothing may be dropped or failed.
func runDispatcherBench(b *testing.B, d *connectors.Dispatcher, queue int) {
	b.Helper()
	evs := benchEvents()
	d.Emit(evs[0])
	waitDelivered(b, d, 1)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if i%100 == 0 {
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
}

func waitDelivered(b *testing.B, d *connectors.Dispatcher, n uint64) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for d.Stats()[0].Delivered < n {
		if time.Now().After(deadline) {
			b.Fatalf("timed out: %+v", d.Stats()[0])
		}
		time.Sleep(200 * time.Microsecond)
	}
}
