package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"

	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/internal/codec"
	"github.com/loginguard/loginguard/logstore/storetest"
)

func open(t testing.TB, opt Options) *Store {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "log.db"), opt)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) logstore.Store { return open(t, Options{}) })
}

// TestConformanceSmallSegments runs the suite with segments of a few events,
// so that days hold many level-0 segments that are merged, and a dictionary
// folded into its indexes every few strings.
func TestConformanceSmallSegments(t *testing.T) {
	storetest.Run(t, func(t *testing.T) logstore.Store { return open(t, Options{SealEvents: 4, UserBatch: 16, DictBatch: 3}) })
}

// reopening closes and reopens its store after every delivery, so that the
// suite checks what the store rebuilds in memory when it opens a file: the
// unsealed tail, the events the users table lags behind, the dictionary tail.
type reopening struct {
	*Store
	t    testing.TB
	path string
	opt  Options
}

func (r *reopening) Deliver(ctx context.Context, batch []event.Event) error {
	if err := r.Store.Deliver(ctx, batch); err != nil {
		return err
	}
	if err := r.Store.Close(); err != nil {
		r.t.Fatalf("close: %v", err)
	}
	s, err := Open(ctx, r.path, r.opt)
	if err != nil {
		r.t.Fatalf("reopen: %v", err)
	}
	r.Store = s
	return nil
}

func TestConformanceReopen(t *testing.T) {
	for _, opt := range []Options{{}, {SealEvents: 4, UserBatch: 16, DictBatch: 5}} {
		storetest.Run(t, func(t *testing.T) logstore.Store {
			r := &reopening{t: t, path: filepath.Join(t.TempDir(), "log.db"), opt: opt}
			var err error
			if r.Store, err = Open(context.Background(), r.path, opt); err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { r.Store.Close() })
			return r
		})
	}
}

// TestDictFoldedAfterSnapshot checks lookups of a reader whose snapshot began
// before the dictionary tail was folded into the indexes: the strings are no
// longer in memory, and not yet in the indexes the snapshot sees.
func TestDictFoldedAfterSnapshot(t *testing.T) {
	s := open(t, Options{DictBatch: 1000})
	ctx := context.Background()
	all, _ := storetest.Dataset()
	if err := s.Deliver(ctx, all[:50]); err != nil {
		t.Fatal(err)
	}
	var email, principal string
	for _, e := range all[:50] {
		if e.Email != nil && email == "" {
			email = *e.Email
		}
		if e.Principal != nil && principal == "" {
			principal = *e.Principal
		}
	}
	tx, m, err := s.snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	s.mu.Lock()
	s.opt.DictBatch = 1
	s.mu.Unlock()
	if err := s.Deliver(ctx, all[50:60]); err != nil {
		t.Fatal(err)
	}
	if n := s.dt.len(); n != 0 || s.dt.base <= m.dmark {
		t.Fatalf("tail not folded: %d strings, base %d, snapshot mark %d", n, s.dt.base, m.dmark)
	}
	if id, err := s.lookup(ctx, tx, principal, m.dmark); err != nil || id == 0 {
		t.Fatalf("lookup(%q) in the old snapshot = %d, %v", principal, id, err)
	}
	if ids, err := s.lookupFold(ctx, tx, strings.ToUpper(email), m.dmark); err != nil || len(ids) != 1 {
		t.Fatalf("lookupFold(%q) in the old snapshot = %v, %v", email, ids, err)
	}
	if ids, err := s.dictRange(ctx, tx, email, email+"\x00", m.dmark); err != nil || len(ids) != 1 {
		t.Fatalf("dictRange(%q) in the old snapshot = %v, %v", email, ids, err)
	}
	// A new snapshot finds them in the indexes.
	tx2, m2, err := s.snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Rollback()
	if id, err := s.lookup(ctx, tx2, principal, m2.dmark); err != nil || id == 0 {
		t.Fatalf("lookup(%q) = %d, %v", principal, id, err)
	}
}

// TestOldFormat checks that a file of another format is refused.
func TestOldFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`PRAGMA user_version = 1`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(context.Background(), path, Options{}); err == nil {
		s.Close()
		t.Fatal("a file of format 1 was opened")
	}
}

// TestPackRest checks the packed columns round trip.
func TestPackRest(t *testing.T) {
	for _, c := range []struct {
		ids   [nSlots]int64
		fc    int64
		trace string
	}{
		{},
		{ids: [nSlots]int64{slotMessage: 1, slotErrorType: 2, slotAccount: 3, slotUA: 1 << 39, slotHost: 5, slotPath: 6}, fc: 7, trace: "0af7651916cd43dd8448eb211c80319c"},
		{fc: -1, trace: "not-hex"},
		{trace: "ABCD"},
		{trace: "abc"},
	} {
		var r row
		if err := unpackRest(packRest(nil, &c.ids, c.fc, c.trace), &r); err != nil {
			t.Fatal(err)
		}
		got := [...]int64{r.msg, r.et, r.acct, r.fc, r.ua, r.host, r.path}
		want := [...]int64{c.ids[slotMessage], c.ids[slotErrorType], c.ids[slotAccount], c.fc, c.ids[slotUA], c.ids[slotHost], c.ids[slotPath]}
		if got != want || r.trace != c.trace {
			t.Errorf("round trip of %+v: %v %q", c, got, r.trace)
		}
	}
}

// TestPostings checks the bucket encoding: every id of a segment is found in
// its bucket with its keys, and absent ids are not.
func TestPostings(t *testing.T) {
	const lo = 1 << 30
	for _, nb := range []int64{1, 2, 64, 1 << 16} {
		shift := shiftOf(nb)
		buckets := map[int64]*postWriter{}
		want := map[int64][]int64{}
		for id := int64(1); id < 3000; id += 7 {
			x := id
			if id%3 == 0 {
				x = ipBase | id*7919
			}
			want[x] = []int64{lo + id, lo + id*3, lo + id*3 + 1}
		}
		ids := make([]int64, 0, len(want))
		for id := range want {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		slices.SortStableFunc(ids, func(a, b int64) int { return cmp.Compare(a&(nb-1), b&(nb-1)) })
		for _, id := range ids {
			w := buckets[id&(nb-1)]
			if w == nil {
				w = &postWriter{shift: shift}
				buckets[id&(nb-1)] = w
			}
			w.add(id, codec.AppendKeys(nil, lo, want[id]))
		}
		for _, id := range ids {
			w := buckets[id&(nb-1)]
			ks, err := findPosting(w.blob, id, shift)
			var got []int64
			if err == nil {
				err = codec.Keys(ks, lo, func(k int64) { got = append(got, k) })
			}
			if err != nil || !slices.Equal(got, want[id]) {
				t.Fatalf("nb %d id %d: %v, %v; want %v", nb, id, got, err, want[id])
			}
			if ks, err := findPosting(w.blob, id+nb, shift); err != nil || (ks != nil && want[id+nb] == nil) {
				t.Fatalf("nb %d: absent id %d found: %v, %v", nb, id+nb, ks, err)
			}
		}
		// addPosting to an existing and a new id.
		id := ids[0]
		b := id & (nb - 1)
		blob, err := addPosting(buckets[b].blob, b, shift, lo, id, []int64{lo + 5, lo + 1})
		if err != nil {
			t.Fatal(err)
		}
		added := id + 64*nb
		if blob, err = addPosting(blob, b, shift, lo, added, []int64{lo + 9}); err != nil {
			t.Fatal(err)
		}
		seen := map[int64][]int64{}
		if err := eachPosting(blob, b, shift, func(x int64, ks []byte) error {
			return codec.Keys(ks, lo, func(k int64) { seen[x] = append(seen[x], k) })
		}); err != nil {
			t.Fatal(err)
		}
		wantFirst := slices.Compact(slices.Sorted(slices.Values(append([]int64{lo + 1, lo + 5}, want[id]...))))
		if !slices.Equal(seen[id], wantFirst) || !slices.Equal(seen[added], []int64{lo + 9}) {
			t.Fatalf("nb %d addPosting: %v %v", nb, seen[id], seen[added])
		}
	}
}

// TestSegments checks that the suite's data set exercises every read path:
// day segments, hour segments, late rows folded in, and an unsealed tail.
func TestSegments(t *testing.T) {
	s := open(t, Options{SealEvents: 4})
	ctx := context.Background()
	all, late := storetest.Dataset()
	for i := 0; i < len(all); i += 40 {
		if err := s.Deliver(ctx, all[i:min(i+40, len(all))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Deliver(ctx, late); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int64 {
		var n int64
		if err := s.r.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM seg WHERE lvl = 1`); n < 2 {
		t.Errorf("day segments: %d", n)
	}
	if n := count(`SELECT count(*) FROM seg WHERE lvl = 0`); n < 1 {
		t.Errorf("hour segments: %d", n)
	}
	if n := count(`SELECT count(*) FROM late`); n != int64(len(late)) {
		t.Errorf("late rows: %d, want %d", n, len(late))
	}
	if n := count(`SELECT count(*) FROM events WHERE k >= (SELECT v FROM meta WHERE name = 'mark')`); n == 0 {
		t.Errorf("no unsealed tail")
	}
	if n := count(`SELECT count(*) FROM xid`); n == 0 {
		t.Errorf("no long ids")
	}
	// One more delivery much later seals everything and folds the late rows.
	e := all[len(all)-1]
	e.ID, e.EventDate = "later", e.EventDate.Add(48*time.Hour)
	if err := s.Deliver(ctx, []event.Event{e}); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM late`); n != 0 {
		t.Errorf("late rows not folded: %d", n)
	}
}

// TestInlineIP checks that exactly the canonical dotted quads are stored
// inline, and that they read back unchanged.
func TestInlineIP(t *testing.T) {
	for _, v := range []string{"0.0.0.0", "1.2.3.4", "10.0.0.1", "255.255.255.255", "203.0.113.9"} {
		id, ok := inlineIP(v)
		if !ok || id < ipBase || inlineString(id) != v {
			t.Errorf("inlineIP(%q) = %d, %v; reads back %q", v, id, ok, inlineString(id))
		}
	}
	for _, v := range []string{"", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "1..2.3", "1.2.3.4 ", "::ffff:1.2.3.4", "2001:db8::1", "1.2.3.-4", "a.b.c.d"} {
		if id, ok := inlineIP(v); ok {
			t.Errorf("inlineIP(%q) = %d, true; want false", v, id)
		}
	}
}

// TestUserBlocks checks the users block encoding round trip.
func TestUserBlocks(t *testing.T) {
	const blk = 5
	us := []codec.User{
		{ID: blk << userBlockBits},
		{ID: blk<<userBlockBits + 1, Source: 2, Seen: 1700000000000, HasSeen: true, Login: 1600000000000, HasLogin: true,
			Logout: 1700000000000, HasLogout: true, Failure: 1750000000000, HasFail: true, IP: ipBase | 1<<31, Fails: 3, Disp: 7},
		{ID: blk<<userBlockBits + 9, Seen: -5, HasSeen: true, IP: 12},
	}
	var b []byte
	prev := int64(blk << userBlockBits)
	for i := range us {
		b = appendUser(b, prev, &us[i])
		prev = us[i].ID
	}
	var got []codec.User
	if err := decodeUsers(blk, b, func(u *codec.User) { got = append(got, *u) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, us) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, us)
	}
	if err := decodeUsers(blk, b[:len(b)-1], func(*codec.User) {}); err == nil {
		t.Fatal("a truncated block decodes")
	}
}

// TestStrIndex checks the writer's string cache against a map.
func TestStrIndex(t *testing.T) {
	x := newStrIndex()
	want := map[string]int64{}
	for i := range 20000 {
		v := fmt.Sprintf("user%d@example%d.com", i*7919%100003, i%7)
		if _, ok := want[v]; ok {
			continue
		}
		want[v] = int64(i + 1)
		x.put(v, int64(i+1))
	}
	x.put(strings.Repeat("x", maxStrIx+1), 99) // not cached
	if x.len() != len(want) {
		t.Fatalf("len %d, want %d", x.len(), len(want))
	}
	for v, id := range want {
		if got, ok := x.get(v); !ok || got != id {
			t.Fatalf("get(%q) = %d, %v; want %d", v, got, ok, id)
		}
		if _, ok := x.get(v + "."); ok {
			t.Fatalf("get(%q) found", v+".")
		}
	}
	if _, ok := x.get(strings.Repeat("x", maxStrIx+1)); ok {
		t.Fatal("a string too long was cached")
	}
	x.reset()
	if _, ok := x.get("user0@example0.com"); ok || x.len() != 0 {
		t.Fatal("reset kept strings")
	}
}

// TestRadixSort checks the sort of posting entries against a stable sort.
func TestRadixSort(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 1000, 50000} {
		ents := make([]pent, n)
		for i := range ents {
			kind := uint64(i*7%3 + 1)
			id := uint64(i * 7919 % 1013)
			if i%5 == 0 {
				id = ipBase | uint64(i%77)<<8
			}
			ents[i] = pent{sk: kind<<skKind | id, start: int32(i), end: int32(i + 1)}
		}
		want := slices.Clone(ents)
		slices.SortStableFunc(want, func(x, y pent) int { return cmp.Compare(x.sk, y.sk) })
		if got := radixSort(ents, nil); !slices.Equal(got, want) {
			t.Fatalf("n %d: radix sort differs from a stable sort", n)
		}
	}
}

// TestConcurrentReads queries while a writer delivers, seals and folds the
// dictionary often: a query must find every event delivered before it began
// (new strings are visible to readers before the rows that use them).
func TestConcurrentReads(t *testing.T) {
	s := open(t, Options{SealEvents: 8, UserBatch: 32, DictBatch: 4, SealDelay: time.Millisecond})
	ctx := context.Background()
	base := storetest.Base
	var delivered atomic.Int64 // events of the email delivered so far
	const batches, per = 60, 10
	done := make(chan struct{})
	errs := make(chan error, 4)
	for r := range 3 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				before := delivered.Load()
				var total int64
				switch r {
				case 0:
					res, err := s.Query(ctx, logstore.Filter{Email: "SHARED@example.com"}, logstore.Page{Size: 5})
					if err != nil {
						errs <- err
						return
					}
					total = res.TotalElements
				case 1:
					n := int64(0)
					if err := s.Each(ctx, logstore.Filter{Email: "shared@example.com"}, true, func(event.Event) error { n++; return nil }); err != nil {
						errs <- err
						return
					}
					total = n
				case 2:
					res, err := s.Query(ctx, logstore.Filter{Principal: "admin-shared"}, logstore.Page{Size: 5})
					if err != nil {
						errs <- err
						return
					}
					total = res.TotalElements
					if _, _, err := s.Users(ctx, logstore.UsersFilter{Search: "new"}); err != nil {
						errs <- err
						return
					}
				}
				if total < before {
					errs <- fmt.Errorf("reader %d found %d events, %d were delivered before it began", r, total, before)
					return
				}
			}
		}()
	}
	for b := range batches {
		var batch []event.Event
		for i := range per {
			n := b*per + i
			at := base.Add(time.Duration(n) * time.Minute)
			e := event.Event{ID: fmt.Sprintf("c-%d", n), EventDate: at, EventType: event.LoginSuccess, Source: event.SourcePortal,
				Email: event.Str("shared@example.com"), RemoteAddress: fmt.Sprintf("10.1.%d.%d", n/250, n%250)}
			if i%2 == 1 {
				// New strings in every batch: folded into the indexes as readers run.
				e.Email = event.Str(fmt.Sprintf("new%d@example.com", n))
				e.Principal = event.Str("admin-shared")
				e.DisplayName = event.Str(fmt.Sprint("New ", n))
			}
			batch = append(batch, e)
		}
		if err := s.Deliver(ctx, batch); err != nil {
			t.Fatal(err)
		}
		delivered.Add(per / 2)
	}
	close(done)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestUpgradeFormat2 opens a file of format 2 (no location and device
// columns): they are added, old events read back without them.
func TestUpgradeFormat2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "log.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	all, _ := storetest.Dataset()
	old := storetest.Unflagged(storetest.Uncounted(storetest.Unenriched(all)))
	if err := s.Deliver(ctx, old); err != nil {
		t.Fatal(err)
	}
	// What format 2 was: the same tables without events' last five columns
	// and the rollups' counts of attempts.
	for _, q := range append(dropMore, `ALTER TABLE events DROP COLUMN g`, `ALTER TABLE events DROP COLUMN dev`, `ALTER TABLE events DROP COLUMN asn`,
		`ALTER TABLE events DROP COLUMN cc`, `PRAGMA user_version = 2`) {
		if _, err := s.w.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("open a file of format 2: %v", err)
	}
	defer s.Close()
	var v int
	if err := s.w.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil || v != formatVersion {
		t.Fatalf("format after the upgrade: %d, %v", v, err)
	}
	storetest.CheckGeoUpgrade(t, s, old)
}

// TestUpgradeFormat3 opens a file of format 3 (no geodaily rollup): the
// rollup is built from its events, and Stats answers as before.
func TestUpgradeFormat3(t *testing.T) {
	ctx := context.Background()
	all, late := storetest.Dataset()
	evs := storetest.Unflagged(storetest.Uncounted(append(slices.Clone(all), late...)))
	ref := open(t, Options{})
	if err := ref.Deliver(ctx, evs); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "log.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for _, q := range append(dropMore, `DROP TABLE geodaily; PRAGMA user_version = 3`) {
		if _, err := s.w.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s, err = Open(ctx, path, Options{}); err != nil {
		t.Fatalf("open a file of format 3: %v", err)
	}
	defer s.Close()
	var v int
	if err := s.w.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil || v != formatVersion {
		t.Fatalf("format after the upgrade: %d, %v", v, err)
	}
	storetest.CheckSameStats(t, ref, s)
}

// dropMore turns a file back into format 4: no count of attempts on events
// (more) nor in the hourly rollup.
var dropMore = []string{`ALTER TABLE events DROP COLUMN more`, `ALTER TABLE hourly DROP COLUMN more`}

// TestUpgradeFormat4 opens a file of format 4 (no counts of attempts): its
// events count one attempt each, Stats answers as for a store that had the
// counts all along, and sampled refusals delivered after the upgrade count
// what they stand for.
func TestUpgradeFormat4(t *testing.T) {
	ctx := context.Background()
	all, late := storetest.Dataset()
	old := storetest.Unflagged(storetest.Uncounted(append(slices.Clone(all), late...)))
	ref := open(t, Options{})
	if err := ref.Deliver(ctx, old); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "log.db")
	s, err := Open(ctx, path, Options{SealEvents: 4, UserBatch: 16})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(ctx, old); err != nil {
		t.Fatal(err)
	}
	for _, q := range append(dropMore, `PRAGMA user_version = 4`) {
		if _, err := s.w.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s, err = Open(ctx, path, Options{SealEvents: 4, UserBatch: 16}); err != nil {
		t.Fatalf("open a file of format 4: %v", err)
	}
	defer s.Close()
	var v int
	if err := s.w.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil || v != formatVersion {
		t.Fatalf("format after the upgrade: %d, %v", v, err)
	}
	storetest.CheckSameStats(t, ref, s)
	storetest.CheckCountUpgrade(t, ref, s)
}

// TestUpgradeFormat5 opens a file of format 5: codes of 9 bits (a 4-bit
// reason field, no wouldRefuse, no breached password) and user summaries
// without breached-password counts. Its events read back as they were, one of
// a reason its writer did not know included (kept under the code of
// MISSING_PRINCIPAL, with its extra string); Stats answers as for a store of
// format 6 holding the same events; and monitored refusals, breached
// passwords and BREACHED_PASSWORD delivered after the upgrade are kept,
// found and counted.
func TestUpgradeFormat5(t *testing.T) {
	ctx := context.Background()
	all, late := storetest.Dataset()
	old := storetest.Unflagged(append(slices.Clone(all), late...))
	ref := open(t, Options{})
	if err := ref.Deliver(ctx, old); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "log.db")
	s, err := Open(ctx, path, Options{SealEvents: 4, UserBatch: 16})
	if err != nil {
		t.Fatal(err)
	}
	// A failure of a reason the writer did not know, a day after the data
	// set: format 5 kept it under reason code 15 (MISSING_PRINCIPAL's).
	legacy := old[0]
	legacy.ID, legacy.EventDate, legacy.EventType, legacy.Reason = "legacy-unknown-reason", storetest.Base.Add(100*time.Hour), event.LoginFailure, "SOME_OLD_REASON"
	legacy.Message, legacy.Count = nil, 0
	if err := s.Deliver(ctx, append(slices.Clone(old), legacy)); err != nil {
		t.Fatal(err)
	}
	// What format 5 was: the same tables; the one code that differs is the
	// unknown reason's (31 in format 6, 15 in format 5).
	for _, q := range []string{`UPDATE events SET code = code - 512 WHERE ((code >> 5) & 31) = 31`,
		`UPDATE hourly SET code = code - 512 WHERE ((code >> 5) & 31) = 31`, `UPDATE daily SET code = code - 512 WHERE ((code >> 5) & 31) = 31`,
		`PRAGMA user_version = 5`} {
		if _, err := s.w.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	var high int
	if err := s.w.QueryRow(`SELECT count(*) FROM events WHERE code >= 512`).Scan(&high); err != nil || high != 0 {
		t.Fatalf("%d codes of more than 9 bits in the format-5 file, %v", high, err)
	}
	s.Close()
	if s, err = Open(ctx, path, Options{SealEvents: 4, UserBatch: 16}); err != nil {
		t.Fatalf("open a file of format 5: %v", err)
	}
	defer s.Close()
	var v int
	if err := s.w.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil || v != formatVersion {
		t.Fatalf("format after the upgrade: %d, %v", v, err)
	}
	storetest.CheckSameStats(t, ref, s)
	storetest.CheckFlagsUpgrade(t, ref, s, append(old, legacy))
}

// TestNewerFormatRefused: a file of a format newer than this version's is
// refused with a message that names both formats, and left as it was.
func TestNewerFormatRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, formatVersion+1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(context.Background(), path, Options{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("format %d, this version reads format %d", formatVersion+1, formatVersion)) {
		t.Fatalf("open a file of format %d: %v", formatVersion+1, err)
	}
}
