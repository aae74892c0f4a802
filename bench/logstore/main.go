// Command logstore benchmarks a login log store: it generates realistic login
// events (90 days ending now, 100k users, about 1M IPs, 20% failures, a mix of
// reasons, some logouts), ingests them through Deliver in dispatcher-sized
// batches, runs the admin API's queries many times and prints one line per
// figure with its target, then the worst ratio of figure to target.
//
//	go run ./bench/logstore -driver sqlite -events 10000000 -db /tmp/log.db
//	go run ./bench/logstore -driver postgres -events 200000 -db postgres://root@127.0.0.1:5432/test
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/postgres"
	"github.com/loginguard/loginguard/logstore/sqlite"
)

func main() {
	driver := flag.String("driver", "sqlite", "sqlite or postgres")
	n := flag.Int("events", 200000, "events to generate")
	db := flag.String("db", "", "SQLite file (default: a temporary file) or PostgreSQL DSN")
	schema := flag.String("schema", "logstore_bench", "PostgreSQL schema (dropped and recreated)")
	batch := flag.Int("batch", 500, "events per Deliver call")
	samples := flag.Int("samples", 200, "samples per query figure")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the ingest to this file")
	ingestOnly := flag.Bool("ingest-only", false, "stop after the ingest figure (for profiling Deliver)")
	flag.Parse()
	ctx := context.Background()
	var (
		s     logstore.Store
		size  func() (int64, error)
		slack = 1.0
	)
	switch *driver {
	case "sqlite":
		path := *db
		if path == "" {
			dir, err := os.MkdirTemp("", "logstore-bench")
			if err != nil {
				log.Fatal(err)
			}
			defer os.RemoveAll(dir)
			path = dir + "/log.db"
		}
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			os.Remove(f)
		}
		st, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			log.Fatal(err)
		}
		s, size = st, func() (int64, error) { return st.Size(ctx) }
	case "postgres":
		dsn := *db
		if dsn == "" {
			dsn = "postgres://root@127.0.0.1:5432/test"
		}
		if err := postgres.DropSchema(ctx, dsn, *schema); err != nil {
			log.Fatal(err)
		}
		st, err := postgres.Open(ctx, dsn, postgres.Options{Schema: *schema})
		if err != nil {
			log.Fatal(err)
		}
		s, size, slack = st, func() (int64, error) { return st.Size(ctx) }, 2
	default:
		log.Fatalf("unknown driver %q", *driver)
	}
	defer s.Close()

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
	}
	g := newGen(*n)
	var ingest time.Duration
	buf := make([]event.Event, 0, *batch)
	for i := 0; i < *n; i++ {
		buf = append(buf, g.next())
		if len(buf) == *batch || i == *n-1 {
			t0 := time.Now()
			if err := s.Deliver(ctx, buf); err != nil {
				log.Fatalf("deliver: %v", err)
			}
			ingest += time.Since(t0)
			buf = buf[:0]
		}
		if (i+1)%1000000 == 0 {
			fmt.Fprintf(os.Stderr, "%d events, %.0f/s\n", i+1, float64(i+1)/ingest.Seconds())
		}
	}
	pprof.StopCPUProfile()
	var worst float64
	report := func(name string, v, target float64, unit string, lowerIsBetter bool) {
		target *= slack
		if !lowerIsBetter {
			target /= slack * slack // slack divides a throughput target
		}
		r := v / target
		if !lowerIsBetter {
			r = target / v
		}
		worst = max(worst, r)
		ok := "ok"
		if r > 1 {
			ok = "MISSED"
		}
		fmt.Printf("%-44s %12.2f %-9s target %s %10.2f  ratio %.2f %s\n", name, v, unit, map[bool]string{true: "<=", false: ">="}[lowerIsBetter], target, r, ok)
	}
	info := func(name string, v float64, unit string) {
		fmt.Printf("%-44s %12.2f %-9s (no target in the brief)\n", name, v, unit)
	}
	fmt.Printf("driver %s, %d events, batch %d\n", *driver, *n, *batch)
	report("ingest (Deliver)", float64(*n)/ingest.Seconds(), 50000, "events/s", false)
	if *ingestOnly {
		return
	}

	now := g.end
	from := now.Add(-30 * 24 * time.Hour)
	page := func(f logstore.Filter) time.Duration {
		t0 := time.Now()
		if _, err := s.Query(ctx, f, logstore.Page{Size: 20}); err != nil {
			log.Fatalf("query: %v", err)
		}
		return time.Since(t0)
	}
	var d []time.Duration
	var hits int64
	for range *samples {
		u := g.user()
		for u%5 == 0 { // managers have principals, not emails
			u = g.user()
		}
		email := g.email(u)
		r, err := s.Query(ctx, logstore.Filter{Email: email, From: from, To: now}, logstore.Page{Size: 20})
		if err != nil {
			log.Fatal(err)
		}
		hits += r.TotalElements
		d = append(d, page(logstore.Filter{Email: email, From: from, To: now}))
	}
	report(fmt.Sprintf("page+total, one email, 30 days (avg %d rows)", hits/int64(*samples)), ms(p95(d)), 5, "ms p95", true)
	d, hits = d[:0], 0
	for range *samples {
		ip := g.seenIPs[rand.IntN(len(g.seenIPs))]
		r, err := s.Query(ctx, logstore.Filter{IP: ip, From: from, To: now}, logstore.Page{Size: 20})
		if err != nil {
			log.Fatal(err)
		}
		hits += r.TotalElements
		d = append(d, page(logstore.Filter{IP: ip, From: from, To: now}))
	}
	report(fmt.Sprintf("page+total, one IP, 30 days (avg %d rows)", hits/int64(*samples)), ms(p95(d)), 5, "ms p95", true)
	d = d[:0]
	for range *samples / 10 {
		d = append(d, page(logstore.Filter{Status: logstore.StatusFailure, From: from, To: now}))
	}
	info("page+total, failures, 30 days", ms(p95(d)), "ms p95")
	d = d[:0]
	for range 5 {
		t0 := time.Now()
		if _, err := s.Stats(ctx, from, now, logstore.Day, 10); err != nil {
			log.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	report("Stats, 30 days, daily series, top 10", ms(slices.Max(d)), 1000, "ms max", true)
	d = d[:0]
	for range 20 {
		t0 := time.Now()
		if _, err := s.Suspicious(ctx, logstore.SuspiciousQuery{Since: now.Add(-time.Hour)}); err != nil {
			log.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	report("Suspicious, last hour", ms(p95(d)), 50, "ms p95", true)
	d = d[:0]
	for range 20 {
		t0 := time.Now()
		if _, _, err := s.Users(ctx, logstore.UsersFilter{Size: 20}); err != nil {
			log.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	info("Users, first page", ms(p95(d)), "ms p95")

	// Each over the newest min(1M, n) events.
	want := min(1000000, *n)
	eachFrom := g.times[len(g.times)-want]
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc)
				}
			}
		}
	}()
	t0 := time.Now()
	var rows int
	if err := s.Each(ctx, logstore.Filter{From: eachFrom}, false, func(event.Event) error { rows++; return nil }); err != nil {
		log.Fatal(err)
	}
	el := time.Since(t0)
	close(stop)
	fmt.Printf("%-44s %12d rows in %.1fs (%.0f rows/s), peak heap %.1f MiB (%.1f MiB above baseline)\n", "Each, newest events", rows, el.Seconds(),
		float64(rows)/el.Seconds(), float64(peak.Load())/(1<<20), (float64(peak.Load())-float64(base.HeapAlloc))/(1<<20))

	sz, err := size()
	if err != nil {
		log.Fatal(err)
	}
	report("bytes on disk per event", float64(sz)/float64(*n), 150, "B", true)
	fmt.Printf("worst ratio %.2f (targets %s; <= 1 meets every target)\n", worst, map[bool]string{true: "x2 for postgres", false: "as in the brief"}[slack == 2])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func p95(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(math.Ceil(float64(len(s))*0.95))-1]
}

// gen generates events in time order.
type gen struct {
	r          *rand.Rand
	n, i       int
	start, end time.Time
	times      []time.Time
	seenIPs    []string
	uas        []string
	bots       []int
}

const (
	users   = 100000
	homeIPs = 300000
	botIPs  = 900000
)

func newGen(n int) *gen {
	g := &gen{r: rand.New(rand.NewPCG(1, 2)), n: n, end: time.Now().UTC().Truncate(time.Millisecond)}
	g.start = g.end.Add(-90 * 24 * time.Hour)
	g.times = make([]time.Time, n)
	span := g.end.Sub(g.start).Milliseconds()
	for i := range g.times {
		g.times[i] = g.start.Add(time.Duration(int64(i)*span/int64(n)+g.r.Int64N(max(1, span/int64(n)))) * time.Millisecond)
	}
	for i := range 40 {
		g.uas = append(g.uas, fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/%d.0 Safari/537.36", 100+i))
	}
	for range 20 {
		g.bots = append(g.bots, g.r.IntN(botIPs))
	}
	return g
}

// user picks an identity, some users far more active than others.
func (g *gen) user() int {
	u := g.r.Float64()
	return int(u * u * users)
}

func (g *gen) email(u int) string { return fmt.Sprintf("user%d@example%d.com", u, u%50) }

func ip(n int) string {
	return fmt.Sprintf("%d.%d.%d.%d", 11+n>>24&0x7f, n>>16&0xff, n>>8&0xff, n&0xff)
}

var reasons = []struct {
	r event.Reason
	w int
}{{event.BadCredentials, 60}, {event.AccountNotFound, 18}, {event.MFAFailed, 5}, {event.Locked, 5}, {event.RateLimited, 4},
	{event.Disabled, 2}, {event.MFARequired, 2}, {event.ConfirmationNeeded, 1}, {event.WaitingForApprovement, 1}, {event.UpstreamError, 1}, {event.Unknown, 1}}

func (g *gen) next() event.Event {
	at := g.times[g.i]
	g.i++
	r := g.r
	e := event.Event{EventDate: at, Host: "portal.example.com", UserAgent: g.uas[r.IntN(len(g.uas))]}
	u := g.user()
	x := r.IntN(100)
	var ipn int
	switch {
	case x < 10: // credential stuffing and brute force
		e.EventType = event.LoginFailure
		if r.IntN(4) == 0 {
			ipn = homeIPs + g.bots[r.IntN(len(g.bots))]
		} else {
			ipn = homeIPs + r.IntN(botIPs)
		}
		if r.IntN(3) == 0 {
			u = users + r.IntN(users) // unknown accounts
		}
	case x < 20:
		e.EventType = event.LoginFailure
		ipn = (u*3 + r.IntN(3)) % homeIPs
	case x < 30:
		e.EventType = event.Logout
		ipn = (u*3 + r.IntN(3)) % homeIPs
	default:
		e.EventType = event.LoginSuccess
		ipn = (u*3 + r.IntN(3)) % homeIPs
	}
	e.RemoteAddress = ip(ipn)
	if len(g.seenIPs) < 100000 {
		g.seenIPs = append(g.seenIPs, e.RemoteAddress)
	} else if j := r.IntN(g.i); j < len(g.seenIPs) {
		g.seenIPs[j] = e.RemoteAddress
	}
	if u%5 == 0 {
		e.Source, e.Principal, e.Path = event.SourceManager, event.Str(fmt.Sprintf("admin%d", u)), "/api/login"
	} else {
		e.Source, e.Email, e.Path = event.SourcePortal, event.Str(g.email(u)), "/portal/login"
		e.PortalID = event.Str(fmt.Sprintf("portal-%d", u%3))
		if u < users {
			e.DisplayName = event.Str(fmt.Sprintf("User %d", u))
			e.AccountID = event.Str(fmt.Sprintf("acc-%d", u))
		}
	}
	if e.EventType == event.LoginFailure {
		w := r.IntN(100)
		for _, c := range reasons {
			if w -= c.w; w < 0 {
				e.Reason = c.r
				break
			}
		}
		e.ErrorType = event.Str("AuthenticationException")
		e.FailureCount = 1 + r.IntN(5)
		if e.Reason == event.BadCredentials {
			e.Message = event.Str(fmt.Sprintf("Account %s failed authentication due to %d failed login attempts", e.Identity(), e.FailureCount))
		} else {
			e.Message = event.Str("Authentication failed -> " + string(e.Reason))
		}
	}
	if r.IntN(10) == 0 {
		e.TraceID = fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
	}
	// A UUIDv7 of the event's millisecond, as event.NewID gives at emit time.
	var id uuid.UUID
	msv := at.UnixMilli() + int64(r.IntN(3))
	for i := range 6 {
		id[i] = byte(msv >> (40 - 8*i))
	}
	for i := 6; i < 16; i++ {
		id[i] = byte(r.Uint32())
	}
	id[6], id[8] = id[6]&0x0f|0x70, id[8]&0x3f|0x80
	e.ID = id.String()
	return e
}
