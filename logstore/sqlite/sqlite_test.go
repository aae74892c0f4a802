package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"

	"github.com/loginguard/loginguard/logstore"
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
// so that days hold many level-0 segments that are merged.
func TestConformanceSmallSegments(t *testing.T) {
	storetest.Run(t, func(t *testing.T) logstore.Store { return open(t, Options{SealEvents: 4, UserBatch: 16}) })
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
