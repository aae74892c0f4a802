package storetest

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// The cases of this file check the two fields of an attempt beyond the
// connector event's that the stores keep in their codes (see
// codec.Code): wouldRefuse, the refusal a route in monitor mode did not
// make, and passwordBreached; and the reasons past the 15th, which a code of
// four reason bits could not hold.

// testWouldRefuse: the monitored refusals of the data set read back with
// their wouldRefuse, are found by the filter (any reason, one reason, with
// other filters), and are counted in Stats apart from the refusals made, in
// the totals, by reason and per bucket, over whole days (the rollups) and
// over a span cut mid-hour (raw events).
func testWouldRefuse(h *harness) {
	t, s, m, ctx := h.t, h.s, h.m, h.ctx
	monitored := m.filter(logstore.Filter{WouldRefuse: logstore.AnyReason}, true)
	locked := m.filter(logstore.Filter{WouldRefuse: event.Locked}, true)
	if len(monitored) < 5 || len(locked) == 0 || len(locked) == len(monitored) {
		t.Fatalf("the data set has %d monitored refusals, %d of them LOCKED: the checks below cannot fail", len(monitored), len(locked))
	}
	for _, e := range monitored {
		got, ok, err := s.Get(ctx, e.ID)
		if err != nil || !ok || got.WouldRefuse != e.WouldRefuse || got.Reason != e.Reason {
			t.Fatalf("Get(%q): wouldRefuse %q reason %q, %v, %v; want %q %q", e.ID, got.WouldRefuse, got.Reason, ok, err, e.WouldRefuse, e.Reason)
		}
	}
	for _, c := range []struct {
		f    logstore.Filter
		want model
	}{
		{logstore.Filter{WouldRefuse: logstore.AnyReason}, monitored},
		{logstore.Filter{WouldRefuse: event.Locked}, locked},
		{logstore.Filter{WouldRefuse: event.Locked, Reason: event.Locked, Status: logstore.StatusFailure}, locked},
		{logstore.Filter{WouldRefuse: event.MFAFailed}, nil}, // never a refusal
	} {
		for _, size := range []int{3, 1000} {
			got, err := s.Query(ctx, c.f, logstore.Page{Size: size, Asc: true})
			if err != nil {
				t.Fatalf("Query(%+v): %v", c.f, err)
			}
			if got.TotalElements != int64(len(c.want)) || !slices.Equal(ids(got.Content), ids(c.want[:min(size, len(c.want))])) {
				t.Fatalf("Query(%+v, size %d): %d events %v; want %d %v", c.f, size, got.TotalElements, ids(got.Content), len(c.want), ids(c.want))
			}
		}
	}
	// The refusals made, without the monitored ones.
	made := 0
	for _, e := range m {
		if e.EventType == event.LoginFailure && logstore.IsRefusal(e.Reason) && e.WouldRefuse == "" {
			made++
		}
	}
	if made == 0 {
		t.Fatal("the data set has no refusal made")
	}
	for _, sp := range []struct {
		from, to time.Time
		iv       logstore.Interval
	}{
		{Base, Base.Add(72 * time.Hour), logstore.Day},
		{Base.Add(5*time.Hour + 30*time.Minute), Base.Add(61*time.Hour + 30*time.Minute), logstore.Hour},
	} {
		got, err := s.Stats(ctx, sp.from, sp.to, sp.iv, 3)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		want, _, _ := m.stats(sp.from, sp.to, sp.iv)
		if want.WouldRefuse == 0 || want.Refused == 0 {
			t.Fatalf("Stats(%v, %v) of the model: %d monitored, %d made: nothing to compare", sp.from, sp.to, want.WouldRefuse, want.Refused)
		}
		if got.WouldRefuse != want.WouldRefuse || got.Refused != want.Refused || !equalReasons(got.WouldRefuseByReason, want.WouldRefuseByReason) ||
			!equalReasons(got.RefusedByReason, want.RefusedByReason) {
			t.Fatalf("Stats(%v, %v): wouldRefuse %d %v, refused %d %v; want %d %v, %d %v", sp.from, sp.to,
				got.WouldRefuse, got.WouldRefuseByReason, got.Refused, got.RefusedByReason,
				want.WouldRefuse, want.WouldRefuseByReason, want.Refused, want.RefusedByReason)
		}
		var series, wantSeries []int64
		for i := range got.Series {
			series = append(series, got.Series[i].WouldRefuse)
		}
		for i := range want.Series {
			wantSeries = append(wantSeries, want.Series[i].WouldRefuse)
		}
		if !slices.Equal(series, wantSeries) {
			t.Fatalf("Stats(%v, %v): wouldRefuse per bucket %v; want %v", sp.from, sp.to, series, wantSeries)
		}
	}
}

// testPasswordBreached: the attempts with a breached password read back with
// it, are found by the filter (alone, with a status, an email, wouldRefuse),
// and are counted in Stats (attempts, successes among them, per bucket) and
// per identity in Users (successes and failures, sampled refusals for what
// they stand for).
func testPasswordBreached(h *harness) {
	t, s, m, ctx := h.t, h.s, h.m, h.ctx
	breached := m.filter(logstore.Filter{Breached: true}, false)
	ok := m.filter(logstore.Filter{Breached: true, Status: logstore.StatusSuccess}, false)
	if len(ok) == 0 || len(breached) <= len(ok) {
		t.Fatalf("the data set has %d attempts with a breached password, %d successful: the checks below cannot fail", len(breached), len(ok))
	}
	for _, e := range breached {
		got, found, err := s.Get(ctx, e.ID)
		if err != nil || !found || !got.PasswordBreached {
			t.Fatalf("Get(%q): passwordBreached %v, %v, %v; want true", e.ID, got.PasswordBreached, found, err)
		}
	}
	for _, f := range []logstore.Filter{{Breached: true}, {Breached: true, Status: logstore.StatusSuccess}, {Breached: true, Email: attackerVictim(m)}} {
		want := m.filter(f, false)
		got, err := s.Query(ctx, f, logstore.Page{Size: 1000})
		if err != nil || got.TotalElements != int64(len(want)) || !slices.Equal(ids(got.Content), ids(want)) {
			t.Fatalf("Query(%+v): %d events, %v; want %d", f, got.TotalElements, err, len(want))
		}
	}
	for _, sp := range [][2]time.Time{{Base, Base.Add(72 * time.Hour)}, {Base.Add(26 * time.Hour), Base.Add(26*time.Hour + 40*time.Minute)}} {
		got, err := s.Stats(ctx, sp[0], sp[1], logstore.Hour, 3)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		want, _, _ := m.stats(sp[0], sp[1], logstore.Hour)
		var series, wantSeries []int64
		for i := range got.Series {
			series = append(series, got.Series[i].Breached)
		}
		for i := range want.Series {
			wantSeries = append(wantSeries, want.Series[i].Breached)
		}
		if got.Breached != want.Breached || got.BreachedSuccesses != want.BreachedSuccesses || !slices.Equal(series, wantSeries) {
			t.Fatalf("Stats(%v, %v): breached %d, successes %d, per hour %v; want %d, %d, %v", sp[0], sp[1],
				got.Breached, got.BreachedSuccesses, series, want.Breached, want.BreachedSuccesses, wantSeries)
		}
	}
	whole, _, _ := m.stats(Base, Base.Add(72*time.Hour), logstore.Day)
	if whole.Breached == 0 || whole.BreachedSuccesses == 0 {
		t.Fatalf("the model counts %d breached attempts, %d successful: nothing to compare", whole.Breached, whole.BreachedSuccesses)
	}
	users := m.users()
	withOK := 0
	for id, u := range users {
		if u.BreachedSuccesses == 0 {
			continue
		}
		withOK++
		l, _, err := s.Users(ctx, logstore.UsersFilter{Search: id, Size: 100})
		if err != nil {
			t.Fatalf("Users(%q): %v", id, err)
		}
		i := slices.IndexFunc(l, func(x logstore.UserSummary) bool { return x.Identity == id })
		if i < 0 || l[i].BreachedAttempts != u.BreachedAttempts || l[i].BreachedSuccesses != u.BreachedSuccesses {
			t.Fatalf("Users(%q): %+v; want %d breached attempts, %d successful", id, l, u.BreachedAttempts, u.BreachedSuccesses)
		}
	}
	if withOK == 0 {
		t.Fatal("no identity of the data set logged in with a breached password")
	}
}

// attackerVictim returns the identity with the most attempts with a
// breached password from the attacker's IP.
func attackerVictim(m model) string {
	n := map[string]int{}
	best := ""
	for _, e := range m {
		if e.PasswordBreached && e.RemoteAddress == attackerIP {
			id := e.Identity()
			n[id]++
			if best == "" || n[id] > n[best] || n[id] == n[best] && id < best {
				best = id
			}
		}
	}
	return best
}

// testReasonsPastFifteen: BREACHED_PASSWORD, the 16th reason, reads back,
// is found by the reason filter and no other, and is counted by reason and as
// a refusal; MISSING_PRINCIPAL, the 15th, finds neither it nor the failure
// of a reason this version does not know, which reads back verbatim and is
// in no count by reason.
func testReasonsPastFifteen(h *harness) {
	t, s, m, ctx := h.t, h.s, h.m, h.ctx
	refusedBreached := m.filter(logstore.Filter{Reason: event.BreachedPassword}, true)
	missing := m.filter(logstore.Filter{Reason: event.MissingPrincipal}, true)
	if len(refusedBreached) == 0 || len(missing) == 0 {
		t.Fatalf("the data set has %d BREACHED_PASSWORD and %d MISSING_PRINCIPAL events", len(refusedBreached), len(missing))
	}
	for _, e := range refusedBreached {
		got, ok, err := s.Get(ctx, e.ID)
		if err != nil || !ok || got.Reason != event.BreachedPassword || !reflect.DeepEqual(NoSeq(got), e) {
			t.Fatalf("Get(%q): %v, %v\n got %s\nwant %s", e.ID, ok, err, show(NoSeq(got)), show(e))
		}
	}
	for _, c := range []struct {
		r    event.Reason
		want model
	}{{event.BreachedPassword, refusedBreached}, {event.MissingPrincipal, missing}} {
		got, err := s.Query(ctx, logstore.Filter{Reason: c.r}, logstore.Page{Size: 1000, Asc: true})
		if err != nil || got.TotalElements != int64(len(c.want)) || !slices.Equal(ids(got.Content), ids(c.want)) {
			t.Fatalf("Query(reason %s): %d events %v, %v; want %d %v", c.r, got.TotalElements, ids(got.Content), err, len(c.want), ids(c.want))
		}
	}
	unknown := m.filter(logstore.Filter{Reason: "SOME_NEW_REASON"}, true)
	if len(unknown) != 1 || unknown[0].EventType != event.LoginFailure {
		t.Fatalf("the data set has %d failures of a reason this version does not know, want 1", len(unknown))
	}
	if got, ok, err := s.Get(ctx, unknown[0].ID); err != nil || !ok || got.Reason != "SOME_NEW_REASON" {
		t.Fatalf("Get of the failure of an unknown reason: reason %q, %v, %v", got.Reason, ok, err)
	}
	st, err := s.Stats(ctx, Base, Base.Add(72*time.Hour), logstore.Day, 3)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	want, _, _ := m.stats(Base, Base.Add(72*time.Hour), logstore.Day)
	count := func(l []logstore.ReasonCount, r event.Reason) int64 {
		for _, rc := range l {
			if rc.Reason == r {
				return rc.Count
			}
		}
		return 0
	}
	for _, r := range []event.Reason{event.BreachedPassword, event.MissingPrincipal} {
		if got, w := count(st.ByReason, r), count(want.ByReason, r); got != w || w == 0 {
			t.Fatalf("Stats by reason: %s %d, want %d (all: %v)", r, got, w, st.ByReason)
		}
		if got, w := count(st.RefusedByReason, r), count(want.RefusedByReason, r); got != w || w == 0 {
			t.Fatalf("Stats refused by reason: %s %d, want %d (all: %v)", r, got, w, st.RefusedByReason)
		}
	}
	for _, rc := range st.ByReason {
		if !known(rc.Reason) {
			t.Fatalf("Stats by reason lists %q", rc.Reason)
		}
	}
}

// Unflagged returns evs as a store of SQLite format 5 or earlier, or a
// PostgreSQL schema without events.flags, held them: no wouldRefuse, no
// breached password, BAD_CREDENTIALS for BREACHED_PASSWORD, and UNKNOWN for
// a reason this version does not know (those stores kept it under the
// code of MISSING_PRINCIPAL, a case of its own: see codec.Code).
func Unflagged(evs []event.Event) []event.Event {
	out := make([]event.Event, len(evs))
	for i, e := range evs {
		e.WouldRefuse, e.PasswordBreached = "", false
		switch {
		case e.Reason == event.BreachedPassword:
			e.Reason = event.BadCredentials
		case e.Reason != "" && !known(e.Reason):
			e.Reason = event.Unknown
		}
		out[i] = e
	}
	return out
}

// CheckFlagsUpgrade checks a store s opened on a log written before
// wouldRefuse, passwordBreached and BREACHED_PASSWORD were kept, against
// ref, a store of the same events that kept them all along: the old events
// read back as they were (old), and after the upgrade a monitored LOCKED
// refusal (sampled: 12 attempts), a breached password's success and its
// refusal delivered to both read back with their fields, are found by the
// filters, and count in Stats and Users as in the reference.
func CheckFlagsUpgrade(t testing.TB, ref, s logstore.Store, old []event.Event) {
	t.Helper()
	ctx := context.Background()
	for _, want := range old {
		got, ok, err := s.Get(ctx, want.ID)
		if err != nil || !ok || !reflect.DeepEqual(NoSeq(got), want) {
			t.Fatalf("old event %q after the upgrade: %v %v\n got %s\nwant %s", want.ID, ok, err, show(NoSeq(got)), show(want))
		}
	}
	at := Base.Add(50*time.Hour + 40*time.Minute)
	monitored := mk(8100, at, "upgraded@example.com", "", event.LoginFailure, event.Locked, "203.0.113.51")
	monitored.WouldRefuse, monitored.Count = event.Locked, 12
	ok := mk(8101, at.Add(time.Minute), "upgraded@example.com", "", event.LoginSuccess, "", "203.0.113.51")
	ok.PasswordBreached = true
	refused := mk(8102, at.Add(2*time.Minute), "upgraded@example.com", "", event.LoginFailure, event.BreachedPassword, "203.0.113.51")
	refused.PasswordBreached = true
	fresh := []event.Event{monitored, ok, refused}
	for _, st := range []logstore.Store{ref, s} {
		if err := st.Deliver(ctx, fresh); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range fresh {
		if got, found, err := s.Get(ctx, want.ID); err != nil || !found || !reflect.DeepEqual(NoSeq(got), want) {
			t.Fatalf("Get after the upgrade: %v %v\n got %s\nwant %s", found, err, show(NoSeq(got)), show(want))
		}
	}
	for _, c := range []struct {
		f    logstore.Filter
		want []event.Event
	}{
		{logstore.Filter{WouldRefuse: logstore.AnyReason}, []event.Event{monitored}},
		{logstore.Filter{Breached: true}, []event.Event{ok, refused}},
		{logstore.Filter{Reason: event.BreachedPassword}, []event.Event{refused}},
	} {
		got, err := s.Query(ctx, c.f, logstore.Page{Size: 100, Asc: true})
		if err != nil || got.TotalElements != int64(len(c.want)) || !slices.Equal(ids(got.Content), ids(c.want)) {
			t.Fatalf("Query(%+v) after the upgrade: %d %v, %v; want %v", c.f, got.TotalElements, ids(got.Content), err, ids(c.want))
		}
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
		if got.WouldRefuse != 12 || got.Breached != 2 || got.BreachedSuccesses != 1 || !reflect.DeepEqual(got, want) {
			t.Fatalf("Stats(%v, %v) after the upgrade: wouldRefuse %d, breached %d (%d successes); want 12, 2 (1), as the reference\n got %+v\nwant %+v",
				sp[0], sp[1], got.WouldRefuse, got.Breached, got.BreachedSuccesses, got, want)
		}
	}
	l, _, err := s.Users(ctx, logstore.UsersFilter{Search: "upgraded@example.com"})
	if err != nil || len(l) != 1 || l[0].BreachedAttempts != 2 || l[0].BreachedSuccesses != 1 {
		t.Fatalf("Users after the upgrade: %+v, %v; want 2 breached attempts, 1 successful", l, err)
	}
}
