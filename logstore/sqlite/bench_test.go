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
	b.ReportAllocs()
	b.ResetTimer()
	deliverN(b, s, b.N, false)
}

// BenchmarkDeliverEnriched stores b.N events without location and device
// fields (the baseline), then b.N with them (a few hundred cities and ASes,
// browsers, OSes), each into a new store, in the same run: it reports
// ns/event and bytes/event on disk of each, and their ratios.
func BenchmarkDeliverEnriched(b *testing.B) {
	var ns, bytes [2]float64
	for v, geo := range []bool{false, true} {
		s := open(b, Options{})
		start := time.Now()
		deliverN(b, s, b.N, geo)
		ns[v] = float64(time.Since(start).Nanoseconds()) / float64(b.N)
		size, err := s.Size(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		bytes[v] = float64(size) / float64(b.N)
	}
	b.ReportMetric(ns[0], "base-ns/event")
	b.ReportMetric(ns[1], "geo-ns/event")
	b.ReportMetric(ns[1]/ns[0], "ns-ratio")
	b.ReportMetric(bytes[0], "base-B/event")
	b.ReportMetric(bytes[1], "geo-B/event")
	b.ReportMetric(bytes[1]/bytes[0], "B-ratio")
}

var (
	benchCountries = []string{"US", "DE", "NL", "GB", "FR", "CN", "RU", "BR", "IN", "JP"}
	benchDevices   = []event.Device{
		{Browser: "Chrome", OS: "Windows", DeviceType: event.DeviceDesktop},
		{Browser: "Safari", OS: "iOS", DeviceType: event.DeviceMobile},
		{Browser: "Firefox", OS: "Linux", DeviceType: event.DeviceDesktop},
		{Browser: "curl", DeviceType: event.DeviceBot, Bot: true},
	}
)

// deliverN delivers n events in batches of 500, with location and device
// fields when geo.
func deliverN(b *testing.B, s *Store, n int, geo bool) {
	ctx := context.Background()
	start := time.Now().Add(-90 * 24 * time.Hour)
	const batch = 500
	buf := make([]event.Event, 0, batch)
	for i := range n {
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
		if geo {
			c := u % 300
			e.Geo = event.Geo{Country: benchCountries[c%len(benchCountries)], RegionCode: fmt.Sprint("R", c%40), Region: fmt.Sprint("Region ", c%40),
				City: fmt.Sprint("City ", c), Latitude: float64(c%180) - 89.5 + 0.1234, Longitude: float64(c) - 150.5678, AccuracyRadius: 20 + c%5*100,
				ASN: int64(64496 + u%200), ASOrg: fmt.Sprint("Network Operator ", u%200)}
			e.Device = benchDevices[u%len(benchDevices)]
		}
		buf = append(buf, e)
		if len(buf) == batch || i == n-1 {
			if err := s.Deliver(ctx, buf); err != nil {
				b.Fatal(err)
			}
			buf = buf[:0]
		}
	}
}
