package sqlsink

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/connectortest"
	"github.com/loginguard/loginguard/event"
)

// The machine's PostgreSQL and MariaDB (see .ci/run); LOGINGUARD_PG_DSN and
// LOGINGUARD_MYSQL_DSN override them. The tests fail, not skip, without them.
func dsn(driver string) string {
	if driver == "postgres" {
		if v := os.Getenv("LOGINGUARD_PG_DSN"); v != "" {
			return v
		}
		return "postgres://root@127.0.0.1:5432/test?sslmode=disable"
	}
	if v := os.Getenv("LOGINGUARD_MYSQL_DSN"); v != "" {
		return v
	}
	return "root@tcp(127.0.0.1:3306)/test"
}

var seq atomic.Int64

// table returns a fresh table name, dropped at the end of t.
func table(t *testing.T, db *sql.DB) string {
	name := fmt.Sprintf("lgtest_%d_%d", time.Now().UnixNano(), seq.Add(1))
	t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + name) })
	return name
}

func open(t *testing.T, driver string) *sql.DB {
	t.Helper()
	name := map[string]string{"postgres": "pgx", "mysql": "mysql"}[driver]
	db, err := sql.Open(name, dsn(driver))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("%s at %s: %v (is it running?)", driver, dsn(driver), err)
	}
	return db
}

// readAll reads the table back in insert order, checking the columns against
// each row's payload.
func readAll(t *testing.T, db *sql.DB, tbl string) []event.Event {
	t.Helper()
	rows, err := db.Query("SELECT id, event_type, email, remote_address, payload FROM " + tbl + " ORDER BY seq")
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), "doesn't exist") {
			return nil
		}
		t.Fatal(err)
	}
	defer rows.Close()
	var out []event.Event
	for rows.Next() {
		var id, typ, ip, payload string
		var email sql.NullString
		if err := rows.Scan(&id, &typ, &email, &ip, &payload); err != nil {
			t.Fatal(err)
		}
		var ev event.Event
		if err := json.Unmarshal([]byte(payload), &ev); err != nil {
			t.Fatalf("row %d: payload: %v", len(out), err)
		}
		if id != ev.ID || typ != string(ev.EventType) || email.Valid != (ev.Email != nil) ||
			(email.Valid && email.String != clean(*ev.Email)) {
			t.Fatalf("row %d: columns %s %s %v do not match the payload %s", len(out), id, typ, email, payload)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func conformance(t *testing.T, driver string) {
	db := open(t, driver)
	var tbl string
	connectortest.Run(t, connectortest.Sink{
		New: func(t *testing.T) connectors.Connector {
			tbl = table(t, db)
			s, err := New(Options{Driver: driver, DSN: dsn(driver), Table: tbl})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T) []event.Event { return readAll(t, db, tbl) },
	})
}

func TestConformancePostgres(t *testing.T) { conformance(t, "postgres") }
func TestConformanceMariaDB(t *testing.T)  { conformance(t, "mysql") }

// TestRedeliveredOnce: the event id is the key: a batch delivered twice is
// stored once, in both databases.
func TestRedeliveredOnce(t *testing.T) {
	for _, driver := range []string{"postgres", "mysql"} {
		db := open(t, driver)
		tbl := table(t, db)
		s, err := New(Options{Driver: driver, DSN: dsn(driver), Table: tbl})
		if err != nil {
			t.Fatal(err)
		}
		batch := []event.Event{{ID: event.NewID(), Source: event.SourcePortal, Email: event.Str("a@x.com"), EventDate: time.Now().UTC().Truncate(time.Millisecond), EventType: event.LoginFailure, RemoteAddress: "192.0.2.1", Reason: event.BadCredentials, FailureCount: 1}}
		for range 2 {
			if err := s.Deliver(context.Background(), batch); err != nil {
				t.Fatalf("%s: %v", driver, err)
			}
		}
		s.Close()
		var n int
		if err := db.QueryRow("SELECT count(*) FROM " + tbl).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%s: %d rows (%v), want 1", driver, n, err)
		}
	}
}

func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Driver: "oracle", DSN: "x"}, `sql: driver: want postgres or mysql, got "oracle"`},
		{Options{Driver: "postgres"}, "sql: dsn: required"},
		{Options{Driver: "postgres", DSN: "x", Table: "events; DROP TABLE users"}, "sql: table: want a name"},
	} {
		if _, err := New(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}
