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

// Uncounted returns evs without counts of attempts (event.Event.Count):
// events as a store written before them held, each one attempt.
func Uncounted(evs []event.Event) []event.Event {
	out := make([]event.Event, len(evs))
	for i, e := range evs {
		e.Count = 0
		out[i] = e
	}
	return out
}

// CheckCountUpgrade checks a store s opened on a log written before counts
// of attempts, against ref, a store of the same events that had them all
// along: a sampled refusal of count 40 delivered to both after the upgrade
// reads back with its count and counts 40 attempts in Stats (over the whole
// data set and over its own hour) and in the users view, in both alike.
func CheckCountUpgrade(t testing.TB, ref, s logstore.Store) {
	t.Helper()
	ctx := context.Background()
	at := Base.Add(50*time.Hour + 20*time.Minute)
	e := mk(8000, at, "upgraded@example.com", "", event.LoginFailure, event.RateLimited, "203.0.113.50")
	e.Count = 40
	for _, st := range []logstore.Store{ref, s} {
		if err := st.Deliver(ctx, []event.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok, err := s.Get(ctx, e.ID); err != nil || !ok || got.Count != 40 {
		t.Fatalf("Get after the upgrade: count %d, %v, %v; want 40", got.Count, ok, err)
	}
	for _, sp := range [][2]time.Time{{Base, Base.Add(72 * time.Hour)}, {at.Add(-10 * time.Minute), at.Add(10 * time.Minute)}} {
		want, err := ref.Stats(ctx, sp[0], sp[1], logstore.Hour, 10)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Stats(ctx, sp[0], sp[1], logstore.Hour, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got.Total-got.Events != 39 || !reflect.DeepEqual(got, want) {
			t.Fatalf("Stats(%v, %v) after the upgrade: total %d of %d events; want 39 attempts more than events, as the reference (%d of %d)",
				sp[0], sp[1], got.Total, got.Events, want.Total, want.Events)
		}
	}
	l, _, err := s.Users(ctx, logstore.UsersFilter{Search: "upgraded@example.com"})
	if err != nil || len(l) != 1 || l[0].FailuresSinceSuccess != 40 {
		t.Fatalf("Users after the upgrade: %+v, %v; want 40 failures since success", l, err)
	}
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
