// Package sqlite is the embedded login log store: SQLite through
// modernc.org/sqlite (pure Go, no cgo), in WAL mode.
//
// # Schema
//
// A secondary index (on email, on IP) makes every batch dirty one random
// index page per event, and the WAL writes each of those pages again at
// every commit: a plain events table takes inserts many times faster. So no
// table written at every delivery has a secondary index, and what indexes do
// is done in sealed, time-ordered segments instead (a small log-structured
// design). The tables, column by column, are in the comment on schema:
//
//	events(k INTEGER PRIMARY KEY, ...)  one compact row per event. k is the
//	    event date in ms << 12 | a sequence number, so rows are stored in time
//	    order and every insert appends. Strings are ids into dict; type, source
//	    and reason are packed into one small code; the event id is kept as its
//	    last 10 bytes when it is a UUIDv7 of (nearly) the same millisecond as
//	    the event, since the rest is in k (other ids also get an xid entry).
//	    Messages are stored as templates with the identity and failure count
//	    cut out, so "Account a@x failed ... due to 3 ..." is one dict entry.
//	    The columns no query filters on (message, error type, account, failure
//	    count, user agent, host, path, trace id) are packed into one blob, x.
//	dict(id, s, fold)                   every distinct string once, appended
//	    (ids given in order by the writer); fold is the lower-case form when
//	    it differs, for case-insensitive email lookups.
//	dix(s, id), dfold(fold, id)         dict's lookup indexes, for the ids
//	    below the mark dmark; the newer strings are indexed in memory and
//	    added here sorted, Options.DictBatch at a time (see dict.go).
//	xid(id PRIMARY KEY, k)              ids that are not short.
//	hourly(h, code, portal, xtra, n, more)  event counts per UTC hour, and
//	    the attempts they stand for beyond one each (a sampled refusal's
//	    count), maintained in each Deliver transaction: totals, series,
//	    reasons and hours of day of Stats (n + more attempts), and page
//	    totals of filters without email/IP/principal (n events). xtra
//	    (0 when none) keeps types this version does not know apart, so that
//	    a filter on one of them (e.g. the admin API's audit types) counts too.
//	daily(d, code, portal, xtra, n)     the event counts per UTC day, so that a 30-day
//	    page total sums 30 days of rows rather than 720 hours of them.
//	seg(lo, hi, lvl, nb, users, ips)    sealed key ranges [lo, hi): level 0 at
//	    least 2,048 events or the rest of a UTC day, level 1 a whole UTC day,
//	    merged from its level-0 segments once the day is complete. users
//	    and ips hold attempts per identity and failures per IP of the segment,
//	    as counts blobs (codec.AppendCounts), for Stats' top lists.
//	post(lo, kind, b, ks)               per segment, the keys of the events of
//	    each principal, email and IP, delta-varint packed, in nb buckets by
//	    the low bits of the id (see post.go). A 30-day lookup of one email is
//	    one seek per day segment, one per level-0 segment of the current day,
//	    plus a scan of the unsealed tail (about 2,048 events plus SealDelay,
//	    which bounds the scan).
//	users(blk, v)                       per identity: last login/logout/failure,
//	    last IP, failures since success (what the user login activity page
//	    shows), in blocks of 128 dict ids (see users.go), updated from the
//	    sealed events below the users mark once Options.UserBatch of them
//	    gathered; Users reads newer rows raw.
//	late(k)                             events that arrived after their segment
//	    was sealed; folded into it at the next seal, read raw until then.
//	meta(name, v)                       the seal watermark, the users mark, the
//	    deletion mark and the dictionary mark.
//
// The writer keeps in memory what it would otherwise read back: the unsealed
// tail's (key, code, principal, email, IP, display name), sealed from there,
// and the events the users table lags behind. Both are read from the file
// when it is opened, as is the dictionary tail, so nothing is lost when the
// process stops; PRAGMA user_version tells the file's format.
//
// A segment is sealed once events newer than its end by SealDelay have arrived
// and it holds 2,048 events or ends a UTC day. Reads combine the sealed
// segments, the unsealed tail (events at or after the watermark, read raw) and
// late rows, so results are exact at every moment.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// Options configures a Store.
type Options struct {
	// SealDelay is how long after its end a segment is sealed, so that events
	// arriving a little out of order land before sealing. Default: 2 minutes.
	SealDelay time.Duration
	// SealEvents is the fewest events a segment is sealed with before its UTC
	// day ends: more makes ingest cheaper and the unsealed tail each keyed
	// query scans longer. Default: 2048.
	SealEvents int
	// CacheMB is SQLite's page cache per connection in MiB. Default: 64.
	CacheMB int
	// UserBatch is how many sealed events the users table may lag behind:
	// it is updated once that many have been sealed since its last update
	// (Users reads the rest raw). Updating it rewrites the blocks of the
	// identities seen, so doing it once per many segments is what keeps
	// ingest cheap. Default: 32768.
	UserBatch int
	// DictBatch is how many new dictionary strings (emails, principals,
	// display names, ...) are kept in memory before they are added to the
	// dictionary's lookup indexes in one sorted pass. Default: 65536.
	DictBatch int
	// Logger receives errors of background work. Default: slog.Default().
	Logger *slog.Logger
}

// Store is the SQLite login log store.
type Store struct {
	w, r   *sql.DB
	opt    Options
	log    *slog.Logger
	unlock func() // gives back this process's claim on the file (lock.go)

	mu       sync.Mutex // serialises writers and guards the fields below
	sc       stmts      // the writer's prepared statements
	ids      *strIndex
	hot      map[string]int64 // a few of ids: strings of slots with few values
	complete bool             // ids holds every dictionary string
	nextID   int64            // next dictionary id
	mark     int64            // seal watermark: keys below are in segments (noMark: none yet)
	umark    int64            // users watermark (<= mark): keys below are in the users table
	live     int64            // deletion mark: keys below are deleted
	maxMs    int64
	tail     []evRow // the events at or above mark, by key
	pend     []evRow // the events in [umark, mark), any order

	dt dictTail // dictionary strings not yet in its indexes; own lock

	names *codec.Names // strings cached for reading
}

const (
	noMark        = -1 << 62
	maxCache      = 1 << 20 // strings cached for writing
	maxCacheBytes = 64 << 20
	maxNames      = 1 << 17 // strings cached for reading
)

// formatVersion is the schema version, in PRAGMA user_version. Files of
// versions 2, 3, 4 and 5 are upgraded (migrate2, migrate3, migrate4,
// migrate5); others are refused rather than misread.
const formatVersion = 6

// schema is the file's tables (see the package doc for their design). Their
// columns, and the fields of evRow and row that mirror them, column by column:
//
//	column            meaning                                encoding
//	events.k          row key: event date and order          codec.Key: ms<<12 | sequence within the ms
//	events.idb        event id                               codec.SplitID: short (the rest is in k) or long
//	events.code       event type, source, reason,            codec.Code (16 bits; 9 before format 6)
//	                  wouldRefuse, breached password
//	events.pr         principal                              dict id; NULL: none
//	events.em         email                                  dict id; NULL: none
//	events.disp       display name                           dict id; NULL: none
//	events.ip         remote address                         ipBase + IPv4 address, else dict id; NULL: none
//	events.portal     portal id                              dict id; NULL: none
//	events.xtra       type, source, reason unknown here      dict id of codec.Code's extra; NULL: none
//	events.x          message, error type, account, failure  packRest
//	                  count, user agent, host, path, trace id
//	events.cc         country code (event.Geo.Country)       dict id; NULL: none
//	events.asn        autonomous system number               integer; NULL: none
//	events.dev        device type (event.Device.DeviceType)  dict id; NULL: none
//	events.g          the other location and device fields:  packGeo; NULL: none
//	                  region code, region, city, latitude,
//	                  longitude, accuracy radius, AS
//	                  organisation, browser, OS, bot
//	events.more       attempts the event stands for beyond   event.Event.Attempts() - 1; NULL: 0
//	                  itself (a sampled refusal's count)
//	dict.id           dictionary id                          given in order by the writer
//	dict.s            the string                             text; codec.Erased + id once erased
//	dict.fold         lower-case form of s                   text; NULL when it is s
//	dix.s, dix.id     dict by s, for ids below meta dmark    as in dict
//	dfold.fold, .id   dict by fold, for ids below dmark      as in dict
//	xid.id, xid.k     the key of a long event id             codec.LongID, events.k
//	hourly.h          UTC hour                               floor(ms / hourMs)
//	daily.d           UTC day                                floor(ms / dayMs)
//	hourly, daily:
//	  .code, .portal, .xtra   as in events                   0: none
//	  .n              events counted                         integer (page totals of Query)
//	hourly.more       their attempts beyond n                sum of events.more (Stats counts n + more)
//	seg.lo, seg.hi    the segment's key range [lo, hi)       events.k
//	seg.lvl           level: 0 part of a day, 1 a whole day  0 or 1
//	seg.nb            bucket count of its postings           power of two (bucketsFor)
//	seg.users         attempts per identity (dict id)        counts blob, codec.UvarintDelta (of attempts, 1 + events.more each)
//	seg.ips           failed attempts per IP (events.ip)     counts blob, codec.UvarintDelta
//	post.lo           the segment                            seg.lo
//	post.kind         what the postings are of               kindPrincipal, kindEmail, kindIP
//	post.b            bucket: the ids' low bits              id & (nb-1)
//	post.ks           the bucket's postings                  see post.go
//	users.blk         block of identities                    dict id >> userBlockBits
//	users.v           their summaries, by id                 appendUser (breached-password counts
//	                                                         from format 6, behind a flag)
//	late.k            event stored after its segment sealed  events.k
//	meta.name, .v     mark (seal watermark), umark (users),  events.k; dmark: dict id
//	                  live (deletion), dmark (dictionary)
//	geodaily          see geoSchema
const schema = geoSchema + `
CREATE TABLE IF NOT EXISTS events(k INTEGER PRIMARY KEY, idb BLOB NOT NULL, code INT NOT NULL, pr INT, em INT,
  disp INT, ip INT, portal INT, xtra INT, x BLOB NOT NULL, cc INT, asn INT, dev INT, g BLOB, more INT);
CREATE TABLE IF NOT EXISTS dict(id INTEGER PRIMARY KEY, s TEXT NOT NULL, fold TEXT);
CREATE TABLE IF NOT EXISTS dix(s TEXT PRIMARY KEY, id INT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dfold(fold TEXT, id INT, PRIMARY KEY(fold, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS xid(id BLOB PRIMARY KEY, k INT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hourly(h INT, code INT, portal INT, xtra INT, n INT NOT NULL, more INT NOT NULL DEFAULT 0,
  PRIMARY KEY(h, code, portal, xtra)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS daily(d INT, code INT, portal INT, xtra INT, n INT NOT NULL, PRIMARY KEY(d, code, portal, xtra)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seg(lo INTEGER PRIMARY KEY, hi INT NOT NULL, lvl INT NOT NULL, nb INT NOT NULL, users BLOB, ips BLOB);
CREATE TABLE IF NOT EXISTS post(lo INT, kind INT, b INT, ks BLOB NOT NULL, PRIMARY KEY(lo, kind, b)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS users(blk INTEGER PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS late(k INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, v INT NOT NULL);
`

// Posting kinds.
const (
	kindPrincipal = 1
	kindEmail     = 2
	kindIP        = 3
)

// Open opens (creating if needed) the store in the file at path.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	if opt.SealDelay <= 0 {
		opt.SealDelay = 2 * time.Minute
	}
	if opt.SealEvents <= 0 {
		opt.SealEvents = 2048
	}
	if opt.CacheMB <= 0 {
		opt.CacheMB = 64
	}
	if opt.UserBatch <= 0 {
		opt.UserBatch = 32768
	}
	if opt.DictBatch <= 0 {
		opt.DictBatch = 65536
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	// synchronous=NORMAL in WAL mode: a crash (of the machine, not of the
	// process) may lose the last committed deliveries, never corrupt the file.
	// temp_store=MEMORY keeps statement journals of multi-row statements in
	// memory rather than in temporary files.
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)", "wal_autocheckpoint(16384)",
		fmt.Sprintf("cache_size(%d)", -opt.CacheMB*1024), "foreign_keys(OFF)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	unlock, err := lockWriter(path)
	if err != nil {
		return nil, err
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath()
	w, err := sql.Open("sqlite", dsn+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		unlock()
		return nil, fmt.Errorf("open sqlite log store: %w", err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn+"?"+q.Encode())
	if err != nil {
		w.Close()
		unlock()
		return nil, fmt.Errorf("open sqlite log store: %w", err)
	}
	r.SetMaxOpenConns(4)
	s := &Store{w: w, r: r, opt: opt, log: opt.Logger, ids: newStrIndex(), hot: map[string]int64{}, names: codec.NewNames(maxNames), unlock: unlock}
	s.sc = stmts{db: w, m: map[string]*sql.Stmt{}}
	if err := s.init(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	var version, tables int64
	if err := s.w.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("open sqlite log store: %w", err)
	}
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'events'`).Scan(&tables); err != nil {
		return fmt.Errorf("open sqlite log store: %w", err)
	}
	if tables > 0 && version == 2 {
		if err := migrate2(ctx, s.w); err != nil {
			return err
		}
		version = 3
	}
	if tables > 0 && version == 3 {
		if err := s.migrate3(ctx); err != nil {
			return fmt.Errorf("upgrade sqlite log store to format 4: %w", err)
		}
		version = 4
	}
	if tables > 0 && version == 4 {
		if err := migrate4(ctx, s.w); err != nil {
			return err
		}
		version = 5
	}
	if tables > 0 && version == 5 {
		if err := migrate5(ctx, s.w); err != nil {
			return err
		}
		version = 6
	}
	if tables > 0 && version != formatVersion {
		return fmt.Errorf("open sqlite log store: the file has format %d, this version reads format %d only (move the file away to start a new log)", version, formatVersion)
	}
	if _, err := s.w.ExecContext(ctx, schema+fmt.Sprintf("PRAGMA user_version = %d;", formatVersion)); err != nil {
		return fmt.Errorf("create sqlite log store schema: %w", err)
	}
	s.mark, s.live = noMark, noMark
	umark, dmark := int64(noMark), int64(1)
	hasUmark := false
	rows, err := s.w.QueryContext(ctx, `SELECT name, v FROM meta`)
	if err != nil {
		return fmt.Errorf("read log store meta: %w", err)
	}
	for rows.Next() {
		var n string
		var v int64
		if err := rows.Scan(&n, &v); err != nil {
			rows.Close()
			return fmt.Errorf("read log store meta: %w", err)
		}
		switch n {
		case "mark":
			s.mark = v
		case "live":
			s.live = v
		case "umark":
			umark, hasUmark = v, true
		case "dmark":
			dmark = v
		}
	}
	rows.Close()
	s.umark = s.mark // a new store
	if hasUmark {
		s.umark = umark
	} else if _, err := s.w.ExecContext(ctx, `INSERT INTO meta(name, v) VALUES('umark', ?), ('dmark', ?)`, s.umark, dmark); err != nil {
		return fmt.Errorf("write log store meta: %w", err)
	}
	var mk sql.NullInt64
	if err := s.w.QueryRowContext(ctx, `SELECT max(k) FROM events`).Scan(&mk); err != nil {
		return fmt.Errorf("read log store tail: %w", err)
	}
	if mk.Valid {
		s.maxMs = codec.Ms(mk.Int64)
	}
	if err := s.loadMemory(ctx); err != nil {
		return fmt.Errorf("read log store tail: %w", err)
	}
	return s.loadDict(ctx, dmark)
}

// Close closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	err := s.sc.close()
	s.mu.Unlock()
	err = errors.Join(err, s.w.Close(), s.r.Close())
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
	return err
}

// ipBase marks IPv4 addresses stored inline: an ip value at or above it is
// ipBase plus the address as a 32-bit number, not a dict id. Remote addresses
// are the one string with about as many distinct values as events (scanners,
// credential stuffing); inline they cost no dictionary row, no random index
// insert and no lookup.
const ipBase = 1 << 40

// inlineIP returns the inline form of a canonical dotted-quad IPv4 address.
func inlineIP(v string) (int64, bool) {
	if len(v) < 7 || len(v) > 15 {
		return 0, false
	}
	var n, part, digits, dots int64
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			if digits > 0 && part == 0 {
				return 0, false // leading zero
			}
			part = part*10 + int64(c-'0')
			digits++
			if part > 255 {
				return 0, false
			}
		case c == '.' && digits > 0 && dots < 3:
			n, part, digits = n<<8|part, 0, 0
			dots++
		default:
			return 0, false
		}
	}
	if dots != 3 || digits == 0 {
		return 0, false
	}
	return ipBase | n<<8 | part, true
}

// inlineString returns the address of an inline ip value.
func inlineString(id int64) string {
	n := uint32(id - ipBase)
	b := make([]byte, 0, 15)
	for i := 3; i >= 0; i-- {
		b = strconv.AppendUint(b, uint64(n>>(8*i)&0xff), 10)
		if i > 0 {
			b = append(b, '.')
		}
	}
	return string(b)
}

// migrate2 upgrades a file of format 2, whose events have no location and
// device columns: it adds them (NULL in the rows stored before).
func migrate2(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("upgrade sqlite log store to format 3: %w", err)
	}
	defer rollback(tx)
	for _, q := range []string{`ALTER TABLE events ADD COLUMN cc INT`, `ALTER TABLE events ADD COLUMN asn INT`,
		`ALTER TABLE events ADD COLUMN dev INT`, `ALTER TABLE events ADD COLUMN g BLOB`, `PRAGMA user_version = 3`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("upgrade sqlite log store to format 3: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("upgrade sqlite log store to format 3: %w", err)
	}
	return nil
}

// migrate4 upgrades a file of format 4, whose events have no count of
// attempts (events.more) and whose rollups count events only: it adds the
// columns, NULL and 0, so that every event stored before stands for one
// attempt. No row is rewritten.
func migrate4(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("upgrade sqlite log store to format 5: %w", err)
	}
	defer rollback(tx)
	for _, q := range []string{`ALTER TABLE events ADD COLUMN more INT`, `ALTER TABLE hourly ADD COLUMN more INT NOT NULL DEFAULT 0`,
		`PRAGMA user_version = 5`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("upgrade sqlite log store to format 5: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("upgrade sqlite log store to format 5: %w", err)
	}
	return nil
}

// migrate5 upgrades a file of format 5, whose codes have a reason field of
// 4 bits and neither wouldRefuse nor a breached password (codec.Code), and
// whose user summaries have no breached-password counts. Its codes are those
// of format 6 with the new fields empty, and its summaries read as having no
// breached password (appendUser's flag is clear): nothing is rewritten, the
// version is raised so that an older version refuses the file rather than
// misreads the codes written from now on. A format-5 row of a reason its
// writer did not know keeps the reason code of MISSING_PRINCIPAL (see
// codec.Code): it reads back right, but the MISSING_PRINCIPAL filter finds it.
func migrate5(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `PRAGMA user_version = 6`); err != nil {
		return fmt.Errorf("upgrade sqlite log store to format 6: %w", err)
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// strs resolves dict ids to strings; erased strings and unknown ids are absent.
func (s *Store) strs(ctx context.Context, q querier, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	miss := s.names.Lookup(ids, out, func(id int64) (string, bool) {
		if id >= ipBase {
			return inlineString(id), true
		}
		return "", false
	})
	for len(miss) > 0 {
		n := min(len(miss), 500)
		chunk := miss[:n]
		miss = miss[n:]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := q.QueryContext(ctx, `SELECT id, s FROM dict WHERE id IN (`+marks(len(chunk))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read dictionary: %w", err)
		}
		got := map[int64]string{}
		for rows.Next() {
			var id int64
			var v string
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read dictionary: %w", err)
			}
			got[id] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read dictionary: %w", err)
		}
		s.names.Add(got, out)
	}
	return out, nil
}

func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func (s *Store) setMeta(ctx context.Context, tx *sql.Tx, name string, v int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta(name, v) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET v = excluded.v`, name, v); err != nil {
		return fmt.Errorf("write log store meta: %w", err)
	}
	return nil
}

// rollback ends tx after a failure; its error is the one that matters.
func rollback(tx *sql.Tx) { _ = tx.Rollback() }

var _ logstore.Store = (*Store)(nil)

// Size returns the bytes the database uses on disk, after a WAL checkpoint.
func (s *Store) Size(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return 0, fmt.Errorf("checkpoint sqlite log store: %w", err)
	}
	var pages, size int64
	if err := s.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return 0, fmt.Errorf("size of sqlite log store: %w", err)
	}
	if err := s.w.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil {
		return 0, fmt.Errorf("size of sqlite log store: %w", err)
	}
	return pages * size, nil
}
