package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/internal/codec"
	"github.com/loginguard/loginguard/logstore/storetest"
)

// dsn is the test database: the real PostgreSQL, trust auth. Missing is a failure.
func dsn() string {
	if v := os.Getenv("LOGINGUARD_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://root@127.0.0.1:5432/test?sslmode=disable"
}

var seq atomic.Int64

func newSchema() string {
	return fmt.Sprintf("logstore_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, seq.Add(1))
}

// openIn opens a store in schema; the schema is dropped when the test ends.
func openIn(t *testing.T, schema string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn(), Options{Schema: schema})
	if err != nil {
		t.Fatalf("PostgreSQL at %s is required: %v", dsn(), err)
	}
	t.Cleanup(func() {
		s.Close()
		if err := DropSchema(context.Background(), dsn(), schema); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return s
}

func open(t *testing.T) *Store { return openIn(t, newSchema()) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) logstore.Store { return open(t) })
}

// TestConcurrentWriters writes the conformance data set through two stores
// at once (two Caddy instances sharing a database), each account's events
// through one of them, with some batches delivered by both, and checks that
// every answer equals that of a store written by one writer.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	all, late := storetest.Dataset()
	events := append(slices.Clone(all), late...)
	ref := open(t)
	for i := 0; i < len(events); i += 40 {
		if err := ref.Deliver(ctx, events[i:min(i+40, len(events))]); err != nil {
			t.Fatal(err)
		}
	}
	schema := newSchema()
	a, b := openIn(t, schema), openIn(t, schema)
	var parts [2][]event.Event
	for _, e := range events {
		h := fnv.New32a()
		h.Write([]byte(e.Identity()))
		parts[h.Sum32()%2] = append(parts[h.Sum32()%2], e)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			evs := parts[i]
			for j := 0; j < len(evs); j += 7 {
				if err := s.Deliver(ctx, evs[j:min(j+7, len(evs))]); err != nil {
					errs <- err
					return
				}
			}
		})
		// Both stores also deliver the same batches: each event must count once.
		wg.Go(func() {
			for j := 0; j < 120; j += 10 {
				if err := s.Deliver(ctx, all[j:j+10]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent deliver: %v", err)
	}
	// Fold the user summaries from one store, then compare with the other too.
	if tx, err := a.db.Begin(ctx); err != nil {
		t.Fatal(err)
	} else {
		if err := a.fold(ctx, tx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Two writers number the events of one schema: every event once, each
	// writer's own events in their order, and both read the same numbers.
	seqs := storetest.Seqs(t, a)
	storetest.CheckSeqsUnique(t, seqs)
	if other := storetest.Seqs(t, b); !reflect.DeepEqual(other, seqs) {
		t.Fatalf("the two stores read different numbers")
	}
	for _, part := range parts {
		// Each writer delivered its share of all in date order (late came last).
		storetest.CheckSeqOrder(t, part[:len(part)-countLate(part, late)], seqs)
	}
	base := storetest.Base
	for _, s := range []*Store{a, b} {
		for _, f := range []logstore.Filter{{}, {Status: logstore.StatusFailure}, {IP: "203.0.113.9"}, {Email: "alice@example.com"},
			{Principal: "bob"}, {From: base.Add(90 * time.Minute), To: base.Add(50 * time.Hour)}, {PortalID: "p1"}} {
			want, err := ref.Query(ctx, f, logstore.Page{Size: 1000})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Query(ctx, f, logstore.Page{Size: 1000})
			if err != nil {
				t.Fatal(err)
			}
			got.Content, want.Content = storetest.NoSeqs(got.Content), storetest.NoSeqs(want.Content)
			if got.TotalElements != want.TotalElements || !reflect.DeepEqual(got.Content, want.Content) {
				for i := range min(len(got.Content), len(want.Content)) {
					if !reflect.DeepEqual(got.Content[i], want.Content[i]) {
						t.Errorf("event %d:\n got %+v\nwant %+v", i, got.Content[i], want.Content[i])
						break
					}
				}
				t.Fatalf("Query(%+v): %d events, want %d", f, got.TotalElements, want.TotalElements)
			}
		}
		for _, iv := range []logstore.Interval{logstore.Hour, logstore.Day} {
			want, err := ref.Stats(ctx, base.Add(90*time.Minute), base.Add(71*time.Hour), iv, 5)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Stats(ctx, base.Add(90*time.Minute), base.Add(71*time.Hour), iv, 5)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Stats:\n got %+v\nwant %+v", got, want)
			}
		}
		want, wn, err := ref.Users(ctx, logstore.UsersFilter{Size: 100})
		if err != nil {
			t.Fatal(err)
		}
		got, gn, err := s.Users(ctx, logstore.UsersFilter{Size: 100})
		if err != nil {
			t.Fatal(err)
		}
		if gn != wn || !reflect.DeepEqual(got, want) {
			t.Fatalf("Users:\n got %d %+v\nwant %d %+v", gn, got, wn, want)
		}
		ws, err := ref.Suspicious(ctx, logstore.SuspiciousQuery{Since: base, MinIPFailures: 2, MinAccountIPs: 2, MinIPAccounts: 2})
		if err != nil {
			t.Fatal(err)
		}
		gs, err := s.Suspicious(ctx, logstore.SuspiciousQuery{Since: base, MinIPFailures: 2, MinAccountIPs: 2, MinIPAccounts: 2})
		if err != nil {
			t.Fatal(err)
		}
		// Ties are ordered by dictionary id, which differs between the stores.
		for _, x := range []*logstore.Suspicious{&gs, &ws} {
			slices.SortFunc(x.FailingIPs, func(a, b logstore.SuspectIP) int { return strings.Compare(a.IP, b.IP) })
			slices.SortFunc(x.SprayingIPs, func(a, b logstore.SuspectIP) int { return strings.Compare(a.IP, b.IP) })
			slices.SortFunc(x.AttackedAccounts, func(a, b logstore.SuspectAccount) int { return strings.Compare(a.Identity, b.Identity) })
		}
		if !reflect.DeepEqual(gs, ws) {
			t.Fatalf("Suspicious:\n got %+v\nwant %+v", gs, ws)
		}
	}
}

// TestUsersAcrossFolds checks that the user summaries read the same before,
// during and after folding, with deltas on both sides of a fold.
func TestUsersAcrossFolds(t *testing.T) {
	ctx := context.Background()
	all, _ := storetest.Dataset()
	ref, s := open(t), open(t)
	fold := func() {
		tx, err := s.db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if err := s.fold(ctx, tx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < len(all); i += 30 {
		batch := all[i:min(i+30, len(all))]
		for _, st := range []*Store{ref, s} {
			if err := st.Deliver(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		if i%90 == 0 {
			fold()
		}
		sameUsers(t, ref, s, fmt.Sprintf("after %d events", i+len(batch)), logstore.UsersFilter{Size: 3}, logstore.UsersFilter{Size: 3, Number: 2}, logstore.UsersFilter{Search: "example", Size: 50})
	}
}

// sameUsers fails the test unless s answers each filter of Users as ref does.
func sameUsers(t *testing.T, ref, s *Store, when string, filters ...logstore.UsersFilter) {
	t.Helper()
	for _, f := range filters {
		want, wn, err := ref.Users(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		got, gn, err := s.Users(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		if gn != wn || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s, Users(%+v):\n got %d %+v\nwant %d %+v", when, f, gn, got, wn, want)
		}
	}
}

func TestSplitID(t *testing.T) {
	ms := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	v7 := func(ms int64, rnd byte) string {
		var u [16]byte
		for i := range 6 {
			u[i] = byte(ms >> (40 - 8*i))
		}
		for i := 6; i < 16; i++ {
			u[i] = rnd + byte(i)
		}
		u[6] = u[6]&0x0f | 0x70
		u[8] = u[8]&0x3f | 0x80
		return formatUUID(&u)
	}
	for _, c := range []struct {
		id    string
		short bool
	}{
		{v7(ms, 1), true},
		{v7(ms-maxIDDelta, 2), true},
		{v7(ms+maxIDDelta, 3), true},
		{v7(ms+maxIDDelta+1, 4), false},
		{"0190a4f2-1c2b-4d3e-8f40-123456789abc", false}, // v4
		{"0190A4F2-1C2B-7D3E-8F40-123456789ABC", false}, // not canonical
		{"evt-1", false},
	} {
		r, ia, short := splitID(c.id, ms)
		if short != c.short {
			t.Errorf("splitID(%q) short = %v, want %v", c.id, short, c.short)
			continue
		}
		if short {
			if got := joinID(ms, r, ia); got != c.id {
				t.Errorf("joinID(splitID(%q)) = %q", c.id, got)
			}
		}
	}
}

// TestInlineIP checks that exactly the canonical dotted quads are stored
// inline, and that they read back unchanged.
func TestInlineIP(t *testing.T) {
	for _, v := range []string{"0.0.0.0", "1.2.3.4", "10.0.0.1", "127.255.255.255", "128.0.0.0", "255.255.255.255", "203.0.113.9"} {
		id, ok := inlineIP(v)
		if !ok || id >= 0 || ipString(id) != v {
			t.Errorf("inlineIP(%q) = %d, %v; reads back %q", v, id, ok, ipString(id))
		}
	}
	for _, v := range []string{"", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "1..2.3", "1.2.3.4 ", "::ffff:1.2.3.4", "2001:db8::1", "1.2.3.-4", "a.b.c.d", "1.2.3.4."} {
		if id, ok := inlineIP(v); ok {
			t.Errorf("inlineIP(%q) = %d, true; want false", v, id)
		}
	}
}

func TestPackRoundTrip(t *testing.T) {
	users := map[int64]*codec.User{
		3:     {ID: 3, Source: 2, Seen: 1740830400000, HasSeen: true, Login: 1740830300000, HasLogin: true, IP: -167772162, Fails: 0, Disp: 9},
		70000: {ID: 70000, Source: 1, Seen: 1740830500000, HasSeen: true, Failure: 1740830500000, HasFail: true, Fails: 4, IP: 12},
		71000: {ID: 71000, Seen: -5, HasSeen: true, Logout: -5, HasLogout: true},
	}
	got := map[int64]*codec.User{}
	if err := unpackUsers(packUsers(users), func(u *codec.User) { got[u.ID] = u }); err != nil || !reflect.DeepEqual(got, users) {
		t.Fatalf("users round trip: %v\n got %+v\nwant %+v", err, got, users)
	}
	// Codes of 16 bits (a monitored refusal, a breached password) beside
	// those of 9 that rows written before events.flags hold.
	counts := map[ckey]int64{{17, 4, 0}: 3, {2, 0, 0}: 1, {50, 4, 9}: 700, {-1, -2, -3}: 1, {2 | 2<<3 | 10<<5 | 10<<10, 4, 0}: 5, {1 | 1<<15, 0, 0}: 2}
	gotc := map[ckey]int64{}
	if err := unpackEventCounts(packEventCounts(counts), func(c int64, p, x int32, n int64) { gotc[ckey{int32(c), p, x}] = n }); err != nil || !reflect.DeepEqual(gotc, counts) {
		t.Fatalf("counts round trip: %v %v", err, gotc)
	}
	users[3].Breached, users[3].BreachedOK, users[70000].Breached = 4, 1, 2
	gotb := map[int64]*codec.User{}
	if err := unpackUsers(packUsers(users), func(u *codec.User) { gotb[u.ID] = u }); err != nil {
		t.Fatal(err)
	}
	if err := unpackBreached(packBreached(users), gotb); err != nil || !reflect.DeepEqual(gotb, users) {
		t.Fatalf("breached-password counts round trip: %v\n got %+v\nwant %+v", err, gotb, users)
	}
	if b := packBreached(map[int64]*codec.User{1: {ID: 1, Fails: 3}}); len(b) != 0 {
		t.Errorf("no breached-password counts packed as % x, want nothing", b)
	}
	keys := map[int64]int64{-4294967296: 2, -1: 1, 5: 9, 1 << 40: 1}
	gotk := map[int64]int64{}
	if err := codec.AddCounts(codec.AppendCountMap(nil, codec.VarintDelta, keys), codec.VarintDelta, func(k, n int64) { gotk[k] = n }); err != nil || !reflect.DeepEqual(gotk, keys) {
		t.Fatalf("keyed counts round trip: %v %v", err, gotk)
	}
	for _, p := range []profile{{}, {"Jörg \"Ü\"", ""}, {"", "acc-1"}, {"a", "b"}} {
		if got := parseProfile(p.String()); got != p {
			t.Errorf("profile %+v reads back %+v", p, got)
		}
	}
}

// TestBackgroundMaintenance folds and vacuums after nearly every batch, while
// other goroutines read, and checks the answers against a store that never
// ran either.
func TestBackgroundMaintenance(t *testing.T) {
	ctx := context.Background()
	all, late := storetest.Dataset()
	events := append(slices.Clone(all), late...)
	ref, s := open(t), open(t)
	ref.mu.Lock()
	ref.foldEvery, ref.analyze, ref.idleAfter = 1<<30, 1<<40, time.Hour
	ref.mu.Unlock()
	s.mu.Lock()
	s.foldEvery, s.analyze, s.idleAfter = 2, 60, 5*time.Millisecond
	s.mu.Unlock()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := s.Users(ctx, logstore.UsersFilter{Size: 5}); err != nil {
				t.Error(err)
				return
			}
			if _, err := s.Stats(ctx, storetest.Base, storetest.Base.Add(72*time.Hour), logstore.Hour, 3); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for i := 0; i < len(events); i += 20 {
		for _, st := range []*Store{ref, s} {
			if err := st.Deliver(ctx, events[i:min(i+20, len(events))]); err != nil {
				t.Fatal(err)
			}
		}
		if i%100 == 0 {
			time.Sleep(20 * time.Millisecond) // let the idle fold run now and then
		}
	}
	close(stop)
	wg.Wait()
	sameUsers(t, ref, s, "after the merges", logstore.UsersFilter{Size: 100}, logstore.UsersFilter{Size: 2, Number: 1}, logstore.UsersFilter{Search: "EXAMPLE", Size: 100})
	want, err := ref.Stats(ctx, storetest.Base, storetest.Base.Add(72*time.Hour), logstore.Hour, 5)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Stats(ctx, storetest.Base, storetest.Base.Add(72*time.Hour), logstore.Hour, 5)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Stats: %v\n got %+v\nwant %+v", err, got, want)
	}
	// Once writes pause, the deltas are folded.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var n int
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM udelta`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d udelta rows left after writes paused", n)
		}
	}
}

// countLate returns how many events of part are in late.
func countLate(part, late []event.Event) int {
	n := 0
	for _, e := range part {
		for _, l := range late {
			if e.ID == l.ID {
				n++
				break
			}
		}
	}
	return n
}

// TestUpgradeAddsSeq opens a schema written before sequence numbers (events
// without the seq column): the store numbers the events it holds from 1 in
// date order, loses none, and numbers new events after them.
// TestUpgradeAddsGeo opens a schema written before the location and device
// columns: they are added, old events read back without them.
func TestUpgradeAddsGeo(t *testing.T) {
	ctx := context.Background()
	all, _ := storetest.Dataset()
	old := storetest.Unenriched(all)
	schema := newSchema()
	s := openIn(t, schema)
	if err := s.Deliver(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(ctx, `ALTER TABLE events DROP COLUMN cc, DROP COLUMN asn, DROP COLUMN dev, DROP COLUMN g`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openIn(t, schema)
	storetest.CheckGeoUpgrade(t, s, old)
}

func TestUpgradeAddsSeq(t *testing.T) {
	ctx := context.Background()
	all, late := storetest.Dataset()
	schema := newSchema()
	s := openIn(t, schema)
	if err := s.Deliver(ctx, append(slices.Clone(all), late...)); err != nil {
		t.Fatal(err)
	}
	want, err := s.Query(ctx, logstore.Filter{}, logstore.Page{Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(ctx, `ALTER TABLE events DROP COLUMN seq; DROP SEQUENCE events_seq_no`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openIn(t, schema)
	got, err := s.Query(ctx, logstore.Filter{}, logstore.Page{Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got.TotalElements != want.TotalElements || !reflect.DeepEqual(storetest.NoSeqs(got.Content), storetest.NoSeqs(want.Content)) {
		t.Fatalf("after upgrade: %d events, want the same %d", got.TotalElements, want.TotalElements)
	}
	seqs := storetest.Seqs(t, s)
	storetest.CheckSeqsUnique(t, seqs)
	storetest.CheckSeqOrder(t, append(slices.Clone(all), late...), seqs)
	// Newest first: the numbers run down from len(events) to 1.
	for i, e := range got.Content {
		if want := int64(len(got.Content) - i); e.Seq != want {
			t.Fatalf("event %d after upgrade: seq %d, want %d", i, e.Seq, want)
		}
	}
	n := all[0]
	n.ID, n.EventDate = "01a00000-0000-7000-8000-000000000001", storetest.Base.Add(100*time.Hour)
	if err := s.Deliver(ctx, []event.Event{n}); err != nil {
		t.Fatal(err)
	}
	if e, ok, err := s.Get(ctx, n.ID); err != nil || !ok || e.Seq != int64(len(got.Content))+1 {
		t.Fatalf("first event after upgrade: seq %d (%v %v), want %d", e.Seq, ok, err, len(got.Content)+1)
	}
}

// TestUpgradeTallyGeo opens a schema whose tally rollup predates its geo
// counts: half the data set is written before, half after the upgrade (an
// hour holds rows of both), and Stats answers as a store that had the
// counts all along.
func TestUpgradeTallyGeo(t *testing.T) {
	ctx := context.Background()
	all, late := storetest.Dataset()
	evs := append(slices.Clone(all), late...)
	ref := open(t)
	if err := ref.Deliver(ctx, evs); err != nil {
		t.Fatal(err)
	}
	schema := newSchema()
	s := openIn(t, schema)
	half := len(all) / 2
	if err := s.Deliver(ctx, all[:half]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(ctx, `ALTER TABLE tally DROP COLUMN geo`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openIn(t, schema)
	for i := half; i < len(evs); i += 40 {
		if err := s.Deliver(ctx, evs[i:min(i+40, len(evs))]); err != nil {
			t.Fatal(err)
		}
	}
	var mixed int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM (SELECT h FROM tally GROUP BY h HAVING count(geo) > 0 AND count(*) > count(geo)) m`).Scan(&mixed); err != nil || mixed == 0 {
		t.Fatalf("no hour with tally rows from before and after the upgrade (%v)", err)
	}
	storetest.CheckSameStats(t, ref, s)
}

// TestUpgradeAddsMore opens a schema written before counts of attempts (no
// more column on events nor on tally): its events count one attempt each,
// Stats answers as a store that had the columns all along, and a sampled
// refusal delivered after the upgrade counts what it stands for.
func TestUpgradeAddsMore(t *testing.T) {
	ctx := context.Background()
	all, late := storetest.Dataset()
	old := storetest.Uncounted(append(slices.Clone(all), late...))
	ref := open(t)
	if err := ref.Deliver(ctx, old); err != nil {
		t.Fatal(err)
	}
	schema := newSchema()
	s := openIn(t, schema)
	if err := s.Deliver(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(ctx, `ALTER TABLE events DROP COLUMN more; ALTER TABLE tally DROP COLUMN more`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openIn(t, schema)
	storetest.CheckSameStats(t, ref, s)
	storetest.CheckCountUpgrade(t, ref, s)
}

// TestUpgradeAddsFlags opens a schema written before monitored refusals,
// breached passwords and BREACHED_PASSWORD were kept (no events.flags, no
// breached-password counts on users and udelta), with user summaries both
// folded and still in udelta: the columns are added, old events read back as
// they were, Stats answers as a store that had them all along, and the new
// fields delivered after the upgrade are kept, found and counted.
func TestUpgradeAddsFlags(t *testing.T) {
	ctx := context.Background()
	all, late := storetest.Dataset()
	old := storetest.Unflagged(append(slices.Clone(all), late...))
	ref := open(t)
	if err := ref.Deliver(ctx, old); err != nil {
		t.Fatal(err)
	}
	schema := newSchema()
	s := openIn(t, schema)
	half := len(old) / 2
	if err := s.Deliver(ctx, old[:half]); err != nil {
		t.Fatal(err)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.fold(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(ctx, old[half:]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(ctx, `ALTER TABLE events DROP COLUMN flags; ALTER TABLE users DROP COLUMN breached, DROP COLUMN breached_ok;
ALTER TABLE udelta DROP COLUMN bb`); err != nil {
		t.Fatal(err)
	}
	var users, deltas int
	if err := s.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM udelta)`).Scan(&users, &deltas); err != nil || users == 0 || deltas == 0 {
		t.Fatalf("before the upgrade: %d users folded, %d deltas (%v); want both", users, deltas, err)
	}
	s.Close()
	s = openIn(t, schema)
	storetest.CheckSameStats(t, ref, s)
	sameUsers(t, ref, s, "after the upgrade", logstore.UsersFilter{Size: 100})
	storetest.CheckFlagsUpgrade(t, ref, s, old)
}
