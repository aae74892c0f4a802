// Package postgres is the login log store on PostgreSQL, through pgx and pgxpool.
//
// # Schema
//
// PostgreSQL absorbs random index inserts far better than SQLite's WAL (it logs
// row changes, not whole pages per commit), so this store uses plain indexes
// and keeps the same compact row as the SQLite store: integer millisecond
// dates, one smallint code for type/source/reason, int4 ids into a dict table
// for every string, messages stored as templates. Per batch it maintains:
//
//	events(ts, uid, ...)       uid is the event id as a uuid (an id that is not a
//	                           canonical UUID is hashed to one). The primary key
//	                           (ts, uid) orders the table by date and makes
//	                           redelivery (same id, same date) a no-op; a UUIDv7 id
//	                           is found by its own millisecond, any other id (or one
//	                           more than 4 s from its event) by the partial xid index.
//	                           Other indexes: (em, ts), (pr, ts), (ip, ts).
//	hourly(h, code, portal, xtra, n) counts for Stats and for totals without
//	                           an email/IP/principal filter; xtra (0 when none)
//	                           keeps types this version does not know apart.
//	xtype(id, t)               the extra strings (dict ids) of events of a type
//	                           this version does not know, by type: a filter on
//	                           such a type (e.g. DATA_EXPORTED) matches xtra.
//	user_day, ip_day           attempts per identity and failures per IP per UTC
//	                           day, for Stats' top lists.
//	users(id, ...)             seed 003's per-identity summary.
package postgres

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// Options configures a Store.
type Options struct {
	// Schema holds the store's tables; it is created when missing. Default: "loginguard".
	Schema string
	// Logger receives errors of background work. Default: slog.Default().
	Logger *slog.Logger
}

// Store is the PostgreSQL login log store.
type Store struct {
	db     *pgxpool.Pool
	schema string
	log    *slog.Logger

	mu      sync.Mutex // serialises writers, guards ids and the counters below
	ids     map[string]int32
	added   int64 // events added since the last ANALYZE
	analyze int64 // events to add before the next one

	nmu   sync.Mutex
	names map[int64]string
}

const maxCache = 1 << 20

const schemaSQL = `
CREATE TABLE IF NOT EXISTS events(ts bigint NOT NULL, uid uuid NOT NULL, xid text, code smallint NOT NULL,
  pr int, em int, disp int, ip int, msg int, et int, portal int, acct int, fc smallint NOT NULL, ua int, host int, path int,
  trace bytea, tracet text, xtra int, PRIMARY KEY (ts, uid));
CREATE INDEX IF NOT EXISTS events_xid ON events(xid) WHERE xid IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_em ON events(em, ts) WHERE em IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_pr ON events(pr, ts) WHERE pr IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_ip ON events(ip, ts);
CREATE TABLE IF NOT EXISTS dict(id serial PRIMARY KEY, s text NOT NULL UNIQUE, fold text);
CREATE INDEX IF NOT EXISTS dict_fold ON dict(fold) WHERE fold IS NOT NULL;
CREATE TABLE IF NOT EXISTS hourly(h int, code smallint, portal int, xtra int, n bigint NOT NULL, PRIMARY KEY(h, code, portal, xtra));
CREATE TABLE IF NOT EXISTS xtype(id int PRIMARY KEY, t text NOT NULL);
CREATE INDEX IF NOT EXISTS xtype_t ON xtype(t);
CREATE TABLE IF NOT EXISTS user_day(day int, ident int, n int NOT NULL, PRIMARY KEY(day, ident));
CREATE TABLE IF NOT EXISTS ip_day(day int, ip int, n int NOT NULL, PRIMARY KEY(day, ip));
CREATE TABLE IF NOT EXISTS users(id int PRIMARY KEY, src smallint, seen bigint, login bigint, logout bigint, fail bigint,
  ip int, fails bigint, disp int);
`

// Open connects to the database at dsn and creates the schema when missing.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	if opt.Schema == "" {
		opt.Schema = "loginguard"
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres log store: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = opt.Schema
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres log store: %w", err)
	}
	s := &Store{db: db, schema: opt.Schema, log: opt.Logger, ids: map[string]int32{}, names: map[int64]string{}, analyze: 20000}
	if _, err := db.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{opt.Schema}.Sanitize()); err != nil {
		db.Close()
		return nil, fmt.Errorf("create postgres log store schema: %w", err)
	}
	if _, err := db.Exec(ctx, schemaSQL); err != nil {
		db.Close()
		return nil, fmt.Errorf("create postgres log store schema: %w", err)
	}
	return s, nil
}

// DropSchema drops schema and everything in it, for tests and benchmarks.
func DropSchema(ctx context.Context, dsn, schema string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("drop postgres log store schema: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		return fmt.Errorf("drop postgres log store schema: %w", err)
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.db.Close()
	return nil
}

// Size returns the bytes the store's tables and indexes use.
func (s *Store) Size(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`, s.schema).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("size of postgres log store: %w", err)
	}
	return n, nil
}

// uidOf returns the uuid an id is stored under (the id itself, or a hash of an
// id that is not a canonical UUID) and whether the id must also be kept in xid:
// unless it is a UUIDv7 within maxIDDelta of ms.
func uidOf(id string, ms int64) (uuid.UUID, *string) {
	if u, err := uuid.Parse(id); err == nil && u.String() == id {
		if _, ums, ok := codec.ShortCandidate(id); ok && ums-ms <= maxIDDelta && ms-ums <= maxIDDelta {
			return u, nil
		}
		return u, &id
	}
	h := md5.Sum([]byte(id))
	return uuid.UUID(h), &id
}

// maxIDDelta is how far a UUIDv7's own millisecond may be from its event's.
const maxIDDelta = 4095

func fold(v string) *string {
	if l := strings.ToLower(v); l != v {
		return &l
	}
	return nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// strs resolves dict ids; erased strings and unknown ids are absent.
func (s *Store) strs(ctx context.Context, q querier, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	var miss []int64
	s.nmu.Lock()
	for _, id := range ids {
		if id == 0 {
			continue
		}
		if v, ok := s.names[id]; ok {
			if !strings.HasPrefix(v, codec.Erased) {
				out[id] = v
			}
		} else {
			miss = append(miss, id)
		}
	}
	s.nmu.Unlock()
	if len(miss) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT id, s FROM dict WHERE id = ANY($1)`, miss)
	if err != nil {
		return nil, fmt.Errorf("read dictionary: %w", err)
	}
	got := map[int64]string{}
	for rows.Next() {
		var id int32
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read dictionary: %w", err)
		}
		got[int64(id)] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read dictionary: %w", err)
	}
	s.nmu.Lock()
	defer s.nmu.Unlock()
	if len(s.names)+len(got) > maxCache {
		clear(s.names)
	}
	for id, v := range got {
		s.names[id] = v
		if !strings.HasPrefix(v, codec.Erased) {
			out[id] = v
		}
	}
	return out, nil
}

// lookup returns the id of v (exact), or 0.
func lookup(ctx context.Context, q querier, v string) (int32, error) {
	var id int32
	err := q.QueryRow(ctx, `SELECT id FROM dict WHERE s = $1`, v).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up dictionary string: %w", err)
	}
	return id, nil
}

// lookupFold returns the ids of the strings equal to v ignoring case.
func lookupFold(ctx context.Context, q querier, v string) ([]int32, error) {
	rows, err := q.Query(ctx, `SELECT id FROM dict WHERE s = $1 UNION SELECT id FROM dict WHERE fold = $1`, strings.ToLower(v))
	if err != nil {
		return nil, fmt.Errorf("look up dictionary string: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("look up dictionary string: %w", err)
	}
	return ids, nil
}

var _ logstore.Store = (*Store)(nil)
