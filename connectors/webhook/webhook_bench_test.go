package webhook

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/spool"
	"github.com/loginguard/loginguard/event"
)

// benchReceiver is a lean webhook target for benchmarks: it reads each body,
// verifies its signature when wh is set, counts, and answers 204.
type benchReceiver struct {
	wh       *standardwebhooks.Webhook
	got      atomic.Int64
	rejected atomic.Int64
}

func (r *benchReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err == nil && r.wh != nil {
		err = r.wh.Verify(body, req.Header)
	}
	if err != nil {
		r.rejected.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.got.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

// BenchmarkDispatcherToWebhook emits b.N events through one dispatcher to the
// webhook sink and a receiver in this process (httptest, HTTP/1.1 kept alive),
// and reports events/s from the first Emit to the last acknowledged delivery.
// The dispatcher has the product's defaults (queue 10,000, batches of 500,
// flush 200 ms). Cases:
//
//	spool=off/signed=off  memory queue only, no secret: the baseline
//	spool=on/signed=off   the durable spool (fsync per batch), unsigned
//	spool=on/signed=on    the spool, one secret: the sink signs every request
//	                      (HMAC-SHA256) and the receiver verifies it with the
//	                      Standard Webhooks library, as a real receiver would
//	spool=on/signed=on/batch=100  the same, up to 100 events per request
//
// The producer waits while more than half the queue is waiting, so no event is
// dropped; every event (or batch) is one POST, one after another, as the sink
// sends them.
//
//	go test -run '^$' -bench DispatcherToWebhook -benchtime 50000x ./connectors/webhook/
func BenchmarkDispatcherToWebhook(b *testing.B) {
	for _, c := range []struct {
		spool, signed bool
		batch         int
	}{{false, false, 1}, {true, false, 1}, {true, true, 1}, {true, true, 100}} {
		name := fmt.Sprintf("spool=%s/signed=%s", onOff(c.spool), onOff(c.signed))
		if c.batch > 1 {
			name += fmt.Sprintf("/batch=%d", c.batch)
		}
		b.Run(name, func(b *testing.B) {
			rcv := &benchReceiver{}
			o := Options{Batch: c.batch}
			if c.signed {
				wh, err := standardwebhooks.NewWebhook(secretA)
				if err != nil {
					b.Fatal(err)
				}
				rcv.wh = wh
				o.Secrets = []string{secretA}
			}
			srv := httptest.NewServer(rcv)
			defer srv.Close()
			o.URL = srv.URL + "/hook"
			sink, err := New(o)
			if err != nil {
				b.Fatal(err)
			}
			named := connectors.Named{Name: "webhook", Connector: sink}
			if c.spool {
				sp, err := spool.Open(spool.Options{Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				named.Spool = sp
			}
			d := connectors.NewDispatcher(connectors.Options{Logger: slog.New(slog.DiscardHandler)}, named)
			runDispatcherBench(b, d, connectors.DefaultQueueSize)
			if n := rcv.rejected.Load(); n != 0 {
				b.Fatalf("the receiver rejected %d requests", n)
			}
			if got := rcv.got.Load(); got < int64(b.N)/int64(c.batch)+1 {
				b.Fatalf("the receiver got %d requests, want %d", got, b.N/c.batch+1)
			}
		})
	}
}

func onOff(v bool) string {
	if v {
		return "on"
	}
	return "off"
}

// benchEvents are the events the benchmarks emit, in turn: failures of 100
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
