// Package storetest is the conformance suite every logstore.Store runs: a
// deterministic data set of a few hundred events over three days (portal and
// manager logins, an attacker, late and redelivered events, nulls, unicode,
// odd ids) checked against an obvious in-memory model.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// Base is the start of the data set: three days from here.
var Base = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// Run runs the suite as subtests of t, one per case. Each subtest opens its
// own store with open, which returns a new, empty one, and loads the data set
// into it (see load).
func Run(t *testing.T, open func(t *testing.T) logstore.Store) {
	all, late := Dataset()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &harness{t: t, ctx: context.Background(), s: open(t), all: all, late: late}
			h.load()
			c.fn(h)
		})
	}
}

var cases = []struct {
	name string
	fn   func(h *harness)
}{
	{"GetRoundTrip", testGetRoundTrip},
	{"Query", testQuery},
	{"Each", testEach},
	{"Stats", testStats},
	{"StatsBreakdowns", testStatsBreakdowns},
	{"Users", testUsers},
	{"Suspicious", testSuspicious},
	{"Principal", testPrincipal},
	{"Erase", testErase},
	{"DeleteBefore", testDeleteBefore},
	{"Seq", testSeq},
	{"Idempotent", testIdempotent},
	{"SampledRefusals", testSampledRefusals},
	{"WouldRefuse", testWouldRefuse},
	{"PasswordBreached", testPasswordBreached},
	{"ReasonsPastFifteen", testReasonsPastFifteen},
}

// harness is what a case works on: its store, loaded with the data set, and
// the model of what the store holds.
type harness struct {
	t    *testing.T
	ctx  context.Context
	s    logstore.Store
	m    model         // every event of the data set, late ones included
	all  []event.Event // the data set as Dataset returns it
	late []event.Event
}

// load delivers the data set to h.s in batches of 40, then redelivers a whole
// batch and delivers the late events with a duplicate inside, and sets h.m.
func (h *harness) load() {
	t, s, ctx, all, late := h.t, h.s, h.ctx, h.all, h.late
	t.Helper()
	for i := 0; i < len(all); i += 40 {
		if err := s.Deliver(ctx, all[i:min(i+40, len(all))]); err != nil {
			t.Fatalf("deliver: %v", err)
		}
	}
	// Redelivery of a whole batch, and late events with a duplicate inside.
	if err := s.Deliver(ctx, all[:40]); err != nil {
		t.Fatalf("redeliver: %v", err)
	}
	if err := s.Deliver(ctx, append(slices.Clone(late), late[0], all[7])); err != nil {
		t.Fatalf("deliver late: %v", err)
	}
	h.m = append(slices.Clone(model(all)), late...)
}

// testGetRoundTrip reads every event back by id and by sequence number, as
// delivered, and finds no unknown id.
func testGetRoundTrip(h *harness) {
	t, s, m, ctx := h.t, h.s, h.m, h.ctx
	for _, want := range m {
		got, ok, err := s.Get(ctx, want.ID)
		if err != nil || !ok {
			t.Fatalf("Get(%q) = %v, %v", want.ID, ok, err)
		}
		if got.Seq < 1 {
			t.Fatalf("Get(%q): seq %d, want >= 1", want.ID, got.Seq)
		}
		bySeq, ok, err := s.Get(ctx, strconv.FormatInt(got.Seq, 10))
		if err != nil || !ok || !reflect.DeepEqual(bySeq, got) {
			t.Fatalf("Get(%d) by seq = %+v, %v, %v; want %+v", got.Seq, show(bySeq), ok, err, show(got))
		}
		if got = NoSeq(got); !reflect.DeepEqual(got, want) {
			t.Fatalf("Get(%q):\n got %+v\nwant %+v", want.ID, show(got), show(want))
		}
	}
	if _, ok, err := s.Get(ctx, uuid.NewString()); ok || err != nil {
		t.Fatalf("Get(unknown) = %v, %v; want false, nil", ok, err)
	}
	if _, ok, err := s.Get(ctx, "x'; DROP TABLE events; --"); ok || err != nil {
		t.Fatalf("Get(injection) = %v, %v; want false, nil", ok, err)
	}
}

// testQuery pages through every filter both ways against the model, then checks
// a few known figures as a check on the model itself.
func testQuery(h *harness) {
	t, s, m, ctx := h.t, h.s, h.m, h.ctx
	for _, f := range filters() {
		for _, asc := range []bool{false, true} {
			ref := m.filter(f, asc)
			for _, pg := range []logstore.Page{{Number: 0, Size: 7}, {Number: 1, Size: 7}, {Number: 3, Size: 7}, {Number: 500, Size: 7}, {}} {
				pg.Asc = asc
				got, err := s.Query(ctx, f, pg)
				if err != nil {
					t.Fatalf("Query(%+v, %+v): %v", f, pg, err)
				}
				size := pg.Size
				if size == 0 {
					size = logstore.DefaultPageSize
				}
				lo, hi := min(pg.Number*size, len(ref)), min(pg.Number*size+size, len(ref))
				if got.TotalElements != int64(len(ref)) || !slices.Equal(ids(got.Content), ids(ref[lo:hi])) {
					t.Fatalf("Query(%+v, %+v): total %d ids %v; want %d %v", f, pg, got.TotalElements, ids(got.Content), len(ref), ids(ref[lo:hi]))
				}
				if got.Content == nil {
					t.Fatalf("Query(%+v, %+v): nil content, want empty slice", f, pg)
				}
			}
		}
	}
	// Known figures, as a check on the model itself.
	got, err := s.Query(ctx, logstore.Filter{Email: "CAROL@Example.COM"}, logstore.Page{Size: 1})
	if err != nil || got.TotalElements == 0 || event.Value(got.Content[0].Email) != "carol@example.com" {
		t.Fatalf("case-insensitive email: %+v, %v", got, err)
	}
	got, err = s.Query(ctx, logstore.Filter{EventTypes: []event.Type{"DATA_EXPORTED"}, From: Base, To: Base.Add(48 * time.Hour)}, logstore.Page{})
	if err != nil || got.TotalElements != 3 || len(got.Content) != 3 || got.Content[0].EventType != "DATA_EXPORTED" {
		t.Fatalf("filter by a type the store does not know: %+v, %v; want 3 DATA_EXPORTED events", got, err)
	}
	got, err = s.Query(ctx, logstore.Filter{Email: "carol@example"}, logstore.Page{})
	if err != nil || got.TotalElements != 0 {
		t.Fatalf("partial email must not match: %d, %v", got.TotalElements, err)
	}
}

// testEach walks every filter both ways against the model, and stops at the
// callback's error.
func testEach(h *harness) {
	t, s, m, ctx := h.t, h.s, h.m, h.ctx
	for _, f := range filters() {
		for _, asc := range []bool{true, false} {
			var got []event.Event
			if err := s.Each(ctx, f, asc, func(e event.Event) error { got = append(got, e); return nil }); err != nil {
				t.Fatalf("Each(%+v): %v", f, err)
			}
			ref := m.filter(f, asc)
			if !reflect.DeepEqual(ids(got), ids(ref)) {
				t.Fatalf("Each(%+v, asc=%v): %d events, want %d", f, asc, len(got), len(ref))
			}
			for i := range got {
				if !reflect.DeepEqual(NoSeq(got[i]), ref[i]) {
					t.Fatalf("Each(%+v): event %d differs:\n got %+v\nwant %+v", f, i, show(got[i]), show(ref[i]))
				}
			}
		}
	}
	stop := fmt.Errorf("stop")
	n := 0
	if err := s.Each(ctx, logstore.Filter{}, true, func(event.Event) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Each must stop at fn's error: %v after %d", err, n)
	}
}

// testStats compares totals, hours, reasons, series and top lists with the
// model over spans cut mid-hour, whole days, within one hour and before the
// data set.
func testStats(h *harness) {
	t, s, m, ctx := h.t, h.s, h.m, h.ctx
	for _, c := range []struct {
		from, to time.Time
		iv       logstore.Interval
	}{
		{Base.Add(5*time.Hour + 30*time.Minute), Base.Add(61*time.Hour + 30*time.Minute), logstore.Hour},
		{Base, Base.Add(72 * time.Hour), logstore.Day},
		{Base.Add(26 * time.Hour), Base.Add(26*time.Hour + 40*time.Minute), logstore.Hour},
		{Base.Add(-48 * time.Hour), Base.Add(-24 * time.Hour), logstore.Day},
	} {
		got, err := s.Stats(ctx, c.from, c.to, c.iv, 3)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		want, users, ips := m.stats(c.from, c.to, c.iv)
		if got.Total != want.Total || got.Successes != want.Successes || got.Failures != want.Failures || got.SuccessRate != want.SuccessRate ||
			got.Refused != want.Refused || got.Events != want.Events {
			t.Fatalf("Stats(%v, %v) total/successes/failures/refused/events %d/%d/%d/%d/%d %v; want %d/%d/%d/%d/%d %v", c.from, c.to,
				got.Total, got.Successes, got.Failures, got.Refused, got.Events, got.SuccessRate,
				want.Total, want.Successes, want.Failures, want.Refused, want.Events, want.SuccessRate)
		}
		if !equalReasons(got.RefusedByReason, want.RefusedByReason) {
			t.Fatalf("Stats(%v, %v) refused by reason %v; want %v", c.from, c.to, got.RefusedByReason, want.RefusedByReason)
		}
		if got.WouldRefuse != want.WouldRefuse || got.Breached != want.Breached || got.BreachedSuccesses != want.BreachedSuccesses ||
			!equalReasons(got.WouldRefuseByReason, want.WouldRefuseByReason) {
			t.Fatalf("Stats(%v, %v) wouldRefuse %d %v, breached %d of which successes %d; want %d %v, %d, %d", c.from, c.to,
				got.WouldRefuse, got.WouldRefuseByReason, got.Breached, got.BreachedSuccesses,
				want.WouldRefuse, want.WouldRefuseByReason, want.Breached, want.BreachedSuccesses)
		}
		if !reflect.DeepEqual(got.ByHour, want.ByHour) || !equalReasons(got.ByReason, want.ByReason) || !reflect.DeepEqual(got.Series, want.Series) {
			t.Fatalf("Stats(%v, %v):\n got hours %v reasons %v series %v\nwant hours %v reasons %v series %v", c.from, c.to, got.ByHour, got.ByReason, got.Series, want.ByHour, want.ByReason, want.Series)
		}
		checkTop(t, "users", got.TopUsers, users, 3)
		checkTop(t, "ips", got.TopIPs, ips, 3)
		checkGeoStats(t, m, got, c.from, c.to, 3)
	}
	// Known numbers for the first day, 00:00 to 06:00.
	got, err := s.Stats(ctx, Base, Base.Add(6*time.Hour), logstore.Hour, 1)
	want, _, _ := m.stats(Base, Base.Add(6*time.Hour), logstore.Hour)
	if err != nil || got.Total == 0 || got.Total != want.Total || len(got.Series) != 6 {
		t.Fatalf("Stats first hours: %+v, %v", got, err)
	}
}

// testUsers pages through the identity summaries, newest activity first,
// against the model, and searches them ignoring case.
func testUsers(h *harness) {
	t, s, m, ctx := h.t, h.s, h.m, h.ctx
	want := m.users()
	var got []logstore.UserSummary
	for page := 0; ; page++ {
		l, total, err := s.Users(ctx, logstore.UsersFilter{Number: page, Size: 4})
		if err != nil {
			t.Fatalf("Users: %v", err)
		}
		if total != int64(len(want)) {
			t.Fatalf("Users total %d, want %d", total, len(want))
		}
		if len(l) == 0 {
			break
		}
		got = append(got, l...)
	}
	if len(got) != len(want) {
		t.Fatalf("Users listed %d, want %d", len(got), len(want))
	}
	for i, u := range got {
		if i > 0 && u.LastSeen.After(got[i-1].LastSeen) {
			t.Fatalf("Users not sorted by last activity at %d", i)
		}
		if !reflect.DeepEqual(u, want[u.Identity]) {
			t.Fatalf("Users %q:\n got %+v\nwant %+v", u.Identity, u, want[u.Identity])
		}
	}
	if !want["alice@example.com"].Active || want["dave@example.org"].Active {
		t.Fatalf("data set must have alice active and dave logged out: %+v %+v", want["alice@example.com"], want["dave@example.org"])
	}
	l, total, err := s.Users(ctx, logstore.UsersFilter{Search: "EXAMPLE.com"})
	if err != nil || total != 2 || len(l) != 2 {
		t.Fatalf("Users search: %d %+v, %v", total, l, err)
	}
	l, _, err = s.Users(ctx, logstore.UsersFilter{Search: "JÖRG"})
	if err != nil || len(l) != 1 || l[0].Identity != "jörg@exämple.de" {
		t.Fatalf("Users unicode search: %+v, %v", l, err)
	}
}

// testSuspicious compares failing IPs, spraying IPs and attacked accounts
// with the model, and finds the attacker first.
func testSuspicious(h *harness) {
	t, s, m, ctx := h.t, h.s, h.m, h.ctx
	for _, q := range []logstore.SuspiciousQuery{
		{Since: Base.Add(48 * time.Hour), MinIPFailures: 5, MinAccountIPs: 2, MinIPAccounts: 3, Limit: 50},
		{Since: Base, MinIPFailures: 1, MinAccountIPs: 1, MinIPAccounts: 1, Limit: 100},
		{Since: Base.Add(71 * time.Hour)},
	} {
		got, err := s.Suspicious(ctx, q)
		if err != nil {
			t.Fatalf("Suspicious: %v", err)
		}
		want := m.suspicious(q.WithDefaults(time.Now()))
		sortSusp(&got)
		sortSusp(&want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Suspicious(%+v):\n got %+v\nwant %+v", q, got, want)
		}
	}
	got, _ := s.Suspicious(ctx, logstore.SuspiciousQuery{Since: Base, MinIPFailures: 10})
	if len(got.FailingIPs) == 0 || got.FailingIPs[0].IP != attackerIP {
		t.Fatalf("attacker not found first: %+v", got.FailingIPs)
	}
}

// testPrincipal lists every event of an identity, by principal or by email
// ignoring case, oldest first.
func testPrincipal(h *harness) {
	t, s, m, ctx := h.t, h.s, h.m, h.ctx
	for _, id := range []string{"bob", "ALICE@example.com", "jörg@exämple.de", "nobody"} {
		var got []event.Event
		if err := s.Principal(ctx, id, func(e event.Event) error { got = append(got, e); return nil }); err != nil {
			t.Fatalf("Principal(%q): %v", id, err)
		}
		var want []string
		for _, e := range m.sorted(true) {
			if event.Value(e.Principal) == id || strings.EqualFold(event.Value(e.Email), id) {
				want = append(want, e.ID)
			}
		}
		if !slices.Equal(ids(got), want) {
			t.Fatalf("Principal(%q): %d events, want %d", id, len(got), len(want))
		}
	}
}

// testErase pseudonymises one identity and erases another, and checks
// that neither is found, listed or counted any more, and that a pseudonym
// cannot be reused.
func testErase(h *harness) {
	t, s, m, ctx := h.t, h.s, h.m, h.ctx
	n, err := s.Erase(ctx, "bob", "user-7f3a")
	want := len(m.filter(logstore.Filter{Principal: "bob"}, true))
	if err != nil || n != int64(want) || want == 0 {
		t.Fatalf("pseudonymise bob: %d, %v; want %d", n, err, want)
	}
	if r, _ := s.Query(ctx, logstore.Filter{Principal: "bob"}, logstore.Page{}); r.TotalElements != 0 {
		t.Fatalf("bob still found: %d", r.TotalElements)
	}
	r, err := s.Query(ctx, logstore.Filter{Principal: "user-7f3a"}, logstore.Page{Size: 1000})
	if err != nil || r.TotalElements != int64(want) {
		t.Fatalf("pseudonym: %d, %v; want %d", r.TotalElements, err, want)
	}
	for _, e := range r.Content {
		if event.Value(e.Principal) != "user-7f3a" || (e.DisplayName != nil && *e.DisplayName != "user-7f3a") || strings.Contains(event.Value(e.Message), "bob") {
			t.Fatalf("pseudonymised event still names bob: %+v", show(e))
		}
	}
	aliceN := len(m.filter(logstore.Filter{Email: "alice@example.com"}, true))
	located := false
	n, err = s.Erase(ctx, "Alice@Example.com", "")
	if err != nil || n != int64(aliceN) {
		t.Fatalf("erase alice: %d, %v; want %d", n, err, aliceN)
	}
	for _, e := range m.filter(logstore.Filter{Email: "alice@example.com"}, true) {
		got, ok, err := s.Get(ctx, e.ID)
		if err != nil || !ok || got.Email != nil || got.DisplayName != nil || strings.Contains(event.Value(got.Message), "alice") || got.RemoteAddress != e.RemoteAddress {
			t.Fatalf("erased event: %+v, %v, %v", show(got), ok, err)
		}
		if got.Geo != (event.Geo{}) || got.Device != (event.Device{}) {
			t.Fatalf("erased event keeps where and on what: %+v %+v", got.Geo, got.Device)
		}
		located = located || e.Country != "" || e.DeviceType != ""
	}
	if !located {
		t.Fatal("the data set gives alice no location or device: the check above cannot fail")
	}
	users, _, err := s.Users(ctx, logstore.UsersFilter{Search: "alice", Size: 100})
	if err != nil || len(users) != 0 {
		t.Fatalf("erased user still listed: %+v, %v", users, err)
	}
	st, err := s.Stats(ctx, Base, Base.Add(72*time.Hour), logstore.Day, 100)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	for _, c := range st.TopUsers {
		if c.Key == "alice@example.com" || c.Key == "bob" || c.Key == "" {
			t.Fatalf("top users name an erased identity: %+v", st.TopUsers)
		}
	}
	if _, err := s.Erase(ctx, "carol@example.com", "user-7f3a"); err == nil {
		t.Fatalf("reusing a pseudonym must fail")
	}
}

// testDeleteBefore cuts the data set mid-hour and checks queries, stats and
// a second cut, and that new events are still stored.
func testDeleteBefore(h *harness) {
	t, s, m, ctx := h.t, h.s, h.m, h.ctx
	cut := Base.Add(30*time.Hour + 7*time.Minute)
	n, err := s.DeleteBefore(ctx, cut, 7)
	var keep model
	for _, e := range m {
		if !e.EventDate.Before(cut) {
			keep = append(keep, e)
		}
	}
	if err != nil || n != int64(len(m)-len(keep)) {
		t.Fatalf("DeleteBefore: %d, %v; want %d", n, err, len(m)-len(keep))
	}
	for _, f := range filters() {
		r, err := s.Query(ctx, f, logstore.Page{Size: 5})
		ref := keep.filter(f, false)
		if err != nil || r.TotalElements != int64(len(ref)) || !slices.Equal(ids(r.Content), ids(ref[:min(5, len(ref))])) {
			t.Fatalf("after delete, Query(%+v): %d, %v; want %d", f, r.TotalElements, err, len(ref))
		}
	}
	got, err := s.Stats(ctx, Base, Base.Add(72*time.Hour), logstore.Hour, 3)
	want, users, ips := keep.stats(Base, Base.Add(72*time.Hour), logstore.Hour)
	if err != nil || got.Total != want.Total || got.Events != want.Events || got.Refused != want.Refused || !reflect.DeepEqual(got.Series, want.Series) {
		t.Fatalf("after delete, Stats: total %d events %d refused %d, %v; want %d %d %d", got.Total, got.Events, got.Refused, err, want.Total, want.Events, want.Refused)
	}
	checkTop(t, "users", got.TopUsers, users, 3)
	checkTop(t, "ips", got.TopIPs, ips, 3)
	checkGeoStats(t, keep, got, Base, Base.Add(72*time.Hour), 3)
	if _, ok, _ := s.Get(ctx, m.sorted(true)[0].ID); ok {
		t.Fatalf("deleted event still found")
	}
	if n, err := s.DeleteBefore(ctx, cut, 7); err != nil || n != 0 {
		t.Fatalf("second DeleteBefore: %d, %v", n, err)
	}
	// New events after retention still work.
	e := mk(1, Base.Add(80*time.Hour), "dave@example.org", "", event.LoginSuccess, "", "10.9.9.9")
	if err := s.Deliver(ctx, []event.Event{e}); err != nil {
		t.Fatalf("deliver after delete: %v", err)
	}
	if got, ok, err := s.Get(ctx, e.ID); err != nil || !ok || !reflect.DeepEqual(NoSeq(got), e) {
		t.Fatalf("Get after delete: %+v %v %v", got, ok, err)
	}
}

// testSeq checks that sequence numbers are unique, follow event dates across
// batches, survive redelivery, and grow for a newer event.
func testSeq(h *harness) {
	t, s, ctx, all, late := h.t, h.s, h.ctx, h.all, h.late
	before := Seqs(t, s)
	if len(before) != len(all)+len(late) {
		t.Fatalf("%d events numbered, want %d", len(before), len(all)+len(late))
	}
	CheckSeqsUnique(t, before)
	// Delivered in date order, a newer event has a higher number, across
	// the batches of 40.
	CheckSeqOrder(t, all, before)
	// A redelivered batch keeps its numbers and takes no new ones.
	if err := s.Deliver(ctx, all[40:120]); err != nil {
		t.Fatalf("redeliver: %v", err)
	}
	if after := Seqs(t, s); !reflect.DeepEqual(after, before) {
		t.Fatalf("redelivery changed the numbers")
	}
	// A newer event takes a higher number than every older one.
	e := mk(1, Base.Add(90*time.Hour), "seq@example.org", "", event.LoginSuccess, "", "10.9.9.8")
	if err := s.Deliver(ctx, []event.Event{e}); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	got, ok, err := s.Get(ctx, e.ID)
	if err != nil || !ok {
		t.Fatalf("Get new event: %v %v", ok, err)
	}
	for id, n := range before {
		if n >= got.Seq {
			t.Fatalf("new event's seq %d not above %s's %d", got.Seq, id, n)
		}
	}
}

// testIdempotent redelivers events twice and checks that counts do not
// change, and that an empty batch is accepted.
func testIdempotent(h *harness) {
	t, s, m, ctx := h.t, h.s, h.m, h.ctx
	for range 2 {
		if err := s.Deliver(ctx, m[100:180]); err != nil {
			t.Fatalf("redeliver: %v", err)
		}
	}
	r, err := s.Query(ctx, logstore.Filter{}, logstore.Page{Size: 1})
	if err != nil || r.TotalElements != int64(len(m)) {
		t.Fatalf("after redelivery: %d, %v; want %d", r.TotalElements, err, len(m))
	}
	st, err := s.Stats(ctx, Base, Base.Add(72*time.Hour), logstore.Day, 3)
	want, _, _ := m.stats(Base, Base.Add(72*time.Hour), logstore.Day)
	if err != nil || st.Total != want.Total {
		t.Fatalf("redelivery changed stats: %d, want %d", st.Total, want.Total)
	}
	if err := s.Deliver(ctx, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
}

func equalReasons(a, b []logstore.ReasonCount) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func checkTop(t *testing.T, what string, got []logstore.Count, ref map[string]int64, n int) {
	t.Helper()
	var counts []int64
	for _, c := range ref {
		counts = append(counts, c)
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	counts = counts[:min(n, len(counts))]
	var gc []int64
	for _, c := range got {
		if ref[c.Key] != c.Count {
			t.Fatalf("top %s: %q has %d, want %d", what, c.Key, c.Count, ref[c.Key])
		}
		gc = append(gc, c.Count)
	}
	if !slices.Equal(gc, counts) {
		t.Fatalf("top %s counts %v, want %v", what, gc, counts)
	}
}

func sortSusp(s *logstore.Suspicious) {
	slices.SortFunc(s.FailingIPs, func(a, b logstore.SuspectIP) int { return strings.Compare(a.IP, b.IP) })
	slices.SortFunc(s.SprayingIPs, func(a, b logstore.SuspectIP) int { return strings.Compare(a.IP, b.IP) })
	slices.SortFunc(s.AttackedAccounts, func(a, b logstore.SuspectAccount) int { return strings.Compare(a.Identity, b.Identity) })
	s.Since = s.Since.UTC()
}

func filters() []logstore.Filter {
	d1, d2 := Base.Add(24*time.Hour), Base.Add(48*time.Hour)
	return []logstore.Filter{
		{},
		{From: d1, To: d2},
		{From: Base.Add(5*time.Hour + 17*time.Minute), To: Base.Add(51 * time.Hour)},
		{Email: "CAROL@example.COM"},
		{Email: "jörg@exämple.de"},
		{Email: "nobody@example.com"},
		{IP: attackerIP},
		{IP: "2001:db8::1"},
		{Status: logstore.StatusFailure},
		{Status: logstore.StatusSuccess, From: d1},
		{EventTypes: []event.Type{event.Logout, event.AccountLocked}},
		{EventTypes: []event.Type{"DATA_EXPORTED"}},
		{EventTypes: []event.Type{"DATA_ERASED", event.Logout, "PASSWORD_CHANGED"}, From: Base.Add(90 * time.Minute), To: Base.Add(50 * time.Hour)},
		{EventTypes: []event.Type{"DATA_EXPORTED", "NEVER_STORED"}, Email: "ALICE@example.com"},
		{EventTypes: []event.Type{"DATA_EXPORTED"}, Source: event.SourcePortal, From: Base.Add(time.Hour)},
		{EventTypes: []event.Type{"NEVER_STORED"}},
		{EventTypes: []event.Type{"DATA_EXPORT"}}, // a prefix of a stored type
		{Source: event.SourceManager},
		{PortalID: "p2"},
		{Reason: event.BadCredentials},
		{Principal: "bob"},
		{Principal: "BOB"},
		{Principal: "ünïcode-admin"},
		{Email: "alice@example.com", Status: logstore.StatusSuccess, From: Base.Add(3 * time.Hour), To: Base.Add(60 * time.Hour)},
		{Email: "alice@example.com", IP: "10.0.0.1"},
		{IP: attackerIP, Reason: event.AccountNotFound, From: d1},
		{Email: "v1@example.net", Status: logstore.StatusFailure, Source: event.SourcePortal, PortalID: "p1"},
		{From: d1, To: d1},
		// Location and device (see enrichment).
		{Country: "nl"},
		{Country: "NL", Status: logstore.StatusFailure, From: d1},
		{Country: "US", IP: "198.51.100.1"},
		{Country: "ZZ"},
		{ASN: 64496},
		{ASN: 64497, Email: "alice@example.com"},
		{ASN: 1},
		{DeviceType: event.DeviceBot},
		{DeviceType: event.DeviceDesktop, Country: "DE", Source: event.SourceManager},
		{DeviceType: "toaster"},
		// Monitor mode, breached passwords and the reasons past the 15th.
		{WouldRefuse: logstore.AnyReason},
		{WouldRefuse: event.Locked, From: d1},
		{WouldRefuse: event.AmbiguousPrincipal, Status: logstore.StatusFailure},
		{WouldRefuse: event.BreachedPassword, IP: attackerIP},
		{WouldRefuse: "NEVER_A_REASON"},
		{Breached: true},
		{Breached: true, Status: logstore.StatusSuccess},
		{Breached: true, Email: "alice@example.com"},
		{Breached: true, WouldRefuse: logstore.AnyReason, From: Base.Add(7 * time.Hour)},
		{Reason: event.BreachedPassword},
		{Reason: event.MissingPrincipal},
		{Reason: event.BreachedPassword, Source: event.SourcePortal, From: d1, To: d2},
	}
}

// show makes an event readable in failure messages.
func show(e event.Event) string {
	return fmt.Sprintf("%+v pr=%q em=%q dn=%q msg=%q et=%q portal=%q acct=%q", e, event.Value(e.Principal), event.Value(e.Email),
		event.Value(e.DisplayName), event.Value(e.Message), event.Value(e.ErrorType), event.Value(e.PortalID), event.Value(e.AccountID))
}

const attackerIP = "203.0.113.9"

// mk builds one event; n seeds its id and optional fields.
func mk(n int, at time.Time, email, principal string, typ event.Type, reason event.Reason, ip string) event.Event {
	e := event.Event{ID: v7(at, n), EventDate: at, EventType: typ, RemoteAddress: ip, Reason: reason,
		Principal: event.Str(principal), Email: event.Str(email), Host: "portal.example.com", Path: "/login"}
	if email != "" {
		e.Source, e.PortalID = event.SourcePortal, event.Str([]string{"p1", "p2"}[n%2])
	} else {
		e.Source = event.SourceManager
	}
	return e
}

// v7 returns a UUIDv7 of the millisecond of at.
func v7(at time.Time, n int) string {
	var u uuid.UUID
	ms := at.UnixMilli()
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	r := rand.New(rand.NewPCG(uint64(n), 99))
	for i := 6; i < 16; i++ {
		u[i] = byte(r.Uint32())
	}
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

// Dataset returns the suite's events in time order and the late ones, delivered
// last (logouts and victims' failures, dated on the first day).
func Dataset() (all, late []event.Event) {
	r := rand.New(rand.NewPCG(7, 11))
	emails := []string{"alice@example.com", "carol@example.com", "jörg@exämple.de", "dave@example.org"}
	principals := []string{"bob", "root", "ünïcode-admin"}
	victims := []string{"v1@example.net", "v2@example.net", "v3@example.net"}
	ips := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "2001:db8::1"}
	uas := []string{"Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", ""}
	failures := 0
	for i := range 480 {
		at := Base.Add(time.Duration(i)*537*time.Second + time.Duration(i*7919%1000)*time.Millisecond)
		var e event.Event
		switch x := r.IntN(100); {
		case x < 20:
			who := victims[r.IntN(len(victims))]
			if r.IntN(5) == 0 {
				who = "alice@example.com"
			}
			reason := []event.Reason{event.BadCredentials, event.AccountNotFound}[r.IntN(2)]
			ip := attackerIP
			if r.IntN(4) == 0 {
				ip = "198.51.100." + fmt.Sprint(r.IntN(3))
			}
			e = mk(i, at, who, "", event.LoginFailure, reason, ip)
			// Credential stuffing tries breached passwords: some are
			// refused for it, by a route in monitor mode only in name.
			switch {
			case i%10 == 0:
				e.Reason, e.PasswordBreached = event.BreachedPassword, true
				if i%30 == 0 {
					e.WouldRefuse = event.BreachedPassword
				}
			case i%5 == 0:
				e.PasswordBreached = true
			}
		default:
			var email, principal string
			if u := r.IntN(7); u < 4 {
				email = emails[u]
			} else {
				principal = principals[u-4]
			}
			typ := []event.Type{event.LoginSuccess, event.LoginSuccess, event.LoginFailure, event.Logout, event.AccountLocked, event.AccountUnlocked}[r.IntN(6)]
			var reason event.Reason
			if typ == event.LoginFailure {
				reason = event.Reasons[r.IntN(len(event.Reasons))]
			}
			e = mk(i, at, email, principal, typ, reason, ips[r.IntN(len(ips))])
		}
		if e.EventType == event.LoginFailure && e.RemoteAddress != attackerIP && i%9 == 3 {
			e.Reason = event.Locked // more locked accounts' refusals, monitored (i%3 == 0) below
		}
		switch e.Identity() {
		case "alice@example.com":
			e.DisplayName = event.Str("Alice Ä.")
		case "jörg@exämple.de":
			e.DisplayName = event.Str("Jörg Ünicode 😀")
		case "bob":
			e.DisplayName = event.Str("bob")
		}
		if e.EventType == event.LoginFailure && logstore.IsRefusal(e.Reason) && i%3 == 0 {
			// A refusal a route in monitor mode did not make.
			e.WouldRefuse = e.Reason
		}
		if attempt(&e) && i%11 == 4 {
			e.PasswordBreached = true // a breached password, also on successes
		}
		if e.Reason == event.BreachedPassword {
			e.PasswordBreached = true
		}
		if e.EventType == event.LoginFailure && (e.Reason == event.RateLimited || e.Reason == event.Locked) && i%4 != 1 {
			// A sampled refusal: it stands for itself and the refusals
			// suppressed since the previous event of its key.
			e.Count = 2 + i%40
		}
		if e.EventType == event.LoginFailure {
			failures++
			e.FailureCount = failures%5 + 1
			e.ErrorType = event.Str("AuthenticationFailed")
			if e.Reason == event.BadCredentials {
				e.Message = event.Str(fmt.Sprintf("Account %s failed authentication due to %d failed login attempts", e.Identity(), e.FailureCount))
			} else {
				e.Message = event.Str("Authentication failed -> " + string(e.Reason))
			}
		}
		if i%3 == 0 {
			e.AccountID = event.Str(fmt.Sprint("acc-", i%11))
		}
		e.UserAgent = uas[i%len(uas)]
		if i%29 != 0 { // some events were stored before enrichment was on
			enrichment(&e)
		}
		if i%4 == 0 {
			e.TraceID = fmt.Sprintf("%032x", i*7919+1)
		}
		switch {
		case i%37 == 5:
			e.ID = uuid.NewString()
		case i%53 == 7:
			e.ID = fmt.Sprint("evt-", i, "-ü")
		case i%41 == 3:
			e.ID = v7(at.Add(time.Hour), i)
		case i%43 == 9:
			e.ID = v7(at.Add(-1500*time.Millisecond), i)
		}
		switch i {
		case 17:
			// A failure of a reason this version does not know.
			e.EventType, e.Reason, e.Message, e.ErrorType = event.LoginFailure, "SOME_NEW_REASON", nil, nil
		case 37:
			// A refusal a route in monitor mode did not make, of a reason
			// this version does not know.
			e.EventType, e.Reason, e.WouldRefuse, e.Message, e.ErrorType = event.LoginFailure, "SOME_NEW_REFUSAL", "SOME_NEW_REFUSAL", nil, nil
		case 18:
			e.TraceID = "not-a-hex-trace"
		case 19:
			e.EventType = "PASSWORD_CHANGED"
		case 23, 131:
			e.EventType = "DATA_EXPORTED" // the admin API's audit types
		case 29:
			e.EventType = "DATA_ERASED"
		case 61:
			e.EventType, e.Source = "DATA_EXPORTED", "ADMIN_API"
		}
		all = append(all, e)
	}
	// Dave ends logged out; alice ends with a success.
	end := Base.Add(72 * time.Hour)
	all = append(all,
		mk(1000, end.Add(-10*time.Minute), "dave@example.org", "", event.LoginSuccess, "", "10.0.0.4"),
		mk(1001, end.Add(-9*time.Minute), "dave@example.org", "", event.Logout, "", "10.0.0.4"),
		mk(1002, end.Add(-30*time.Second), "alice@example.com", "", event.LoginSuccess, "", "10.0.0.1"))
	all[len(all)-1].DisplayName = event.Str("Alice Ä.")
	for i := range 8 {
		at := Base.Add(time.Duration(i)*93*time.Minute + 11*time.Second)
		if i%2 == 0 {
			late = append(late, mk(2000+i, at, victims[i%3], "", event.LoginFailure, event.BadCredentials, attackerIP))
		} else {
			late = append(late, mk(2000+i, at, "carol@example.com", "", event.Logout, "", "10.0.0.3"))
		}
	}
	return all, late
}

// enrichment sets e's location from its address and its device from its
// user agent, as package enrich would from its databases: private addresses
// have no location; the attacker's network has all the fields, the
// documentation networks some.
func enrichment(e *event.Event) {
	switch {
	case e.RemoteAddress == attackerIP:
		e.Geo = event.Geo{Country: "NL", RegionCode: "NH", Region: "North Holland", City: "Amsterdam", Latitude: 52.3759, Longitude: 4.8975,
			AccuracyRadius: 1000, ASN: 64496, ASOrg: "Example Hosting B.V."}
	case strings.HasPrefix(e.RemoteAddress, "198.51.100."):
		// DB-IP's layout: a region name without code, no accuracy radius.
		e.Geo = event.Geo{Country: "US", Region: "California", City: "Mountain View", Latitude: 37.4056, Longitude: -122.0775,
			ASN: 64497, ASOrg: "Example Transit Ünïcode"}
	case e.RemoteAddress == "2001:db8::1":
		e.Geo = event.Geo{Country: "DE", Latitude: 51.2993, Longitude: 9.491, AccuracyRadius: 100}
	}
	switch e.UserAgent {
	case "curl/8.5.0":
		e.Device = event.Device{Browser: "curl", DeviceType: event.DeviceBot, Bot: true}
	case "Mozilla/5.0 (X11; Linux x86_64)":
		e.Device = event.Device{OS: "Linux", DeviceType: event.DeviceDesktop}
	}
}

// NoSeq returns e without its store-assigned sequence number, for comparison
// with the event as delivered.
func NoSeq(e event.Event) event.Event {
	e.Seq = 0
	return e
}

// Seqs returns the sequence number of every event in s, by event id.
func Seqs(t testing.TB, s logstore.Store) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := s.Each(context.Background(), logstore.Filter{}, true, func(e event.Event) error {
		out[e.ID] = e.Seq
		return nil
	})
	if err != nil {
		t.Fatalf("Each: %v", err)
	}
	return out
}

// CheckSeqOrder fails t unless, among evs (delivered in this order), an event
// with a later eventDate has a higher number in seqs.
func CheckSeqOrder(t testing.TB, evs []event.Event, seqs map[string]int64) {
	t.Helper()
	byDate := slices.Clone(evs)
	slices.SortStableFunc(byDate, func(a, b event.Event) int { return a.EventDate.Compare(b.EventDate) })
	for i := 1; i < len(byDate); i++ {
		a, b := byDate[i-1], byDate[i]
		if a.EventDate.Before(b.EventDate) && seqs[a.ID] >= seqs[b.ID] {
			t.Fatalf("event %s of %s has seq %d, not below %d of the newer %s of %s",
				a.ID, a.EventDate, seqs[a.ID], seqs[b.ID], b.ID, b.EventDate)
		}
	}
}

// NoSeqs returns evs without their sequence numbers.
func NoSeqs(evs []event.Event) []event.Event {
	out := make([]event.Event, len(evs))
	for i, e := range evs {
		out[i] = NoSeq(e)
	}
	return out
}

// CheckSeqsUnique fails t unless every number in seqs is at least 1 and unique.
func CheckSeqsUnique(t testing.TB, seqs map[string]int64) {
	t.Helper()
	seen := make(map[int64]string, len(seqs))
	for id, n := range seqs {
		if n < 1 {
			t.Fatalf("event %s: seq %d, want >= 1", id, n)
		}
		if o, dup := seen[n]; dup {
			t.Fatalf("events %s and %s share seq %d", o, id, n)
		}
		seen[n] = id
	}
}
