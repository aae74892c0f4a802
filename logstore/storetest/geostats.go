package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// checkGeoStats fails t unless the location and device breakdowns of got
// are those of m over [from, to), top n.
func checkGeoStats(t *testing.T, m model, got logstore.Stats, from, to time.Time, n int) {
	t.Helper()
	cs, as, ds := m.geoStats(from, to, n)
	if !reflect.DeepEqual(got.ByCountry, cs) || !reflect.DeepEqual(got.TopASNs, as) || !reflect.DeepEqual(got.ByDeviceType, ds) {
		t.Fatalf("Stats(%v, %v, top %d) breakdowns:\n got countries %+v asns %+v devices %+v\nwant countries %+v asns %+v devices %+v",
			from, to, n, got.ByCountry, got.TopASNs, got.ByDeviceType, cs, as, ds)
	}
}

// testStatsBreakdowns adds to the data set a fourth day of attempts from
// many countries, ASes and devices (one AS under two organisations, logouts
// that do not count, a late enriched failure dated on the first day, and a
// redelivery), then compares the breakdowns with the model over whole days,
// days cut mid-day, one hour and every top size, and checks that the lists
// are empty, not null, when nothing matches.
func testStatsBreakdowns(h *harness) {
	t, s, ctx := h.t, h.s, h.ctx
	day4 := Base.Add(72 * time.Hour)
	countries := []string{"FR", "GB", "JP", "BR", "IN", "NL", "US", "CA"}
	devices := []string{event.DeviceMobile, event.DeviceTablet, event.DeviceTV, event.DeviceDesktop, event.DeviceBot}
	var extra []event.Event
	for i := range 90 {
		at := day4.Add(time.Duration(i)*15*time.Minute + time.Duration(i)*time.Second)
		typ, reason := event.LoginSuccess, event.Reason("")
		if i%3 != 0 {
			typ, reason = event.LoginFailure, event.BadCredentials
		}
		if i%17 == 0 {
			typ, reason = event.Logout, ""
		}
		e := mk(5000+i, at, fmt.Sprintf("u%d@example.com", i%9), "", typ, reason, fmt.Sprintf("192.0.2.%d", i%50))
		e.Geo = event.Geo{Country: countries[(i*5+i/7)%len(countries)], City: fmt.Sprint("City ", i%4), ASN: int64(65000 + (i/2)%6)}
		e.ASOrg = fmt.Sprint("Org ", e.ASN-65000)
		switch {
		case e.ASN == 65001 && i%36 < 12:
			e.ASOrg = "Org 1 (renamed)" // one AS, two names: the one most failures give wins
		case e.ASN == 65003:
			e.ASOrg = "" // an AS database without organisations
		}
		if i%11 != 0 {
			e.Device = event.Device{DeviceType: devices[i%len(devices)]}
		}
		extra = append(extra, e)
	}
	late := mk(6000, Base.Add(3*time.Hour+17*time.Second), "late@example.com", "", event.LoginFailure, event.BadCredentials, "192.0.2.200")
	late.Geo, late.Device = event.Geo{Country: "BR", ASN: 65002, ASOrg: "Org 2"}, event.Device{DeviceType: event.DeviceTV}
	extra = append(extra, late)
	for i := 0; i < len(extra); i += 25 {
		if err := s.Deliver(h.ctx, extra[i:min(i+25, len(extra))]); err != nil {
			t.Fatalf("deliver: %v", err)
		}
	}
	if err := s.Deliver(ctx, extra[:30]); err != nil { // a redelivery counts once
		t.Fatalf("redeliver: %v", err)
	}
	m := append(slices.Clone(h.m), extra...)
	spans := []struct{ from, to time.Time }{
		{Base, day4.Add(24 * time.Hour)},
		{day4, day4.Add(24 * time.Hour)},
		{Base.Add(2*time.Hour + 59*time.Minute), day4.Add(13*time.Hour + 5*time.Minute)},
		{day4.Add(5 * time.Hour), day4.Add(6 * time.Hour)},
		{Base.Add(-24 * time.Hour), Base},
	}
	for _, sp := range spans {
		for _, n := range []int{0, 1, 3, 100} {
			got, err := s.Stats(ctx, sp.from, sp.to, logstore.Day, n)
			if err != nil {
				t.Fatalf("Stats: %v", err)
			}
			checkGeoStats(t, m, got, sp.from, sp.to, n)
			if got.ByCountry == nil || got.TopASNs == nil || got.ByDeviceType == nil {
				t.Fatalf("Stats(%v, %v, top %d): a nil breakdown, want empty lists", sp.from, sp.to, n)
			}
		}
	}
	// Known figures, as a check on the model itself.
	cs, as, _ := m.geoStats(day4, day4.Add(24*time.Hour), 100)
	if len(cs) != len(countries) || len(as) != 6 || as[slices.IndexFunc(as, func(a logstore.ASNCount) bool { return a.ASN == 65003 })].Org != "" {
		t.Fatalf("model: countries %+v asns %+v", cs, as)
	}
	if i := slices.IndexFunc(as, func(a logstore.ASNCount) bool { return a.ASN == 65001 }); as[i].Org != "Org 1" {
		t.Fatalf("model: AS 65001 named %q, want the name most failures give", as[i].Org)
	}
}
