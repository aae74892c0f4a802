package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/postgres"
	"github.com/loginguard/loginguard/logstore/sqlite"
)

// TestRetention: the scheduled retention job of a real Caddy deletes the
// events older than its retention from a log that spans five weeks, on SQLite
// and on PostgreSQL (where whole weekly partitions go), and keeps the rest.
func TestRetention(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "logins.db")
		retention(t, "store sqlite "+path, func(ctx context.Context) (logstore.Store, error) {
			return sqlite.Open(ctx, path, sqlite.Options{})
		}, nil)
	})
	t.Run("postgres", func(t *testing.T) {
		pg := startPostgres(t)
		open := func(ctx context.Context) (logstore.Store, error) {
			return postgres.Open(ctx, pg.dsn(), postgres.Options{})
		}
		parts := func() int {
			conn, err := pgx.Connect(context.Background(), pg.dsn())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			var n int
			if err := conn.QueryRow(context.Background(),
				`SELECT count(*) FROM pg_inherits WHERE inhparent = 'loginguard.events'::regclass`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		retention(t, "store postgres "+pg.dsn(), open, parts)
	})
}

// retention fills the store with 20 events a day over 36 days and 5 that
// come of age 3 s later, then runs Caddy with a retention of 14 days checked
// every 200 ms. parts, when not
// nil, counts the store's partitions.
func retention(t *testing.T, store string, open func(context.Context) (logstore.Store, error), parts func() int) {
	ctx := context.Background()
	st, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var batch []event.Event
	for d := range 36 {
		for i := range 20 {
			batch = append(batch, event.Event{
				ID: event.NewID(), Source: event.SourcePortal, EventType: event.LoginFailure, Reason: event.BadCredentials,
				Email:         event.Str(fmt.Sprintf("user%d@example.com", i)),
				RemoteAddress: "192.0.2.1",
				EventDate:     now.Add(-time.Duration(d)*24*time.Hour - time.Duration(i)*time.Minute - time.Hour),
			})
		}
	}
	// Five events come of age 3 s after the start: the scheduled runs, not
	// the one at start, delete them.
	edge := now.Add(-14*24*time.Hour + 3*time.Second)
	for range 5 {
		batch = append(batch, event.Event{ID: event.NewID(), Source: event.SourcePortal, EventType: event.LoginFailure,
			Reason: event.BadCredentials, Email: event.Str("edge@example.com"), RemoteAddress: "192.0.2.1", EventDate: edge})
	}
	if err := st.Deliver(ctx, batch); err != nil {
		t.Fatal(err)
	}
	before := 0
	if parts != nil {
		before = parts()
	}
	cutoff := now.Add(-14 * 24 * time.Hour)
	count := func(f logstore.Filter) int64 {
		r, err := st.Query(ctx, f, logstore.Page{Size: 1})
		if err != nil {
			t.Fatal(err)
		}
		return r.TotalElements
	}
	keep := count(logstore.Filter{From: edge.Add(time.Second)})
	if old := count(logstore.Filter{To: cutoff}); old < 400 || keep < 260 {
		t.Fatalf("the test data: %d events older than 14 days, %d newer", old, keep)
	}
	st.Close() // SQLite has one writer: Caddy

	cf := config{App: store + "\nretention 14d\nretention_interval 200ms"}.String()
	s := newStack(t, stackOptions{Caddyfile: cf})
	waitTargets(t, "the retention job to delete the old events", func() bool {
		return strings.Count(s.caddyLog(), "retention: deleted old events") >= 2
	})
	s.caddy.stop()

	if st, err = open(ctx); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if old, now := count(logstore.Filter{To: edge.Add(time.Second)}), count(logstore.Filter{From: edge.Add(time.Second)}); old != 0 || now != keep {
		t.Errorf("after retention: %d events older than 14 days (want 0, the 5 that came of age included), %d newer (want %d)", old, now, keep)
	}
	if parts != nil {
		if after := parts(); after >= before-1 {
			t.Errorf("%d partitions before retention, %d after: want the old weeks dropped", before, after)
		} else {
			t.Logf("partitions: %d before retention, %d after", before, after)
		}
	}
}
