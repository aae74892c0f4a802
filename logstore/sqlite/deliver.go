package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore/internal/codec"
)

const insertEvents = `INSERT OR FAIL INTO events(k, idb, code, pr, em, disp, ip, portal, xtra, x, cc, asn, dev, g, more) VALUES`

// rollupKey is the key of a row of hourly (h: the UTC hour) or of daily (h:
// the UTC day); see schema.
type rollupKey struct{ h, code, portal, xtra int64 }

// rollupN is a row's counts: n events standing for n+more attempts (see
// schema).
type rollupN struct{ n, more int64 }

// evRow is what sealing and the user summaries need of an event: its
// events columns of the same names (see schema), 0 for NULL, and n, the
// attempts it stands for (1 + events.more).
type evRow struct{ k, code, pr, em, ip, disp, n int64 }

// evRowCols selects an evRow, for scanRows.
const evRowCols = `k, code, pr, em, ip, disp, 1 + coalesce(more, 0)`

func (r *evRow) ident() int64 {
	if r.pr != 0 {
		return r.pr
	}
	return r.em
}

// String slots of an event, resolved to dict ids.
const (
	slotPrincipal = iota
	slotEmail
	slotDisplay
	slotIP // only when not inline
	slotMessage
	slotErrorType
	slotPortal
	slotAccount
	slotUA
	slotHost
	slotPath
	slotExtra
	slotCountry
	slotRegionCode
	slotRegion
	slotCity
	slotASOrg
	slotBrowser
	slotOS
	slotDeviceType
	nSlots
)

// hotSlot marks the slots with few distinct values (user agents, hosts,
// paths, message templates, ...), looked up in a small cache first.
var hotSlot = [nSlots]bool{slotMessage: true, slotErrorType: true, slotPortal: true, slotUA: true, slotHost: true, slotPath: true, slotExtra: true,
	slotCountry: true, slotRegionCode: true, slotRegion: true, slotBrowser: true, slotOS: true, slotDeviceType: true}

// maxHot bounds the small cache.
const maxHot = 4096

// Deliver stores batch in one transaction, skipping event ids already stored,
// then seals the segments that became complete.
func (s *Store) Deliver(ctx context.Context, batch []event.Event) error {
	if len(batch) == 0 {
		return nil
	}
	order := make([]int, 0, len(batch))
	for i := range batch {
		if ms := batch[i].EventDate.UnixMilli(); !codec.ValidMs(ms) {
			return fmt.Errorf("deliver to sqlite log store: event %q: eventDate out of range", batch[i].ID)
		}
		order = append(order, i)
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(batch[a].EventDate.UnixMilli(), batch[b].EventDate.UnixMilli())
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.insert(ctx, batch, order); err != nil {
		return fmt.Errorf("deliver to sqlite log store: %w", err)
	}
	// The events are stored; what follows is retried at the next delivery.
	if err := s.sealReady(ctx); err != nil {
		s.log.Error("sealing login log segment", "error", err)
	}
	if err := s.foldDict(ctx); err != nil {
		s.log.Error("indexing login log dictionary", "error", err)
	}
	if err := s.sc.ready(ctx); err != nil {
		s.log.Error("preparing login log statements", "error", err)
	}
	return nil
}

// insert writes the events of batch, taken in the order order (by event
// date), in one transaction, then updates what the writer keeps in memory.
// Called with s.mu held.
func (s *Store) insert(ctx context.Context, batch []event.Event, order []int) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	var added []newString
	defer func() {
		if err != nil {
			s.unresolve(added)
		}
	}()
	first, last := batch[order[0]].EventDate.UnixMilli(), batch[order[len(order)-1]].EventDate.UnixMilli()
	taken, err := takenKeys(ctx, tx, first, last)
	if err != nil {
		return err
	}
	ids := s.lookupStrings(batch, order)
	if len(ids.want) > 0 {
		if ids.got, added, err = s.resolve(ctx, tx, ids.want); err != nil {
			return err
		}
		ids.fillResolved(order)
	}
	w := s.newBatchWriter(tx, taken, len(batch))
	for _, i := range order {
		if err := w.add(ctx, &batch[i], ids.codes[i], &ids.refs[i]); err != nil {
			return err
		}
	}
	if err := w.finish(ctx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.cacheIDs(ids.want, ids.got)
	s.addTail(w.tail)
	s.pend = append(s.pend, w.pend...)
	s.maxMs = w.maxMs
	return nil
}

// takenKeys returns the keys stored for the milliseconds first to last, both
// included, with their stored ids (idb), so that new events take free keys
// and a redelivered short id is recognised.
func takenKeys(ctx context.Context, tx *sql.Tx, first, last int64) (map[int64]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT k, idb FROM events WHERE k >= ? AND k < ?`, codec.Key(first, 0), codec.Key(last+1, 0))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	taken := map[int64]string{}
	for rows.Next() {
		var k int64
		var idb []byte
		if err := rows.Scan(&k, &idb); err != nil {
			return nil, err
		}
		taken[k] = string(idb)
	}
	return taken, rows.Err()
}

// batchIDs is what a batch's events are stored as, by index in the batch:
// their codes and the dict ids of their strings.
type batchIDs struct {
	codes []int64         // type, source and reason (codec.Code)
	refs  [][nSlots]int64 // dict id per string slot; 0: none, < 0: want[-id-1], pending
	want  []string        // the strings the writer's caches lack, each once
	got   []int64         // the dict ids of want, once resolved
}

// lookupStrings looks every string of the batch up in the writer's caches,
// each distinct string once, and lists the ones the caches lack in want.
func (s *Store) lookupStrings(batch []event.Event, order []int) *batchIDs {
	ids := &batchIDs{codes: make([]int64, len(batch)), refs: make([][nSlots]int64, len(batch))}
	wanted := map[string]int{} // index in ids.want
	// The previous event's strings and their ids: neighbours share many.
	var last [nSlots]string
	var lastID [nSlots]int64
	for _, i := range order {
		e := &batch[i]
		code, extra := codec.Code(e)
		ids.codes[i] = code
		r := &ids.refs[i]
		for slot, v := range slotValues(e, extra) {
			switch {
			case v == "":
			case lastID[slot] != 0 && v == last[slot]:
				r[slot] = lastID[slot]
			default:
				id, ok := s.cachedID(slot, v)
				if !ok {
					w, seen := wanted[v]
					if !seen {
						w = len(ids.want)
						wanted[v] = w
						ids.want = append(ids.want, v)
					}
					id = -int64(w) - 1
				}
				r[slot], last[slot], lastID[slot] = id, v, id
			}
		}
	}
	return ids
}

// slotValues returns the strings of e by slot, extra being the one of
// codec.Code: the message as its template (codec.Template), and no IP address
// when it is stored inline.
func slotValues(e *event.Event, extra string) [nSlots]string {
	v := [nSlots]string{
		slotPrincipal:  event.Value(e.Principal),
		slotEmail:      event.Value(e.Email),
		slotDisplay:    event.Value(e.DisplayName),
		slotIP:         e.RemoteAddress,
		slotErrorType:  event.Value(e.ErrorType),
		slotPortal:     event.Value(e.PortalID),
		slotAccount:    event.Value(e.AccountID),
		slotUA:         e.UserAgent,
		slotHost:       e.Host,
		slotPath:       e.Path,
		slotExtra:      extra,
		slotCountry:    e.Country,
		slotRegionCode: e.RegionCode,
		slotRegion:     e.Region,
		slotCity:       e.City,
		slotASOrg:      e.ASOrg,
		slotBrowser:    e.Browser,
		slotOS:         e.OS,
		slotDeviceType: e.DeviceType,
	}
	if e.Message != nil {
		v[slotMessage] = codec.Template(*e.Message, e.Identity(), e.FailureCount)
	}
	if _, ok := inlineIP(v[slotIP]); ok {
		v[slotIP] = "" // stored inline, in the ip column
	}
	return v
}

// cachedID returns the dict id of v, a string of the slot slot, when the
// writer's caches hold it: for a hot slot, the small cache first.
func (s *Store) cachedID(slot int, v string) (int64, bool) {
	if !hotSlot[slot] {
		return s.ids.get(v)
	}
	if id, ok := s.hot[v]; ok {
		return id, true
	}
	id, ok := s.ids.get(v)
	if ok && len(s.hot) < maxHot {
		s.hot[v] = id
	}
	return id, ok
}

// fillResolved replaces the pending ids of refs with the resolved ones.
func (ids *batchIDs) fillResolved(order []int) {
	for _, i := range order {
		for slot, id := range ids.refs[i] {
			if id < 0 {
				ids.refs[i][slot] = ids.got[-id-1]
			}
		}
	}
}

// batchWriter writes a batch's new events and gathers what follows from
// them: the rollup counts, the late keys and the rows the writer keeps in
// memory.
type batchWriter struct {
	s           *Store
	tx          *sql.Tx
	taken       map[int64]string // keys in use in the batch's milliseconds, with their idb
	seen        map[string]bool  // event ids of the batch met so far
	events      *bulk            // the INSERT into events
	arena       []byte           // holds the x blobs of the rows in events
	hours, days map[rollupKey]*rollupN
	geo         map[geoKey]int64 // the geodaily counts (attempts)
	tail, pend  []evRow          // rows for s.tail and s.pend
	late        []int64          // keys of the rows below the seal watermark
	maxMs       int64            // the newest event date, in ms
}

func (s *Store) newBatchWriter(tx *sql.Tx, taken map[int64]string, n int) *batchWriter {
	return &batchWriter{s: s, tx: tx, taken: taken, seen: make(map[string]bool, n),
		events: newBulk(tx, &s.sc, insertEvents, 15, ""), arena: make([]byte, 0, 24*n),
		hours: map[rollupKey]*rollupN{}, days: map[rollupKey]*rollupN{}, geo: map[geoKey]int64{}, maxMs: s.maxMs}
}

// add writes e, whose code and string ids are code and r, unless the batch or
// the store holds it already.
func (w *batchWriter) add(ctx context.Context, e *event.Event, code int64, r *[nSlots]int64) error {
	if w.seen[e.ID] {
		return nil
	}
	w.seen[e.ID] = true
	ms := e.EventDate.UnixMilli()
	k, idb, short, dup, err := w.newKey(ctx, e.ID, ms)
	if err != nil || dup {
		return err
	}
	ip := r[slotIP]
	if id, ok := inlineIP(e.RemoteAddress); ok {
		ip = id
	}
	at := len(w.arena)
	w.arena = packRest(w.arena, r, int64(e.FailureCount), e.TraceID)
	x := w.arena[at:len(w.arena):len(w.arena)]
	var g any
	if at = len(w.arena); codec.HasGeoRest(e) {
		w.arena = packGeo(w.arena, e, r)
		g = w.arena[at:len(w.arena):len(w.arena)]
	}
	n := e.Attempts()
	if err := w.events.add(ctx, k, idb, code, nz(r[slotPrincipal]), nz(r[slotEmail]), nz(r[slotDisplay]), nz(ip), nz(r[slotPortal]),
		nz(r[slotExtra]), x, nz(r[slotCountry]), nz(e.ASN), nz(r[slotDeviceType]), g, nz(n-1)); err != nil {
		return err
	}
	if !short {
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO xid(id, k) VALUES(?, ?)`, idb, k); err != nil {
			return err
		}
	}
	countRollup(w.hours, rollupKey{codec.FloorDiv(ms, hourMs), code, r[slotPortal], r[slotExtra]}, n)
	countRollup(w.days, rollupKey{codec.FloorDiv(ms, dayMs), code, r[slotPortal], r[slotExtra]}, n)
	addGeoKeys(w.geo, codec.FloorDiv(ms, dayMs), code, r[slotCountry], e.ASN, r[slotASOrg], r[slotDeviceType], n)
	row := evRow{k: k, code: code, pr: r[slotPrincipal], em: r[slotEmail], ip: ip, disp: r[slotDisplay], n: n}
	switch {
	case k >= w.s.mark:
		w.tail = append(w.tail, row)
	default:
		w.late = append(w.late, k)
		if k >= w.s.umark {
			w.pend = append(w.pend, row)
		}
	}
	w.maxMs = max(w.maxMs, ms)
	return nil
}

// newKey returns the key for the event id dated ms, the first free one of
// its millisecond, and the id as stored (codec.SplitID: idb, and whether it
// is short). dup reports that the store holds the event already: its short
// id under a key of that millisecond, or its long id in xid.
func (w *batchWriter) newKey(ctx context.Context, id string, ms int64) (k int64, idb []byte, short, dup bool, err error) {
	idb, short = codec.SplitID(id, ms)
	seq := 0
	for ; ; seq++ {
		v, ok := w.taken[codec.Key(ms, seq)]
		if !ok {
			break
		}
		if short && v == string(idb) {
			return 0, nil, false, true, nil
		}
	}
	if !short {
		var one int
		err := w.tx.QueryRowContext(ctx, `SELECT 1 FROM xid WHERE id = ?`, idb).Scan(&one)
		if err == nil {
			return 0, nil, false, true, nil
		}
		if err != sql.ErrNoRows {
			return 0, nil, false, false, err
		}
	}
	if seq > codec.MaxSeq {
		return 0, nil, false, false, fmt.Errorf("event %q: more than %d events in one millisecond", id, codec.MaxSeq+1)
	}
	k = codec.Key(ms, seq)
	w.taken[k] = string(idb)
	return k, idb, short, false, nil
}

// finish flushes the events, adds the rollup counts and records the late
// keys.
func (w *batchWriter) finish(ctx context.Context) error {
	if err := w.events.flush(ctx); err != nil {
		return err
	}
	if err := addCounts(ctx, w.tx, &w.s.sc, w.hours, w.days, 1); err != nil {
		return err
	}
	if err := addGeoCounts(ctx, w.tx, &w.s.sc, w.geo, 1); err != nil {
		return err
	}
	late := newBulk(w.tx, &w.s.sc, `INSERT OR FAIL INTO late(k) VALUES`, 1, "")
	for _, k := range w.late {
		if err := late.add(ctx, k); err != nil {
			return err
		}
	}
	return late.flush(ctx)
}

func nz(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// addTail adds rows (sorted by key) to the unsealed tail, keeping it sorted.
func (s *Store) addTail(rows []evRow) {
	if len(rows) == 0 {
		return
	}
	sorted := len(s.tail) == 0 || s.tail[len(s.tail)-1].k < rows[0].k
	s.tail = append(s.tail, rows...)
	if !sorted {
		slices.SortFunc(s.tail, func(a, b evRow) int { return cmp.Compare(a.k, b.k) })
	}
}

// packRest encodes the columns no query filters on into the events row's x:
// message, error type, account, failure count, user agent, host and path as
// varints, then the trace id, if any: 0 and its bytes when it is lower-case
// hex, else 1 and its text.
func packRest(b []byte, r *[nSlots]int64, fc int64, trace string) []byte {
	for _, v := range [...]int64{r[slotMessage], r[slotErrorType], r[slotAccount], fc, r[slotUA], r[slotHost], r[slotPath]} {
		b = binary.AppendVarint(b, v)
	}
	if trace == "" {
		return b
	}
	if len(trace)%2 == 0 {
		if t, err := hex.DecodeString(trace); err == nil && hex.EncodeToString(t) == trace {
			return append(append(b, 0), t...)
		}
	}
	return append(append(b, 1), trace...)
}

var errCorruptRow = errors.New("corrupt event row")

// packGeo encodes the location and device fields that have no column of
// their own into the events row's g, as varints: region code, region, city,
// AS organisation, browser and OS (dict ids, 0: none), latitude and
// longitude (codec.Coord), accuracy radius, bot (0 or 1).
func packGeo(b []byte, e *event.Event, r *[nSlots]int64) []byte {
	bot := int64(0)
	if e.Bot {
		bot = 1
	}
	for _, v := range [...]int64{r[slotRegionCode], r[slotRegion], r[slotCity], r[slotASOrg], r[slotBrowser], r[slotOS],
		codec.Coord(e.Latitude), codec.Coord(e.Longitude), int64(e.AccuracyRadius), bot} {
		b = binary.AppendVarint(b, v)
	}
	return b
}

// unpackGeo decodes packGeo's bytes into r.
func unpackGeo(b []byte, r *row) error {
	var lat, lon, bot int64
	for _, p := range [...]*int64{&r.regionCode, &r.region, &r.city, &r.asOrg, &r.browser, &r.os, &lat, &lon, &r.acc, &bot} {
		v, n := binary.Varint(b)
		if n <= 0 {
			return errCorruptRow
		}
		*p, b = v, b[n:]
	}
	r.lat, r.lon, r.bot = codec.FromCoord(lat), codec.FromCoord(lon), bot == 1
	return nil
}

// unpackRest decodes packRest's bytes into r.
func unpackRest(b []byte, r *row) error {
	for _, p := range [...]*int64{&r.msg, &r.et, &r.acct, &r.fc, &r.ua, &r.host, &r.path} {
		v, n := binary.Varint(b)
		if n <= 0 {
			return errCorruptRow
		}
		*p, b = v, b[n:]
	}
	switch {
	case len(b) == 0:
	case b[0] == 0:
		r.trace = hex.EncodeToString(b[1:])
	default:
		r.trace = string(b[1:])
	}
	return nil
}

const (
	hourMs = codec.HourMs
	dayMs  = codec.DayMs
)

// countRollup counts in m, under k, one event standing for n attempts.
func countRollup(m map[rollupKey]*rollupN, k rollupKey, n int64) {
	c := m[k]
	if c == nil {
		c = &rollupN{}
		m[k] = c
	}
	c.n++
	c.more += n - 1
}

// addCounts adds sign times the counts to the hourly and daily rollups (the
// attempts beyond the events to hourly only: daily serves page totals, which
// count events).
func addCounts(ctx context.Context, tx *sql.Tx, sc *stmts, hours, days map[rollupKey]*rollupN, sign int64) error {
	for _, t := range []struct {
		m          map[rollupKey]*rollupN
		head, tail string
		more       bool
	}{
		{hours, `INSERT INTO hourly(h, code, portal, xtra, n, more) VALUES`, ` ON CONFLICT(h, code, portal, xtra) DO UPDATE SET n = n + excluded.n, more = more + excluded.more`, true},
		{days, `INSERT INTO daily(d, code, portal, xtra, n) VALUES`, ` ON CONFLICT(d, code, portal, xtra) DO UPDATE SET n = n + excluded.n`, false},
	} {
		// Sorted, so that each row of a statement comes after the previous one.
		keys := make([]rollupKey, 0, len(t.m))
		for k := range t.m {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b rollupKey) int {
			return cmp.Or(cmp.Compare(a.h, b.h), cmp.Compare(a.code, b.code), cmp.Compare(a.portal, b.portal), cmp.Compare(a.xtra, b.xtra))
		})
		if !t.more {
			b := newBulk(tx, sc, t.head, 5, t.tail)
			for _, k := range keys {
				if err := b.add(ctx, k.h, k.code, k.portal, k.xtra, sign*t.m[k].n); err != nil {
					return err
				}
			}
			if err := b.flush(ctx); err != nil {
				return err
			}
			continue
		}
		b := newBulk(tx, sc, t.head, 6, t.tail)
		for _, k := range keys {
			if err := b.add(ctx, k.h, k.code, k.portal, k.xtra, sign*t.m[k].n, sign*t.m[k].more); err != nil {
				return err
			}
		}
		if err := b.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}
