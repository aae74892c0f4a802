package postgres

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore/internal/codec"
)

const (
	hourMs = codec.HourMs
	dayMs  = codec.DayMs
)

// Deliver stores batch in one transaction; ids already stored are skipped.
func (s *Store) Deliver(ctx context.Context, batch []event.Event) error {
	if len(batch) == 0 {
		return nil
	}
	for i := range batch {
		if !codec.ValidMs(batch[i].EventDate.UnixMilli()) {
			return fmt.Errorf("deliver to postgres log store: event %q: eventDate out of range", batch[i].ID)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.deliver(ctx, batch); err != nil {
		return fmt.Errorf("deliver to postgres log store: %w", err)
	}
	return nil
}

// Dict string slots of a row.
const (
	slotPrincipal = iota
	slotEmail
	slotIP      // only when the address is not inline
	slotProfile // the profile string, see profile
	slotUA      // from here on, strings shared across accounts
	slotHost
	slotPath
	slotErrorType
	slotMessage
	slotPortal
	slotExtra
	nSlots
)

// erow is one event on its way in: the events columns of the same names
// (see schemaSQL), and what they are made from.
type erow struct {
	ts, r, ip int64 // ip: the key of an inline address, or 0 (then str[slotIP] if any)
	ia        int32
	short     bool    // the id is stored short (r, ia), not in xid
	code, fc  int16   // code: codec.Code's low bits (codec.LowBits)
	flags     int16   // codec.Code's other bits (wouldRefuse, breached password), shifted down
	more      int32   // attempts beyond one the event stands for (event.Event.Attempts - 1)
	xtype     string  // the event type when this version does not know it
	prof      profile // display name and account id
	str       [nSlots]string
	id        [nSlots]int32 // the dict ids of str
	cx        int32
	trace     []byte
	tracet    string
	eid       string // the event id
	cc, dev   string // country code, device type
	asOrg     string // AS organisation, for the tally rollup only
	asn       int64
	geo       []byte // codec.AppendGeoRest; nil: none
}

func (s *Store) deliver(ctx context.Context, batch []event.Event) error {
	rows := slices.Grow(s.rowBuf[:0], len(batch))[:len(batch)]
	s.rowBuf = rows
	for i := range batch {
		fillRow(&rows[i], &batch[i])
	}
	// Key order: appends to the primary key, and the same lock order in every writer.
	slices.SortStableFunc(rows, func(a, b erow) int { return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.r, b.r)) })
	rows = slices.CompactFunc(rows, func(a, b erow) bool { return a.ts == b.ts && a.r == b.r })

	var parts []int64
	for i := range rows {
		if p := partOf(rows[i].ts); len(parts) == 0 || parts[len(parts)-1] != p {
			parts = append(parts, p)
		}
	}
	fast := true
	for try := 0; ; try++ {
		if err := s.ensureParts(ctx, parts); err != nil {
			return err
		}
		err := s.write(ctx, rows, fast)
		var pe *pgconn.PgError
		switch {
		case err == nil:
			s.written(parts)
			return nil
		case try > 2 || !errors.As(err, &pe):
			return err
		case pe.Code == "23505" && fast:
			// An event is stored already (a redelivery): write the batch
			// again, skipping what is there.
			fast = false
		case pe.Code == "23514":
			// No partition for a row: one was dropped since this process
			// saw it.
			clear(s.parts)
		case pe.Code == "40P01":
			// A deadlock with another writer (over an event both deliver):
			// PostgreSQL chose this one to fail; the other went on.
		default:
			return err
		}
	}
}

// fillRow sets w to the row of e, its strings not resolved yet.
func fillRow(w *erow, e *event.Event) {
	*w = erow{ts: e.EventDate.UnixMilli(), eid: e.ID}
	w.r, w.ia, w.short = splitID(e.ID, w.ts)
	code, extra := codec.Code(e)
	w.code, w.flags = int16(code&codec.LowBits), int16(code>>codec.WouldShift)
	w.fc = int16(min(max(e.FailureCount, -32768), 32767))
	w.more = int32(min(e.Attempts()-1, 1<<31-1))
	w.str = [nSlots]string{slotPrincipal: event.Value(e.Principal), slotEmail: event.Value(e.Email), slotUA: e.UserAgent, slotHost: e.Host,
		slotPath: e.Path, slotErrorType: event.Value(e.ErrorType), slotPortal: event.Value(e.PortalID), slotExtra: extra}
	w.prof = profile{clean(event.Value(e.DisplayName)), clean(event.Value(e.AccountID))}
	if ip, ok := inlineIP(e.RemoteAddress); ok {
		w.ip = ip
	} else {
		w.str[slotIP] = e.RemoteAddress
	}
	if e.Message != nil {
		w.str[slotMessage] = codec.Template(*e.Message, e.Identity(), e.FailureCount)
	}
	for j := range w.str {
		w.str[j] = clean(w.str[j])
	}
	if codec.TypeCode(e.EventType) < 0 {
		w.xtype = clean(string(e.EventType))
	}
	w.cc, w.dev, w.asn, w.asOrg = clean(strings.ToUpper(e.Country)), clean(e.DeviceType), e.ASN, clean(e.ASOrg)
	if codec.HasGeoRest(e) {
		g := *e
		g.RegionCode, g.Region, g.City, g.ASOrg, g.Browser, g.OS = clean(g.RegionCode), clean(g.Region), clean(g.City), clean(g.ASOrg), clean(g.Browser), clean(g.OS)
		w.geo = codec.AppendGeoRest(nil, &g)
	}
	if e.TraceID != "" {
		if b, err := hex.DecodeString(e.TraceID); err == nil && len(b) > 0 && hex.EncodeToString(b) == e.TraceID {
			w.trace = b
		} else {
			w.tracet = clean(e.TraceID)
		}
	}
}

// written notes a committed batch over the partitions parts, and schedules
// the background maintenance it makes due.
func (s *Store) written(parts []int64) {
	for _, p := range parts {
		s.touched[p] = true
	}
	s.batches++
	if s.added >= s.analyze || s.batches >= s.foldEvery {
		s.kick(s.added >= s.analyze)
	}
	if s.idle == nil {
		s.idle = time.AfterFunc(s.idleAfter, s.idleKick)
	} else {
		s.idle.Reset(s.idleAfter)
	}
}

// wtx is a write transaction on one connection that spends no round trip of
// its own on BEGIN or COMMIT: BEGIN goes out with its first statement, COMMIT
// with its last batch.
type wtx struct {
	c     *pgx.Conn
	begun bool
}

// query runs one statement and scans its rows with scan.
func (t *wtx) query(ctx context.Context, scan func(pgx.Rows) error, sql string, args ...any) error {
	var b pgx.Batch
	begin := !t.begun
	if begin {
		b.Queue(`BEGIN`)
		t.begun = true
	}
	b.Queue(sql, args...)
	br := t.c.SendBatch(ctx, &b)
	var err error
	if begin {
		_, err = br.Exec()
	}
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			err = scan(rows)
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// simple runs statements in the simple protocol (no arguments).
func (t *wtx) simple(ctx context.Context, sql string) error {
	if !t.begun {
		sql, t.begun = "BEGIN; "+sql, true
	}
	_, err := t.c.PgConn().Exec(ctx, sql).ReadAll()
	return err
}

// copyFrom runs a COPY ... FROM STDIN reading r.
func (t *wtx) copyFrom(ctx context.Context, r io.Reader, sql string) error {
	if !t.begun {
		sql, t.begun = "BEGIN; "+sql, true
	}
	_, err := t.c.PgConn().CopyFrom(ctx, r, sql)
	return err
}

// commit runs b and commits.
func (t *wtx) commit(ctx context.Context, b *pgx.Batch) error {
	b.Queue(`COMMIT`)
	if err := t.c.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	t.begun = false
	return nil
}

// abort rolls back what is left open. Should that fail, the pool drops the
// connection rather than reuse it in a transaction.
func (t *wtx) abort() {
	if t.begun && !t.c.IsClosed() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t.c.Exec(ctx, `ROLLBACK`)
	}
}

// write writes rows in one transaction: by COPY straight into events when
// fast (failing on an event stored already), else through a staging table.
func (s *Store) write(ctx context.Context, rows []erow, fast bool) error {
	pc, err := s.db.Acquire(ctx)
	if err != nil {
		return err
	}
	defer pc.Release()
	t := &wtx{c: pc.Conn()}
	defer t.abort()
	newIDs, err := s.resolve(ctx, t, rows)
	if err != nil {
		return err
	}
	newCx, err := s.resolveCtx(ctx, t, rows)
	if err != nil {
		return err
	}
	s.copyBuf = encodeRows(s.copyBuf[:0], rows)
	buf := &byteReader{b: s.copyBuf}
	added := rows
	if fast {
		if err := t.copyFrom(ctx, buf, copyEvents); err != nil {
			return err
		}
	} else if added, err = copyStaged(ctx, t, buf, rows); err != nil {
		return err
	}
	var b pgx.Batch
	s.rollups(&b, added)
	if err := t.commit(ctx, &b); err != nil {
		return err
	}
	s.cacheResolved(rows, newIDs, newCx)
	s.added += int64(len(added))
	return nil
}

// copyStaged copies the COPY stream buf of rows into a staging table, then
// inserts into events those not stored already, and returns them.
func copyStaged(ctx context.Context, t *wtx, buf io.Reader, rows []erow) ([]erow, error) {
	if err := t.simple(ctx, `CREATE TEMP TABLE lg_stage (LIKE events) ON COMMIT DROP`); err != nil {
		return nil, err
	}
	if err := t.copyFrom(ctx, buf, copyStage); err != nil {
		return nil, err
	}
	type key struct{ ts, r int64 }
	in := map[key]bool{}
	if err := t.query(ctx, func(res pgx.Rows) error {
		for res.Next() {
			var k key
			if err := res.Scan(&k.ts, &k.r); err != nil {
				return err
			}
			in[k] = true
		}
		return nil
	}, `INSERT INTO events`+copyCols+` SELECT `+copyCols[1:len(copyCols)-1]+` FROM pg_temp.lg_stage ORDER BY ts, r ON CONFLICT (ts, r) DO NOTHING RETURNING ts, r`); err != nil {
		return nil, err
	}
	var added []erow
	for _, w := range rows {
		if in[key{w.ts, w.r}] {
			added = append(added, w)
		}
	}
	return added, nil
}

// cacheResolved adds the dict and ctx ids a committed batch resolved to the
// caches, emptying a cache that would grow past maxCache.
func (s *Store) cacheResolved(rows []erow, newIDs map[string]int32, newCx map[cxKey]int32) {
	if len(newIDs) > 0 {
		for _, m := range []map[string]int32{s.ids, s.cids} {
			if len(m)+len(newIDs) > maxCache {
				clear(m)
			}
		}
		if len(s.profs)+len(newIDs) > maxCache {
			clear(s.profs)
		}
		for i := range rows {
			w := &rows[i]
			for j, v := range w.str {
				id, ok := newIDs[v]
				switch {
				case v == "" || !ok:
				case j == slotProfile:
					s.profs[w.prof] = id
				case j < slotUA:
					s.ids[v] = id
				default:
					s.cids[v] = id
				}
			}
		}
	}
	if len(s.cxs)+len(newCx) > maxCache {
		clear(s.cxs)
	}
	for k, v := range newCx {
		s.cxs[k] = v
	}
}

// byteReader reads a byte slice.
type byteReader struct {
	b   []byte
	off int
}

func (r *byteReader) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

const (
	copyCols   = `(ts, r, ip, ipx, ia, pr, em, prof, cx, xtra, code, fc, trace, tracet, xid, cc, asn, dev, g, more, flags)`
	copyEvents = `COPY events` + copyCols + ` FROM STDIN (FORMAT binary)`
	copyStage  = `COPY pg_temp.lg_stage` + copyCols + ` FROM STDIN (FORMAT binary)`
)

// resolve gives every string of rows its dict id: from the caches (one for
// the strings that identify, one for the few that repeat across everyone,
// one for profiles), or by inserting the new ones. It returns the ids new to
// the caches.
func (s *Store) resolve(ctx context.Context, t *wtx, rows []erow) (map[string]int32, error) {
	var want map[string]int32
	var plain map[string]bool // new strings used other than as profiles
	for i := range rows {
		w := &rows[i]
		// From scratch: ids from an attempt that rolled back may not exist.
		w.id, w.cx, w.str[slotProfile] = [nSlots]int32{}, 0, ""
		if w.prof != (profile{}) {
			if id, ok := s.profs[w.prof]; ok {
				w.id[slotProfile] = id
			} else {
				w.str[slotProfile] = w.prof.String()
			}
		}
		for j, v := range w.str {
			if v == "" || w.id[j] != 0 {
				continue
			}
			cache := s.cids
			if j < slotUA {
				cache = s.ids
			}
			if id, ok := cache[v]; ok {
				w.id[j] = id
				continue
			}
			if want == nil {
				want, plain = map[string]int32{}, map[string]bool{}
			}
			want[v] = 0
			if j != slotProfile {
				plain[v] = true
			}
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	list := make([]string, 0, len(want))
	for v := range want {
		list = append(list, v)
	}
	slices.Sort(list) // the same lock order in every writer
	// The lower-case form serves case-insensitive lookups of identities, so
	// profiles go without.
	folds := make([]*string, len(list))
	for i, v := range list {
		if plain[v] {
			folds[i] = fold(v)
		}
	}
	// New strings come back from the insert; the others (stored by another
	// writer, or before this process started) are read next.
	if err := t.query(ctx, func(res pgx.Rows) error { return scanIDs(res, want) },
		`INSERT INTO dict(s, fold) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (s) DO NOTHING RETURNING id, s`, list, folds); err != nil {
		return nil, err
	}
	var miss []string
	for _, v := range list {
		if want[v] == 0 {
			miss = append(miss, v)
		}
	}
	if len(miss) > 0 {
		if err := t.query(ctx, func(res pgx.Rows) error { return scanIDs(res, want) }, `SELECT id, s FROM dict WHERE s = ANY($1)`, miss); err != nil {
			return nil, err
		}
		for _, v := range miss {
			if want[v] == 0 {
				return nil, fmt.Errorf("dictionary string %q not found after insert", v)
			}
		}
	}
	for i := range rows {
		w := &rows[i]
		for j, v := range w.str {
			if v != "" && w.id[j] == 0 {
				w.id[j] = want[v]
			}
		}
	}
	return want, nil
}

func scanIDs(res pgx.Rows, into map[string]int32) error {
	for res.Next() {
		var id int32
		var v string
		if err := res.Scan(&id, &v); err != nil {
			return err
		}
		into[v] = id
	}
	return nil
}

func cxOf(w *erow) cxKey {
	return cxKey{cxUA: w.id[slotUA], cxHost: w.id[slotHost], cxPath: w.id[slotPath], cxET: w.id[slotErrorType], cxMsg: w.id[slotMessage], cxPortal: w.id[slotPortal]}
}

// resolveCtx gives every row its ctx id, inserting the new combinations. It
// returns the ones new to the cache.
func (s *Store) resolveCtx(ctx context.Context, t *wtx, rows []erow) (map[cxKey]int32, error) {
	var want map[cxKey]int32
	for i := range rows {
		k := cxOf(&rows[i])
		if k == (cxKey{}) {
			continue
		}
		if id, ok := s.cxs[k]; ok {
			rows[i].cx = id
			continue
		}
		if want == nil {
			want = map[cxKey]int32{}
		}
		want[k] = 0
	}
	if len(want) == 0 {
		return nil, nil
	}
	list := make([]cxKey, 0, len(want))
	for k := range want {
		list = append(list, k)
	}
	slices.SortFunc(list, func(a, b cxKey) int { return slices.Compare(a[:], b[:]) })
	var cols [6][]int32
	for _, k := range list {
		for j := range cols {
			cols[j] = append(cols[j], k[j])
		}
	}
	scan := func(res pgx.Rows) error { return scanCtx(res, want) }
	if err := t.query(ctx, scan, `INSERT INTO ctx(ua, host, path, et, msg, portal)
SELECT * FROM unnest($1::int[], $2::int[], $3::int[], $4::int[], $5::int[], $6::int[])
ON CONFLICT (ua, host, path, et, msg, portal) DO NOTHING RETURNING id, ua, host, path, et, msg, portal`,
		cols[0], cols[1], cols[2], cols[3], cols[4], cols[5]); err != nil {
		return nil, err
	}
	for _, k := range list {
		if want[k] != 0 {
			continue
		}
		if err := t.query(ctx, scan, `SELECT id, ua, host, path, et, msg, portal FROM ctx
WHERE ua = $1 AND host = $2 AND path = $3 AND et = $4 AND msg = $5 AND portal = $6`, k[0], k[1], k[2], k[3], k[4], k[5]); err != nil {
			return nil, err
		}
		if want[k] == 0 {
			return nil, fmt.Errorf("context not found after insert")
		}
	}
	for i := range rows {
		if id, ok := want[cxOf(&rows[i])]; ok {
			rows[i].cx = id
		}
	}
	return want, nil
}

func scanCtx(res pgx.Rows, into map[cxKey]int32) error {
	for res.Next() {
		var id int32
		var k cxKey
		if err := res.Scan(&id, &k[0], &k[1], &k[2], &k[3], &k[4], &k[5]); err != nil {
			return err
		}
		into[k] = id
	}
	return nil
}

// copyBuf builds a binary COPY stream.
type copyBuf struct{ b []byte }

func (c *copyBuf) null() { c.b = append(c.b, 0xff, 0xff, 0xff, 0xff) }
func (c *copyBuf) i2(v int16) {
	c.b = binary.BigEndian.AppendUint16(append(c.b, 0, 0, 0, 2), uint16(v))
}
func (c *copyBuf) i4(v int32) {
	c.b = binary.BigEndian.AppendUint32(append(c.b, 0, 0, 0, 4), uint32(v))
}
func (c *copyBuf) i8(v int64) {
	c.b = binary.BigEndian.AppendUint64(append(c.b, 0, 0, 0, 8), uint64(v))
}
func (c *copyBuf) raw(v []byte) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(v)))
	c.b = append(c.b, v...)
}
func (c *copyBuf) str(v string) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(v)))
	c.b = append(c.b, v...)
}

// strn writes v, or null when it is "".
func (c *copyBuf) strn(v string) {
	if v == "" {
		c.null()
	} else {
		c.str(v)
	}
}

// i4n writes v, or null when it is 0.
func (c *copyBuf) i4n(v int32) {
	if v == 0 {
		c.null()
	} else {
		c.i4(v)
	}
}

// encodeRows appends the binary COPY stream of rows to b.
func encodeRows(b []byte, rows []erow) []byte {
	c := &copyBuf{b: b}
	c.b = append(c.b, "PGCOPY\n\xff\r\n\x00"...)
	c.b = append(c.b, 0, 0, 0, 0, 0, 0, 0, 0)
	for i := range rows {
		w := &rows[i]
		c.b = append(c.b, 0, 21)
		c.i8(w.ts)
		c.i8(w.r)
		if w.ip != 0 {
			ip, _ := ipColumns(w.ip)
			c.i4(ip)
		} else {
			c.null()
		}
		c.i4n(w.id[slotIP])
		if w.short {
			c.i4(w.ia)
		} else {
			c.null()
		}
		c.i4n(w.id[slotPrincipal])
		c.i4n(w.id[slotEmail])
		c.i4n(w.id[slotProfile])
		c.i4n(w.cx)
		c.i4n(w.id[slotExtra])
		c.i2(w.code)
		c.i2(w.fc)
		if w.trace != nil {
			c.raw(w.trace)
		} else {
			c.null()
		}
		if w.tracet != "" {
			c.str(w.tracet)
		} else {
			c.null()
		}
		if !w.short {
			c.str(w.eid)
		} else {
			c.null()
		}
		c.strn(w.cc)
		if w.asn != 0 {
			c.i8(w.asn)
		} else {
			c.null()
		}
		c.strn(w.dev)
		if w.geo != nil {
			c.raw(w.geo)
		} else {
			c.null()
		}
		c.i4n(w.more)
		if w.flags != 0 {
			c.i2(w.flags)
		} else {
			c.null()
		}
	}
	c.b = append(c.b, 0xff, 0xff)
	return c.b
}

// rollups queues the rollup writes of the rows added: a tally row per hour
// (event counts, attempts per identity, failures per IP), and the batch's
// user summaries as one udelta row (folded into users in the background, see
// users.go). Both are plain inserts: concurrent writers never wait for each
// other's rows.
func (s *Store) rollups(b *pgx.Batch, added []erow) {
	if len(added) == 0 {
		return
	}
	tally := map[int64]*tallyAcc{}
	users := map[int64]*codec.User{}
	breached := false // a user summary has breached-password counts
	xtypes := map[int32]string{}
	for i := range added {
		w := &added[i]
		h := codec.FloorDiv(w.ts, hourMs)
		t := tally[h]
		if t == nil {
			t = newTallyAcc()
			tally[h] = t
		}
		ident := int64(w.id[slotPrincipal])
		if ident == 0 {
			ident = int64(w.id[slotEmail])
		}
		ip := w.ip
		if ip == 0 {
			ip = int64(w.id[slotIP])
		}
		n := 1 + int64(w.more)
		code := w.fullCode()
		t.add(code, w.id[slotPortal], w.id[slotExtra], ident, ip, n)
		t.addGeo(code, w.cc, w.asn, w.asOrg, w.dev, n)
		if w.xtype != "" {
			xtypes[w.id[slotExtra]] = w.xtype
		}
		if ident != 0 {
			u := users[ident]
			if u == nil {
				u = &codec.User{ID: ident}
				users[ident] = u
			}
			var disp int64 // the profile, when it has a display name
			if w.prof.disp != "" {
				disp = int64(w.id[slotProfile])
			}
			u.Apply(code, w.ts, ip, disp, n)
			breached = breached || u.Breached != 0
		}
	}
	hs := make([]int64, 0, len(tally))
	for h := range tally {
		hs = append(hs, h)
	}
	slices.Sort(hs)
	var tu, ti, tc, tg, tm [][]byte
	for _, h := range hs {
		u, i, c, g, m := tally[h].pack()
		tu, ti, tc, tg, tm = append(tu, u), append(ti, i), append(tc, c), append(tg, g), append(tm, m)
	}
	b.Queue(`INSERT INTO tally(h, users, ips, counts, geo, more) SELECT * FROM unnest($1::int[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[])`,
		hs, tu, ti, tc, tg, tm)
	if len(xtypes) > 0 {
		var xi []int32
		var xt []string
		for id := range xtypes {
			xi = append(xi, id)
		}
		slices.Sort(xi)
		for _, id := range xi {
			xt = append(xt, xtypes[id])
		}
		b.Queue(`INSERT INTO xtype(id, t) SELECT * FROM unnest($1::int[], $2::text[]) ON CONFLICT (id) DO NOTHING`, xi, xt)
	}
	if len(users) > 0 {
		var bb []byte // NULL unless a summary has breached-password counts
		if breached {
			bb = packBreached(users)
		}
		b.Queue(`INSERT INTO udelta(b, bb) VALUES ($1, $2)`, packUsers(users), bb)
	}
}

// fullCode returns the row's code as codec.Code made it, from its code and
// flags columns.
func (w *erow) fullCode() int64 { return int64(w.code) | int64(w.flags)<<codec.WouldShift }

// clean makes v storable as PostgreSQL text, which holds neither NUL bytes nor
// invalid UTF-8.
func clean(v string) string {
	if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
		return strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "\uFFFD")
	}
	return v
}

// profile is an event's display name and account id, stored as one dict
// string (a JSON array): both are per account, so one dict entry per account
// instead of two, and one column.
type profile struct{ disp, acct string }

func (p profile) String() string {
	b, _ := json.Marshal([2]string{p.disp, p.acct})
	return string(b)
}

// parseProfile reverses profile.String.
func parseProfile(v string) profile {
	var a [2]string
	if json.Unmarshal([]byte(v), &a) != nil {
		return profile{}
	}
	return profile{a[0], a[1]}
}
