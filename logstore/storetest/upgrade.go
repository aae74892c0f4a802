package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// Unenriched returns evs without location and device fields: events as a
// store written before them held.
func Unenriched(evs []event.Event) []event.Event {
	out := make([]event.Event, len(evs))
	for i, e := range evs {
		e.Geo, e.Device = event.Geo{}, event.Device{}
		out[i] = e
	}
	return out
}

// CheckGeoUpgrade checks a store opened on a log written before the location
// and device fields, which held old: the old events read back as they were
// (no fields), and enriched events delivered after the upgrade keep theirs
// and are found by the country, ASN and device type filters, old ones not.
func CheckGeoUpgrade(t *testing.T, s logstore.Store, old []event.Event) {
	t.Helper()
	ctx := context.Background()
	for _, want := range old {
		got, ok, err := s.Get(ctx, want.ID)
		if err != nil || !ok || !reflect.DeepEqual(NoSeq(got), want) {
			t.Fatalf("old event %q after the upgrade: %v %v\n got %s\nwant %s", want.ID, ok, err, show(NoSeq(got)), show(want))
		}
	}
	var fresh []event.Event
	at := Base.Add(200 * time.Hour)
	for i, e := range old[:40] {
		e.ID, e.EventDate = v7(at.Add(time.Duration(i)*time.Second), 5000+i), at.Add(time.Duration(i)*time.Second)
		e.RemoteAddress, e.UserAgent = attackerIP, "curl/8.5.0"
		enrichment(&e)
		fresh = append(fresh, e)
	}
	if err := s.Deliver(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	for _, f := range []logstore.Filter{{Country: "NL"}, {ASN: 64496}, {DeviceType: event.DeviceBot}} {
		got, err := s.Query(ctx, f, logstore.Page{Size: 100, Asc: true})
		if err != nil {
			t.Fatal(err)
		}
		if got.TotalElements != int64(len(fresh)) || !reflect.DeepEqual(NoSeqs(got.Content), fresh) {
			t.Fatalf("Query(%+v) after the upgrade: %d events, want the %d delivered since: %v", f, got.TotalElements, len(fresh), fmt.Sprint(ids(got.Content)))
		}
	}
}

// CheckSameStats fails t unless s answers Stats as ref does over spans of the
// data set cut mid-hour, mid-day and on whole days: for a store upgraded to
// a new rollup, against one that had it all along.
func CheckSameStats(t testing.TB, ref, s logstore.Store) {
	t.Helper()
	ctx := context.Background()
	for i, sp := range []struct{ from, to time.Time }{
		{Base, Base.Add(72 * time.Hour)},
		{Base.Add(5*time.Hour + 30*time.Minute), Base.Add(61*time.Hour + 30*time.Minute)},
		{Base.Add(26 * time.Hour), Base.Add(26*time.Hour + 40*time.Minute)},
	} {
		want, err := ref.Stats(ctx, sp.from, sp.to, logstore.Hour, 10)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		got, err := s.Stats(ctx, sp.from, sp.to, logstore.Hour, 10)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		if i == 0 && (len(want.ByCountry) == 0 || len(want.TopASNs) == 0 || len(want.ByDeviceType) == 0) {
			t.Fatalf("Stats(%v, %v) of the reference: no breakdowns to compare", sp.from, sp.to)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Stats(%v, %v):\n got %+v\nwant %+v", sp.from, sp.to, got, want)
		}
	}
}
