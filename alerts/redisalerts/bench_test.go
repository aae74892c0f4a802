package redisalerts_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/loginguard/loginguard/alerts"
	"github.com/loginguard/loginguard/event"
)

// BenchmarkObserve compares the event path's cost of the alert engine with
// windows in memory (alerts.New) and in Redis (alerts.NewFleet on Windows):
// "redis" is Observe alone, as the pipeline pays it, with the flusher working
// beside it (past what Redis can take, the queue is full and events are
// dropped: dropped/op); "redis-applied" waits for every BatchSize events to
// be applied in Redis, so its ns/op is the whole cost per event. Run them in
// one go and compare the ratio:
//
//	go test ./alerts/redisalerts/ -run '^$' -bench Observe -count 5
func BenchmarkObserve(b *testing.B) {
	evs := make([]event.Event, 4096)
	for i := range evs {
		evs[i] = fail(fmt.Sprintf("user%d@x.com", i%1000), fmt.Sprintf("10.0.%d.%d", i/256%16, i%256))
	}
	t0 := time.Now()
	b.Run("memory", func(b *testing.B) {
		e, err := alerts.New(alerts.Defaults(), 0)
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			e.Observe(evs[i%len(evs)], t0.Add(time.Duration(i)*time.Millisecond))
			i++
		}
	})
	c := sharedClient(b)
	for _, applied := range []bool{false, true} {
		name := "redis"
		if applied {
			name = "redis-applied"
		}
		b.Run(name, func(b *testing.B) {
			e, err := alerts.NewFleet(alerts.Defaults(), newWindows(b, c, randomPrefix(b, c)), alerts.FleetOptions{})
			if err != nil {
				b.Fatal(err)
			}
			e.Start(func([]alerts.Alert) {})
			defer e.Close()
			i := 0
			for b.Loop() {
				e.Observe(evs[i%len(evs)], t0.Add(time.Duration(i)*time.Millisecond))
				i++
				if applied && i%alerts.DefaultBatchSize == 0 {
					e.Flush()
				}
			}
			e.Flush()
			b.StopTimer()
			e.Flush()
			st := e.Stats()
			if st.Failed != 0 || applied && st.Dropped != 0 {
				b.Fatalf("stats %+v", st)
			}
			b.ReportMetric(float64(st.Dropped)/float64(b.N), "dropped/op")
		})
	}
}
