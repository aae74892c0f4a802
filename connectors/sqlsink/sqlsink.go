// Package sqlsink is the SQL database connector: every event is one row of a
// table in PostgreSQL or MySQL/MariaDB (through database/sql), the table
// created when missing. A batch is one transaction; the event id is the
// primary key, so a redelivered event is not inserted twice.
package sqlsink

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	_ "github.com/go-sql-driver/mysql" // driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/format"
	"github.com/loginguard/loginguard/event"
)

// DefaultTable is the table of Options.Table when it is empty.
const DefaultTable = "loginguard_events"

// Options configures a Sink.
type Options struct {
	// Driver is postgres or mysql (MySQL and MariaDB). Required.
	Driver string
	// DSN: a PostgreSQL URL or key=value string, or a MySQL DSN
	// (user:password@tcp(host:3306)/db). Required.
	DSN string
	// Table (optionally schema.table). Default loginguard_events.
	Table string
	// Encoder makes the payload column. Default: the connector event's JSON.
	Encoder format.Encoder
	// Timeout bounds one batch when the context has no deadline. Default 10s.
	Timeout time.Duration
}

// Sink inserts events into a table. It is safe for concurrent use.
type Sink struct {
	o      Options
	enc    format.Encoder
	db     *sql.DB
	pg     bool
	insert string // the INSERT statement's head

	mu      sync.Mutex
	created bool
}

var tableRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

// columns of the table, in insert order.
var columns = []string{"id", "event_date", "event_type", "source", "principal", "email", "display_name",
	"remote_address", "message", "error_type", "portal_id", "account_id", "reason", "failure_count",
	"user_agent", "host", "path", "trace_id", "payload"}

// New checks o and opens the database handle (it connects lazily: a database
// that is down at start-up is not an error).
func New(o Options) (*Sink, error) {
	s := &Sink{o: o, enc: o.Encoder}
	driver := ""
	switch o.Driver {
	case "postgres", "postgresql", "pgx":
		driver, s.pg = "pgx", true
	case "mysql", "mariadb":
		driver = "mysql"
	default:
		return nil, fmt.Errorf("sql: driver: want postgres or mysql, got %q", o.Driver)
	}
	if o.DSN == "" {
		return nil, errors.New("sql: dsn: required")
	}
	if s.o.Table == "" {
		s.o.Table = DefaultTable
	}
	if !tableRE.MatchString(s.o.Table) {
		return nil, fmt.Errorf("sql: table: want a name of letters, digits and _ (schema.table allowed), got %q", s.o.Table)
	}
	if s.o.Timeout <= 0 {
		s.o.Timeout = 10 * time.Second
	}
	if s.enc == nil {
		s.enc, _ = format.Lookup("")
	}
	dsn := o.DSN
	if !s.pg && !strings.Contains(dsn, "?") {
		dsn += "?charset=utf8mb4&loc=UTC"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("sql: dsn: %w", err)
	}
	db.SetMaxOpenConns(4)
	s.db = db
	if s.pg {
		s.insert = "INSERT INTO " + s.o.Table + " (" + strings.Join(columns, ", ") + ") VALUES "
	} else {
		s.insert = "INSERT IGNORE INTO " + s.o.Table + " (" + strings.Join(columns, ", ") + ") VALUES "
	}
	return s, nil
}

// createTable creates the table when it is missing.
func (s *Sink) createTable(ctx context.Context) error {
	var ddl string
	if s.pg {
		ddl = `CREATE TABLE IF NOT EXISTS ` + s.o.Table + ` (
	seq bigserial UNIQUE,
	id text PRIMARY KEY,
	event_date timestamptz(3) NOT NULL,
	event_type text NOT NULL,
	source text NOT NULL,
	principal text, email text, display_name text,
	remote_address text NOT NULL,
	message text, error_type text, portal_id text, account_id text,
	reason text, failure_count integer,
	user_agent text, host text, path text, trace_id text,
	payload text NOT NULL)`
	} else {
		ddl = `CREATE TABLE IF NOT EXISTS ` + s.o.Table + ` (
	seq bigint NOT NULL AUTO_INCREMENT UNIQUE,
	id varchar(191) NOT NULL PRIMARY KEY,
	event_date datetime(3) NOT NULL,
	event_type text NOT NULL,
	source text NOT NULL,
	principal text, email text, display_name text,
	remote_address text NOT NULL,
	message text, error_type text, portal_id text, account_id text,
	reason text, failure_count integer,
	user_agent text, host text, path text, trace_id text,
	payload mediumtext NOT NULL) CHARACTER SET utf8mb4`
	}
	if _, err := s.db.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("sql: creating table %s: %w", s.o.Table, err)
	}
	return nil
}

// clean makes v a column value: NUL and invalid UTF-8, which PostgreSQL text
// cannot hold, as U+FFFD.
func clean(v string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "\uFFFD")
}

// text is the column value of a nullable field (nil: NULL).
func text(v *string) any {
	if v == nil {
		return nil
	}
	return clean(*v)
}

// null is the column value of an extension field ("": NULL).
func null(v string) any {
	if v == "" {
		return nil
	}
	return clean(v)
}

// Deliver inserts batch in one transaction, 500 rows per statement.
func (s *Sink) Deliver(ctx context.Context, batch []event.Event) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.o.Timeout)
		defer cancel()
	}
	s.mu.Lock()
	if !s.created {
		if err := s.createTable(ctx); err != nil {
			s.mu.Unlock()
			return err
		}
		s.created = true
	}
	s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	defer tx.Rollback()
	const per = 500
	var buf []byte
	for start := 0; start < len(batch); start += per {
		part := batch[start:min(len(batch), start+per)]
		var q strings.Builder
		q.WriteString(s.insert)
		args := make([]any, 0, len(part)*len(columns))
		for i := range part {
			ev := &part[i]
			buf, err = s.enc(buf[:0], ev)
			if err != nil {
				return connectors.Permanent(fmt.Errorf("sql: encoding event %s: %w", ev.ID, err))
			}
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteByte('(')
			for c := range columns {
				if c > 0 {
					q.WriteString(", ")
				}
				if s.pg {
					fmt.Fprintf(&q, "$%d", len(args)+c+1)
				} else {
					q.WriteByte('?')
				}
			}
			q.WriteByte(')')
			var fc any
			if ev.FailureCount != 0 {
				fc = ev.FailureCount
			}
			args = append(args, clean(ev.ID), ev.EventDate.UTC(), clean(string(ev.EventType)), clean(string(ev.Source)),
				text(ev.Principal), text(ev.Email), text(ev.DisplayName), clean(ev.RemoteAddress),
				text(ev.Message), text(ev.ErrorType), text(ev.PortalID), text(ev.AccountID), null(string(ev.Reason)), fc,
				null(ev.UserAgent), null(ev.Host), null(ev.Path), null(ev.TraceID), string(buf))
		}
		if s.pg {
			q.WriteString(" ON CONFLICT (id) DO NOTHING")
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("sql: inserting into %s: %w", s.o.Table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sql: committing: %w", err)
	}
	return nil
}

// Close closes the database handle.
func (s *Sink) Close() error { return s.db.Close() }

var _ connectors.Connector = (*Sink)(nil)
