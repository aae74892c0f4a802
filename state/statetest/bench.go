package statetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/state"
)

// BenchTouchSession is the body of a store's TouchSession benchmark: it puts
// 1,000 sessions, then alternates Session (the baseline) and TouchSession on
// them in one loop, so that both calls see the same load on a shared machine,
// and reports each call's time, their ratio (touch/session) and, when
// roundTrips is not nil (a counter of the store's round trips), round trips
// per touch. With write false the clock stands still and every is a minute:
// a busy session between its writes; with write true every touch writes
// LastSeen. With parallelism above 0 the loop runs on that many goroutines
// per CPU (b.RunParallel), each call's time is its latency under that load,
// and round trips are not reported (batched calls share them). s's clock
// must be clock.
func BenchTouchSession(b *testing.B, s state.Store, clock *Clock, write bool, parallelism int, roundTrips func() int64) {
	ctx := context.Background()
	const sessions = 1000
	hashes := make([]string, sessions)
	for i := range hashes {
		hashes[i] = fmt.Sprintf("%064x", i)
		sess := state.Session{Account: "user-" + strconv.Itoa(i), Source: "API_PORTAL", Principal: "user@example.com",
			PortalID: "portal-1", Prefix: "203.0.113.0/24", ASN: 64500, Method: "form"}
		if err := s.PutSession(ctx, hashes[i], sess, 24*time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	every := time.Minute
	if write {
		every = 0
	}
	at := clock.Now()
	if _, _, err := s.TouchSession(ctx, hashes[0], at, every); err != nil { // a script's first call loads it
		b.Fatal(err)
	}
	var inSession, inTouch, trips atomic.Int64
	var clockMu sync.Mutex
	next := func() time.Time {
		if !write {
			return at
		}
		clockMu.Lock()
		defer clockMu.Unlock()
		at = at.Add(time.Millisecond)
		return at
	}
	var seq atomic.Uint64
	one := func() {
		h := hashes[seq.Add(1)%sessions]
		t0 := time.Now()
		if _, ok, err := s.Session(ctx, h); err != nil || !ok {
			b.Errorf("Session: %v %v", ok, err)
			return
		}
		t1 := time.Now()
		var before int64
		if roundTrips != nil {
			before = roundTrips()
		}
		if _, ok, err := s.TouchSession(ctx, h, next(), every); err != nil || !ok {
			b.Errorf("TouchSession: %v %v", ok, err)
			return
		}
		inTouch.Add(int64(time.Since(t1)))
		inSession.Add(int64(t1.Sub(t0)))
		if roundTrips != nil {
			trips.Add(roundTrips() - before)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	if parallelism > 0 {
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				one()
			}
		})
	} else {
		for b.Loop() {
			one()
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(inSession.Load())/n, "session-ns/op")
	b.ReportMetric(float64(inTouch.Load())/n, "touch-ns/op")
	b.ReportMetric(float64(inTouch.Load())/float64(inSession.Load()), "touch/session")
	if roundTrips != nil && parallelism == 0 {
		b.ReportMetric(float64(trips.Load())/n, "roundtrips/touch")
	}
}
