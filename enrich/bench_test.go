package enrich

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

// BenchmarkEnrich measures Enrich on an event (a City and an ASN database of
// 20,000 networks each, user agents from realUAs) against a baseline of
// copying the event without enrichment, in the same run. It reports
// base-ns/op, enrich-ns/op (the added cost: enrich minus base) and the ratio.
func BenchmarkEnrich(b *testing.B) {
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var city, asn []netRec
	var ips []string
	seen := map[[2]int]bool{}
	for len(city) < 20000 {
		a, c := 1+rng.IntN(222), rng.IntN(256)
		if a == 10 || a == 100 || a == 127 || a == 169 || a == 172 || a == 192 || a == 198 || a == 203 || seen[[2]int{a, c}] {
			continue
		}
		seen[[2]int{a, c}] = true
		cidr := fmt.Sprintf("%d.%d.%d.0/24", a, c, rng.IntN(256))
		city = append(city, netRec{CIDR: cidr, Rec: geoLiteCity("GB", "ENG", "England", fmt.Sprintf("City %d", len(city)%3000), 51.5, -0.09, 20)})
		asn = append(asn, netRec{CIDR: cidr, Rec: asnRec(uint32(len(asn)%5000+1), fmt.Sprintf("Org %d", len(asn)%5000))})
		ips = append(ips, cidr[:len(cidr)-4]+fmt.Sprint(rng.IntN(256)))
	}
	e, err := New(Options{
		CityDB: writeDB(b, dir, "city.mmdb", buildDB(b, "GeoLite2-City", city...)),
		ASNDB:  writeDB(b, dir, "asn.mmdb", buildDB(b, "GeoLite2-ASN", asn...)),
		Logger: quiet,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	evs := make([]event.Event, 1024)
	for i := range evs {
		evs[i] = event.Event{ID: event.NewID(), EventDate: time.Now(), EventType: event.LoginFailure,
			RemoteAddress: ips[rng.IntN(len(ips))], UserAgent: realUAs[i%(len(realUAs)-1)].ua, Principal: event.Str("bob")}
	}
	var sink event.Event
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		sink = evs[i&1023]
	}
	base, cpu1 := time.Since(start), cpuTime()
	start = time.Now()
	for i := 0; i < b.N; i++ {
		sink = evs[i&1023]
		e.Enrich(&sink)
	}
	full, cpu2 := time.Since(start), cpuTime()
	b.StopTimer()
	if sink.Country != "GB" {
		b.Fatalf("not enriched: %+v", sink.Geo)
	}
	n := float64(b.N)
	b.ReportMetric(float64(base.Nanoseconds())/n, "base-ns/op")
	b.ReportMetric(float64((full-base).Nanoseconds())/n, "enrich-ns/op")
	b.ReportMetric(float64(full.Nanoseconds())/float64(max(base.Nanoseconds(), 1)), "ratio")
	// CPU time of the process (GC included), which the other processes of a
	// busy machine inflate less than the wall clock.
	b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/n, "base-cpu-ns/op")
	b.ReportMetric(float64((cpu2-cpu1).Nanoseconds())/n, "enrich-cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
