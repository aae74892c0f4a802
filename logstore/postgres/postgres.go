// Package postgres is the login log store on PostgreSQL, through pgx and pgxpool.
//
// Several Caddy instances may write to one database at once. Every write is
// an insert, or an upsert that merges in SQL, so that counts add up whatever
// the interleaving; hot rows that every writer would update (hourly counts,
// user summaries) are replaced by rows each writer inserts; rows are written
// in key order so that writers do not deadlock; schema changes (partitions)
// and merges (folds) take advisory locks.
//
// # Schema
//
//	events(ts, r, ...)   one compact row per event, partitioned by date (7 UTC
//	                     days each, see partition.go). ts is the date in ms; r
//	                     the id's last 8 bytes when it is a canonical UUIDv7
//	                     within maxIDDelta ms of its date (ia keeps the rest),
//	                     else a hash of the id, which xid then keeps. The
//	                     primary key (ts, r) orders rows by date and makes a
//	                     redelivery (same id, same date) a no-op. Strings are
//	                     int4 ids into dict: pr, em; prof, the display name and
//	                     account id as one string (one entry per account, not
//	                     two); cx, an id into ctx for the strings that repeat
//	                     together (user agent, host, path, error type, message
//	                     template with the identity and count cut out,
//	                     portal). An IPv4 address is kept inline in ip, any
//	                     other in ipx. Type, source and reason are one
//	                     smallint code (codec); xtra keeps types this version
//	                     does not know. Indexes: (em, ts), (pr, ts), (ip, ts),
//	                     (ipx, ts), xid, all partial.
//	dict(id, s, fold)    every distinct string once; fold is the lower case of
//	                     an identity when it differs (case-insensitive lookups).
//	ctx(id, ...)         the combinations of ctx strings, by dict id.
//	xtype(id, t)         the extra strings (dict ids) of the types this version
//	                     does not know, by type.
//	tally(h, ...)        per batch and UTC hour: event counts by (code, portal,
//	                     xtra), attempts per identity, failures per IP, per
//	                     country, AS and device type, packed
//	                     (see tally.go): Stats and the totals of unkeyed
//	                     queries. Insert only.
//	udelta(seq, b)       per batch, its user summaries packed; folded into users
//	                     in the background (see users.go).
//	users(id, ...)       the summary per identity: last login, logout and
//	                     failure, last IP, failures since success (what the
//	                     user login activity page shows).
//
// The tables, column by column, are in the comment on schemaSQL.
//
// # Ingest
//
// A batch is one transaction and, once this process has seen its strings
// (dict and ctx ids are cached), two round trips: BEGIN with a binary COPY
// straight into events, then the tally and udelta inserts with COMMIT in one
// pipeline. New strings cost one more round trip (an INSERT ... ON CONFLICT
// DO NOTHING RETURNING into dict, then ctx). A redelivered event makes the
// COPY fail on the primary key; the batch is then written again through a
// staging table with INSERT ... ON CONFLICT DO NOTHING, and only the rows
// inserted count in the rollups.
//
// Ingest time goes to PostgreSQL's index inserts (primary key, email or
// principal, IP: most of the COPY), the commit's WAL flush and, while
// accounts are still new, dict inserts. Hence: COPY instead of INSERT ...
// SELECT unnest(...) RETURNING; rollups computed in Go; partitions, so that
// the indexes being written stay in the buffer cache instead of costing a
// page read and write per event; user summaries as deltas folded in the
// background (an upsert per account and batch cost as much as the COPY);
// tally rows instead of upserts of shared hourly rows; no round trips of
// their own for BEGIN and COMMIT.
package postgres

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

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

	mu      sync.Mutex       // serialises this process's writers; guards the fields below
	ids     map[string]int32 // dict ids of identities and IPs
	cids    map[string]int32 // dict ids of the other strings
	profs   map[profile]int32
	cxs     map[cxKey]int32
	rowBuf  []erow
	copyBuf []byte
	parts   map[int64]bool // partitions known to exist
	touched map[int64]bool // partitions written since the last VACUUM ANALYZE
	added   int64          // events added since the last VACUUM ANALYZE
	analyze int64          // events to add before the next one
	batches int            // batches written since the last fold of udelta
	// foldEvery and idleAfter are foldBatches and idleFold (tests lower them).
	foldEvery int
	idleAfter time.Duration
	idle      *time.Timer // folds once writes pause

	bg       sync.WaitGroup  // background maintenance
	bgRun    bool            // the background maintenance runs
	bgFold   bool            // it is to fold udelta (again)
	bgTables map[string]bool // and to VACUUM ANALYZE these
	bgCtx    context.Context
	stop     context.CancelFunc

	names *codec.Names // dictionary strings cached for reading
	nmu   sync.Mutex   // guards cxr
	cxr   map[int32]cxKey
}

// cxKey is one ctx row: the dict ids of user agent, host, path, error type,
// message template and portal (0 when empty).
type cxKey [6]int32

const (
	cxUA = iota
	cxHost
	cxPath
	cxET
	cxMsg
	cxPortal
)

const maxCache = 1 << 20

// schemaSQL is the store's tables (see the package doc for their design).
// Their columns, after which erow, cxKey and the dict slots are named; the
// "key" of an address is explained at ipKeyExpr:
//
//	column              meaning                           encoding
//	events.ts           event date                        ms since 1970
//	events.r            event id, part                    short: the UUID's bytes 8-15; long: md5 of the id, 8 bytes
//	events.ia           event id, rest (short ids only)   ms delta<<16 | the UUID's bytes 6-7 (splitID); NULL: long
//	events.xid          event id (long ids only)          text; NULL: short
//	events.ip           remote address, IPv4              its 32 bits; NULL: none or not IPv4
//	events.ipx          remote address, any other         dict id; NULL: none or IPv4
//	events.pr           principal                         dict id; NULL: none
//	events.em           email                             dict id; NULL: none
//	events.prof         display name and account id       dict id of a profile (profile.String); NULL: none
//	events.cx           user agent, host, path, error     ctx id; NULL: all empty
//	                    type, message template, portal
//	events.xtra         type, source, reason unknown here dict id of codec.Code's extra; NULL: none
//	events.code         event type, source and reason     codec.Code, its low 10 bits (codec.LowBits)
//	events.flags        wouldRefuse, breached password    codec.Code >> 10: the wouldRefuse field (bits
//	                                                      0-4) and the breached bit (5); NULL: neither (addFlags)
//	events.fc           failure count                     clamped to int16
//	events.trace        trace id, lower-case hex          its bytes; NULL: none or tracet
//	events.tracet       trace id, any other               text; NULL: none or trace
//	events.seq          sequence number                   from events_seq_no (addSeq)
//	events.cc           country code (event.Geo.Country)  text, upper case; NULL: none (addGeo)
//	events.asn          autonomous system number          bigint; NULL: none
//	events.dev          device type                       text; NULL: none
//	events.g            the other location and device     codec.AppendGeoRest; NULL: none
//	                    fields (region, city, coordinates,
//	                    AS organisation, browser, OS, bot)
//	events.more         attempts the event stands for     event.Event.Attempts() - 1; NULL: 0 (addMore)
//	                    beyond itself (a sampled refusal)
//	dict.id, dict.s     a string and its id               text, COLLATE "C"
//	dict.fold           lower-case form of s              text; NULL when it is s, and for profiles
//	ctx.id              a combination of ctx strings      serial (cxKey)
//	ctx.ua, .host, .path, .et (error type), .msg (message template), .portal
//	                                                      dict ids; 0: empty
//	xtype.id, xtype.t   an extra (events.xtra) and the    dict id, text
//	                    type it holds
//	tally.h             UTC hour                          floor(ms / hourMs)
//	tally.users         attempts per identity (dict id)   counts blob, codec.VarintDelta
//	tally.ips           failed attempts per IP (address   counts blob, codec.VarintDelta
//	                    key)
//	tally.counts        events per (code, portal, xtra)   packEventCounts; code: codec.Code, all 16 bits
//	tally.more          attempts beyond counts, by the    packEventCounts; NULL: none, or a row
//	                    same keys                         older than the column (addMore)
//	tally.geo           attempts per country and device   packGeoCounts; NULL: a row older than the
//	                    type, failures per AS              column (addTallyGeo), read from the events
//	udelta.seq, .b      a batch's user summaries          packUsers
//	udelta.bb           their breached-password counts    packBreached; NULL: none (addFlags)
//	users.id            identity                          dict id
//	users.seen, .login, .logout, .fail
//	                    last activity, login, logout and  ms; NULL: none
//	                    failure
//	users.ip            last address                      address key; NULL: none
//	users.disp          the profile with the display name dict id; NULL: none
//	users.fails         failed attempts since the last    integer
//	                    login
//	users.src           source                            codec source code
//	users.breached      attempts with a breached password integer (addFlags)
//	users.breached_ok   the successful ones among them    integer (addFlags)
const schemaSQL = `
CREATE TABLE IF NOT EXISTS events(ts bigint NOT NULL, r bigint NOT NULL, ip int, ipx int, ia int, pr int, em int, prof int,
  cx int, xtra int, code smallint NOT NULL, fc smallint NOT NULL, trace bytea, tracet text, xid text, PRIMARY KEY (ts, r))
  PARTITION BY RANGE (ts);
CREATE INDEX IF NOT EXISTS events_xid ON events(xid) WHERE xid IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_em ON events(em, ts) WHERE em IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_pr ON events(pr, ts) WHERE pr IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_ip ON events(ip, ts) WHERE ip IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_ipx ON events(ipx, ts) WHERE ipx IS NOT NULL;
CREATE TABLE IF NOT EXISTS dict(id serial PRIMARY KEY, s text COLLATE "C" NOT NULL UNIQUE, fold text COLLATE "C");
CREATE INDEX IF NOT EXISTS dict_fold ON dict(fold) WHERE fold IS NOT NULL;
CREATE TABLE IF NOT EXISTS ctx(id serial PRIMARY KEY, ua int NOT NULL, host int NOT NULL, path int NOT NULL, et int NOT NULL,
  msg int NOT NULL, portal int NOT NULL, UNIQUE (ua, host, path, et, msg, portal));
CREATE INDEX IF NOT EXISTS ctx_portal ON ctx(portal);
CREATE TABLE IF NOT EXISTS xtype(id int PRIMARY KEY, t text COLLATE "C" NOT NULL);
CREATE INDEX IF NOT EXISTS xtype_t ON xtype(t);
CREATE TABLE IF NOT EXISTS tally(h int NOT NULL, users bytea, ips bytea, counts bytea, geo bytea, more bytea);
CREATE INDEX IF NOT EXISTS tally_h ON tally(h);
CREATE TABLE IF NOT EXISTS udelta(seq bigserial PRIMARY KEY, b bytea NOT NULL);
CREATE TABLE IF NOT EXISTS users(seen bigint, login bigint, logout bigint, fail bigint, ip bigint, id int PRIMARY KEY, disp int,
  fails int NOT NULL, src smallint NOT NULL) WITH (fillfactor = 80);
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
	// Compiling the store's short queries costs far more than running them:
	// a generic plan over all partitions easily passes jit_above_cost.
	cfg.ConnConfig.RuntimeParams["jit"] = "off"
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres log store: %w", err)
	}
	s := &Store{db: db, schema: opt.Schema, log: opt.Logger,
		ids: map[string]int32{}, cids: map[string]int32{}, profs: map[profile]int32{}, cxs: map[cxKey]int32{},
		parts: map[int64]bool{}, touched: map[int64]bool{}, analyze: 50000, foldEvery: foldBatches, idleAfter: idleFold,
		bgTables: map[string]bool{}, names: codec.NewNames(maxCache), cxr: map[int32]cxKey{}}
	s.bgCtx, s.stop = context.WithCancel(context.Background())
	if _, err := db.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{opt.Schema}.Sanitize()); err != nil {
		db.Close()
		return nil, fmt.Errorf("create postgres log store schema: %w", err)
	}
	if _, err := db.Exec(ctx, schemaSQL); err != nil {
		db.Close()
		return nil, fmt.Errorf("create postgres log store schema: %w", err)
	}
	var kind string
	if err := db.QueryRow(ctx, `SELECT relkind::text FROM pg_class WHERE oid = 'events'::regclass`).Scan(&kind); err != nil || kind != "p" {
		db.Close()
		return nil, fmt.Errorf("open postgres log store: schema %q holds a log of an older layout (events is not partitioned, %v): "+
			"export it, then drop the schema or choose another", opt.Schema, err)
	}
	if err := addSeq(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres log store: add sequence numbers to schema %q: %w", opt.Schema, err)
	}
	if err := addGeo(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres log store: add location and device columns to schema %q: %w", opt.Schema, err)
	}
	if err := addTallyGeo(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres log store: add the location and device counts to schema %q: %w", opt.Schema, err)
	}
	if err := addMore(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres log store: add the counts of attempts to schema %q: %w", opt.Schema, err)
	}
	if err := addFlags(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres log store: add monitored refusals and breached passwords to schema %q: %w", opt.Schema, err)
	}
	return s, nil
}

// seqLock is the advisory lock key under which one opener adds the seq column.
const seqLock = 0x6c670009

// upgrade runs stmts in one transaction when table has no column yet (a
// schema new or written before it), under the advisory lock seqLock with the
// column checked again under it, so that two instances opening one old
// schema upgrade it once.
func upgrade(ctx context.Context, db *pgxpool.Pool, table, column string, stmts ...string) error {
	const has = `SELECT count(*) FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`
	var n int
	if err := db.QueryRow(ctx, has, table, column).Scan(&n); err != nil || n == 1 {
		return err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, seqLock); err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, has, table, column).Scan(&n); err != nil || n == 1 {
		return err
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// addSeq gives the events table its seq column when it has none: a schema new
// or written before sequence numbers. Existing events are numbered from 1 in
// (eventDate, id) order; new rows then take the next numbers from the
// events_seq_no sequence as they are inserted. The column is nullable only
// because the staging table of a redelivered batch copies the layout; every
// row of events has a number.
func addSeq(ctx context.Context, db *pgxpool.Pool) error {
	return upgrade(ctx, db, "events", "seq",
		`CREATE SEQUENCE IF NOT EXISTS events_seq_no AS bigint MINVALUE 1`,
		`ALTER TABLE events ADD COLUMN seq bigint`,
		`UPDATE events e SET seq = o.n FROM (SELECT ts, r, row_number() OVER (ORDER BY ts, r) AS n FROM events) o
WHERE e.ts = o.ts AND e.r = o.r`,
		`SELECT setval('events_seq_no', coalesce((SELECT max(seq) FROM events), 0) + 1, false)`,
		`ALTER TABLE events ALTER COLUMN seq SET DEFAULT nextval('events_seq_no')`,
		`CREATE INDEX IF NOT EXISTS events_by_seq ON events(seq)`)
}

// addGeo gives the events table its location and device columns (cc, asn,
// dev, g) when it has none: a schema new or written before them, whose
// events keep NULL there.
func addGeo(ctx context.Context, db *pgxpool.Pool) error {
	return upgrade(ctx, db, "events", "g", `ALTER TABLE events ADD COLUMN IF NOT EXISTS cc text, ADD COLUMN IF NOT EXISTS asn bigint,
  ADD COLUMN IF NOT EXISTS dev text, ADD COLUMN IF NOT EXISTS g bytea`)
}

// addTallyGeo gives the tally rollup its geo column when it has none (a
// schema written before it). Its rows keep NULL there, and Stats reads the
// location and device counts of their hours from the events; retention
// removes them in time.
func addTallyGeo(ctx context.Context, db *pgxpool.Pool) error {
	return upgrade(ctx, db, "tally", "geo", `ALTER TABLE tally ADD COLUMN IF NOT EXISTS geo bytea`)
}

// addMore gives the events table and the tally rollup their more columns
// (the attempts an event stands for beyond itself) when they have none: a
// schema written before them, whose events and tally rows keep NULL there
// and count one attempt per event. Adding a nullable column rewrites no row.
func addMore(ctx context.Context, db *pgxpool.Pool) error {
	return upgrade(ctx, db, "events", "more",
		`ALTER TABLE events ADD COLUMN IF NOT EXISTS more int`,
		`ALTER TABLE tally ADD COLUMN IF NOT EXISTS more bytea`)
}

// addFlags gives the events table its flags column (the bits of codec.Code
// above events.code's: wouldRefuse and the breached password), the users
// table its breached-password counts and udelta their column, when events has
// no flags: a schema written before them. Its events keep NULL flags (neither
// field), its users 0 breached attempts; adding a nullable column, or one
// with a constant default, rewrites no row. Rows of a reason their writer did
// not know keep reason code 15 (MISSING_PRINCIPAL's, see codec.Code) in
// events.code and in the tally rollup: they read back right, but the
// MISSING_PRINCIPAL filter finds them.
func addFlags(ctx context.Context, db *pgxpool.Pool) error {
	return upgrade(ctx, db, "events", "flags",
		`ALTER TABLE events ADD COLUMN IF NOT EXISTS flags smallint`,
		`ALTER TABLE users ADD COLUMN IF NOT EXISTS breached int NOT NULL DEFAULT 0, ADD COLUMN IF NOT EXISTS breached_ok int NOT NULL DEFAULT 0`,
		`ALTER TABLE udelta ADD COLUMN IF NOT EXISTS bb bytea`)
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
	s.mu.Lock()
	s.stop()
	if s.idle != nil {
		s.idle.Stop()
	}
	s.mu.Unlock()
	s.bg.Wait()
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

// maxIDDelta is how far a UUIDv7's own millisecond may be from its event's
// for the id to be stored short.
const maxIDDelta = 4095

// splitID returns how id is stored for an event dated ms: r, and either ia
// (short: a canonical UUIDv7 within maxIDDelta of ms; ia holds its bytes 6-7
// and the millisecond delta) or long (r is a hash, the id goes to xid).
func splitID(id string, ms int64) (r int64, ia int32, short bool) {
	if u, ok := parseUUID(id); ok && u[6]>>4 == 7 {
		d := uuidMs(&u) - ms
		if d >= -maxIDDelta && d <= maxIDDelta {
			return int64(binary.BigEndian.Uint64(u[8:])), int32(d)<<16 | int32(u[6])<<8 | int32(u[7]), true
		}
	}
	h := md5.Sum([]byte(id))
	return int64(binary.BigEndian.Uint64(h[:8])), 0, false
}

// joinID rebuilds a short id from its row.
func joinID(ts, r int64, ia int32) string {
	var u [16]byte
	ms := ts + int64(ia>>16)
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6], u[7] = byte(ia>>8), byte(ia)
	binary.BigEndian.PutUint64(u[8:], uint64(r))
	return formatUUID(&u)
}

const hexDigits = "0123456789abcdef"

func formatUUID(u *[16]byte) string {
	var b [36]byte
	j := 0
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexDigits[x>>4], hexDigits[x&15]
		j += 2
	}
	return string(b[:])
}

// parseUUID parses a UUID in its canonical form only: 36 characters, lower-case hex.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
		}
		hi, lo := unhex(s[i]), unhex(s[i+1])
		if hi < 0 || lo < 0 {
			return u, false
		}
		u[j] = byte(hi<<4 | lo)
		j++
	}
	return u, true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

func uuidMs(u *[16]byte) int64 {
	return int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5])
}

// An address has a key: a dict id, or -(address + 1) for a canonical
// dotted-quad IPv4 address (so that dict ids stay positive). Events keep the
// address in the ip column (IPv4, its 32 bits as an int4) or the ipx column
// (a dict id); users and the rollups keep keys.

// ipKeyExpr is the key of an event's address, in SQL.
const ipKeyExpr = `coalesce(ipx::bigint, -(ip::bigint & 4294967295) - 1)`

// ipColumns returns the ip and ipx column values of key (0 for null).
func ipColumns(key int64) (ip int32, ipx int32) {
	if key < 0 {
		return int32(uint32(-key - 1)), 0
	}
	return 0, int32(key)
}

// inlineIP returns the key of a canonical dotted-quad IPv4 address.
func inlineIP(v string) (int64, bool) {
	if len(v) < 7 || len(v) > 15 {
		return 0, false
	}
	var a uint32
	parts, n, digits := 0, 0, 0
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == '.' {
			if digits == 0 || n > 255 {
				return 0, false
			}
			a, parts, n, digits = a<<8|uint32(n), parts+1, 0, 0
			continue
		}
		c := v[i]
		if c < '0' || c > '9' || (digits == 1 && n == 0) {
			return 0, false // not a digit, or a leading zero
		}
		n, digits = n*10+int(c-'0'), digits+1
	}
	if parts != 4 {
		return 0, false
	}
	return -int64(a) - 1, true
}

// ipString returns the address of a negative key.
func ipString(v int64) string {
	a := uint32(-v - 1)
	b := make([]byte, 0, 15)
	for i := 3; i >= 0; i-- {
		b = strconv.AppendUint(b, uint64(a>>(8*i)&255), 10)
		if i > 0 {
			b = append(b, '.')
		}
	}
	return string(b)
}

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

// strs resolves dict ids and inline IPs; erased strings and unknown ids are absent.
func (s *Store) strs(ctx context.Context, q querier, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	miss := s.names.Lookup(ids, out, func(id int64) (string, bool) {
		if id < 0 {
			return ipString(id), true
		}
		return "", false
	})
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
	s.names.Add(got, out)
	return out, nil
}

// ctxs resolves ctx ids to their dict ids.
func (s *Store) ctxs(ctx context.Context, q querier, ids []int32) (map[int32]cxKey, error) {
	out := make(map[int32]cxKey, 16)
	var miss []int32
	s.nmu.Lock()
	for _, id := range ids {
		if _, ok := out[id]; ok || id == 0 {
			continue
		}
		if k, ok := s.cxr[id]; ok {
			out[id] = k
		} else {
			miss = append(miss, id)
		}
	}
	s.nmu.Unlock()
	if len(miss) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT id, ua, host, path, et, msg, portal FROM ctx WHERE id = ANY($1)`, miss)
	if err != nil {
		return nil, fmt.Errorf("read contexts: %w", err)
	}
	got := map[int32]cxKey{}
	for rows.Next() {
		var id int32
		var k cxKey
		if err := rows.Scan(&id, &k[0], &k[1], &k[2], &k[3], &k[4], &k[5]); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read contexts: %w", err)
		}
		got[id] = k
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read contexts: %w", err)
	}
	s.nmu.Lock()
	defer s.nmu.Unlock()
	if len(s.cxr)+len(got) > maxCache {
		clear(s.cxr)
	}
	for id, k := range got {
		s.cxr[id], out[id] = k, k
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

// lookupIP returns the key of v, or 0 when no event has it.
func lookupIP(ctx context.Context, q querier, v string) (int64, error) {
	if ip, ok := inlineIP(v); ok {
		return ip, nil
	}
	id, err := lookup(ctx, q, v)
	return int64(id), err
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
