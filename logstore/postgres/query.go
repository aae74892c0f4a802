package postgres

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// plan is a resolved Filter: SQL conditions with their arguments.
type plan struct {
	none   bool
	lo, hi int64 // ms range [lo, hi)
	where  []string
	args   []any
	keyed  bool // has an email, IP or principal condition
	// match is the filter on the counts of the tally rollup (for unkeyed
	// filters): it says whether events of a code, portal and extra count.
	match []func(code int64, portal, xtra int32) bool
}

func (p *plan) matches(code int64, portal, xtra int32) bool {
	for _, m := range p.match {
		if !m(code, portal, xtra) {
			return false
		}
	}
	return true
}

func (p *plan) arg(v any) string {
	p.args = append(p.args, v)
	return "$" + strconv.Itoa(len(p.args))
}

func (p *plan) cond(extra ...string) string {
	return strings.Join(append(slices.Clone(p.where), extra...), " AND ")
}

const (
	minMs = -(1 << 49)
	maxMs = 1 << 49
)

func msOf(t time.Time, def int64) int64 {
	if t.IsZero() {
		return def
	}
	return max(min(t.UnixMilli(), maxMs), minMs)
}

func (s *Store) plan(ctx context.Context, q querier, f logstore.Filter) (*plan, error) {
	p := &plan{lo: msOf(f.From, minMs), hi: msOf(f.To, maxMs)}
	if p.hi <= p.lo {
		p.none = true
		return p, nil
	}
	p.where = append(p.where, "ts >= "+p.arg(p.lo), "ts < "+p.arg(p.hi))
	if f.Email != "" {
		ids, err := lookupFold(ctx, q, f.Email)
		if err != nil {
			return nil, err
		}
		p.none = p.none || len(ids) == 0
		p.where = append(p.where, "em = ANY("+p.arg(ids)+")")
		p.keyed = true
	}
	if f.Principal != "" {
		id, err := lookup(ctx, q, f.Principal)
		if err != nil {
			return nil, err
		}
		p.none = p.none || id == 0
		p.where = append(p.where, "pr = "+p.arg(id))
		p.keyed = true
	}
	if f.IP != "" {
		ip, err := lookupIP(ctx, q, f.IP)
		if err != nil {
			return nil, err
		}
		p.none = p.none || ip == 0
		if v, x := ipColumns(ip); x == 0 {
			p.where = append(p.where, "ip = "+p.arg(v))
		} else {
			p.where = append(p.where, "ipx = "+p.arg(x))
		}
		p.keyed = true
	}
	if f.PortalID != "" {
		id, err := lookup(ctx, q, f.PortalID)
		if err != nil {
			return nil, err
		}
		p.none = p.none || id == 0
		p.where = append(p.where, "cx IN (SELECT id FROM ctx WHERE portal = "+p.arg(id)+")")
		p.match = append(p.match, func(_ int64, portal, _ int32) bool { return portal == id })
	}
	// code adds the condition (code >> shift) & mask = v.
	code := func(shift, mask, v int64) {
		p.none = p.none || v < 0
		p.where = append(p.where, "((code >> "+strconv.FormatInt(shift, 10)+") & "+strconv.FormatInt(mask, 10)+") = "+p.arg(v))
		p.match = append(p.match, func(c int64, _, _ int32) bool { return c>>shift&mask == v })
	}
	switch f.Status {
	case "":
	case logstore.StatusSuccess:
		code(0, codec.TypeMask, codec.SuccessCode)
	case logstore.StatusFailure:
		code(0, codec.TypeMask, codec.FailureCode)
	default:
		p.none = true
	}
	if len(f.EventTypes) > 0 {
		// Known types by their code; the others by their extra strings.
		var known []int64
		var other []string
		for _, t := range f.EventTypes {
			switch c := codec.TypeCode(t); {
			case c > 0:
				known = append(known, c)
			case c < 0:
				other = append(other, string(t))
			}
		}
		var extra []int32
		if len(other) > 0 {
			rows, err := q.Query(ctx, `SELECT id FROM xtype WHERE t = ANY($1)`, other)
			if err != nil {
				return nil, fmt.Errorf("look up event type: %w", err)
			}
			if extra, err = pgx.CollectRows(rows, pgx.RowTo[int32]); err != nil {
				return nil, fmt.Errorf("look up event type: %w", err)
			}
		}
		p.none = p.none || len(known)+len(extra) == 0
		p.where = append(p.where, "((code & 7) = ANY("+p.arg(known)+"::int[]) OR xtra = ANY("+p.arg(extra)+"::int[]))")
		p.match = append(p.match, func(c int64, _, x int32) bool {
			return slices.Contains(known, c&codec.TypeMask) || slices.Contains(extra, x)
		})
	}
	// The location and device filters are not in the tally rollup: their
	// totals are counted from the events, as keyed ones are.
	if f.Country != "" {
		p.where = append(p.where, "cc = "+p.arg(strings.ToUpper(f.Country)))
		p.keyed = true
	}
	if f.ASN != 0 {
		p.where = append(p.where, "asn = "+p.arg(f.ASN))
		p.keyed = true
	}
	if f.DeviceType != "" {
		p.where = append(p.where, "dev = "+p.arg(f.DeviceType))
		p.keyed = true
	}
	if f.Source != "" {
		code(codec.SourceShift, 3, codec.SourceCode(f.Source))
	}
	if f.Reason != "" {
		code(codec.ReasonShift, codec.ReasonMask, codec.ReasonCode(f.Reason))
	}
	// wouldRefuse and the breached password are in flags (NULL: neither).
	switch f.WouldRefuse {
	case "":
	case logstore.AnyReason:
		p.where = append(p.where, "(flags & 31) <> 0")
		p.match = append(p.match, func(c int64, _, _ int32) bool { return codec.HasWouldRefuse(c) })
	default:
		v := codec.ReasonCode(f.WouldRefuse)
		p.none = p.none || v < 0
		p.where = append(p.where, "(flags & 31) = "+p.arg(v))
		p.match = append(p.match, func(c int64, _, _ int32) bool { return c>>codec.WouldShift&codec.ReasonMask == v })
	}
	if f.Breached {
		p.where = append(p.where, "(flags & 32) <> 0")
		p.match = append(p.match, func(c int64, _, _ int32) bool { return codec.Breached(c) })
	}
	return p, nil
}

// Query returns one page of matching events and their total.
func (s *Store) Query(ctx context.Context, f logstore.Filter, pg logstore.Page) (logstore.PageResult, error) {
	res := logstore.PageResult{Content: []event.Event{}}
	if pg.Size <= 0 {
		pg.Size = logstore.DefaultPageSize
	}
	pg.Number = max(pg.Number, 0)
	tx, err := s.db.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return res, fmt.Errorf("query postgres log store: %w", err)
	}
	defer tx.Rollback(ctx)
	p, err := s.plan(ctx, tx, f)
	if err != nil || p.none {
		return res, wrap("query postgres log store", err)
	}
	if res.TotalElements, err = s.count(ctx, tx, p); err != nil {
		return res, fmt.Errorf("count postgres log store: %w", err)
	}
	dir := "DESC"
	if pg.Asc {
		dir = "ASC"
	}
	q := `SELECT ` + eventCols + ` FROM events WHERE ` + p.cond() + ` ORDER BY ts ` + dir + `, r ` + dir +
		` LIMIT ` + p.arg(pg.Size) + ` OFFSET ` + p.arg(int64(pg.Number)*int64(pg.Size))
	res.Content, err = s.events(ctx, tx, q, p.args...)
	return res, wrap("query postgres log store", err)
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// count counts matches: by index for keyed filters, else whole hours from the
// tally rollup and partial hours from the events.
func (s *Store) count(ctx context.Context, q querier, p *plan) (int64, error) {
	var n int64
	hLo, hHi := codec.FloorDiv(p.lo+hourMs-1, hourMs), codec.FloorDiv(p.hi, hourMs)
	if p.keyed || hHi <= hLo {
		err := q.QueryRow(ctx, `SELECT count(*) FROM events WHERE `+p.cond(), p.args...).Scan(&n)
		return n, err
	}
	if err := eachTally(ctx, q, hLo, hHi, false, func(_ int64, t *tallyRow) error {
		return unpackEventCounts(t.counts, func(code int64, portal, xtra int32, c int64) {
			if p.matches(code, portal, xtra) {
				n += c
			}
		})
	}); err != nil {
		return 0, err
	}
	// The plan's first two arguments are its ts bounds.
	ep := &plan{args: slices.Clone(p.args)}
	ep.where = append([]string{"((ts >= $1 AND ts < " + ep.arg(hLo*hourMs) + ") OR (ts >= " + ep.arg(hHi*hourMs) + " AND ts < $2))"}, p.where[2:]...)
	var raw int64
	if err := q.QueryRow(ctx, `SELECT count(*) FROM events WHERE `+ep.cond(), ep.args...).Scan(&raw); err != nil {
		return 0, err
	}
	return n + raw, nil
}

var eventCols = `ts, r, ` + ipKeyExpr + `, ia, pr, em, prof, cx, xtra, code, fc, trace, tracet, xid, seq, cc, asn, dev, g, more, flags`

// codeExpr is an event's whole code (codec.Code) from its code and flags
// columns.
const codeExpr = `(code::int | (coalesce(flags, 0)::int << 10))`

type row struct {
	ts, r                      int64
	ip, seq                    *int64
	ia, pr, em, prof, cx, xtra *int32
	code, fc                   int16
	flags                      *int16
	trace                      []byte
	tracet, xid                *string
	cc, dev                    *string
	asn                        *int64
	geo                        []byte
	more                       *int32
}

func (s *Store) rows(ctx context.Context, q querier, query string, args ...any) ([]row, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.ts, &r.r, &r.ip, &r.ia, &r.pr, &r.em, &r.prof, &r.cx, &r.xtra, &r.code, &r.fc,
			&r.trace, &r.tracet, &r.xid, &r.seq, &r.cc, &r.asn, &r.dev, &r.geo, &r.more, &r.flags); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Store) events(ctx context.Context, q querier, query string, args ...any) ([]event.Event, error) {
	rs, err := s.rows(ctx, q, query, args...)
	if err != nil {
		return nil, err
	}
	return s.decode(ctx, q, rs)
}

func i64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func iv(p *int32) int64 {
	if p == nil {
		return 0
	}
	return int64(*p)
}

func (s *Store) decode(ctx context.Context, q querier, rs []row) ([]event.Event, error) {
	out := make([]event.Event, 0, len(rs))
	if len(rs) == 0 {
		return out, nil
	}
	var cids []int32
	for _, r := range rs {
		if r.cx != nil {
			cids = append(cids, *r.cx)
		}
	}
	cxs, err := s.ctxs(ctx, q, cids)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, 8*len(rs))
	for _, r := range rs {
		for _, p := range []*int32{r.pr, r.em, r.prof, r.xtra} {
			if p != nil {
				ids = append(ids, int64(*p))
			}
		}
		if r.ip != nil {
			ids = append(ids, *r.ip)
		}
		if r.cx != nil {
			for _, id := range cxs[*r.cx] {
				ids = append(ids, int64(id))
			}
		}
	}
	nm, err := s.strs(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	ptr := func(id int64) *string {
		if v, ok := nm[id]; ok {
			return &v
		}
		return nil
	}
	for _, r := range rs {
		var k cxKey
		if r.cx != nil {
			k = cxs[*r.cx]
		}
		prof := parseProfile(nm[iv(r.prof)])
		e := event.Event{EventDate: time.UnixMilli(r.ts).UTC(), Seq: i64(r.seq),
			Principal: ptr(iv(r.pr)), Email: ptr(iv(r.em)), DisplayName: event.Str(prof.disp), AccountID: event.Str(prof.acct),
			ErrorType: ptr(int64(k[cxET])), PortalID: ptr(int64(k[cxPortal])), FailureCount: int(r.fc),
			UserAgent: nm[int64(k[cxUA])], Host: nm[int64(k[cxHost])], Path: nm[int64(k[cxPath])]}
		if r.more != nil && *r.more > 0 {
			e.Count = int(1 + *r.more)
		}
		switch {
		case r.xid != nil:
			e.ID = *r.xid
		case r.ia != nil:
			e.ID = joinID(r.ts, r.r, *r.ia)
		}
		if r.ip != nil {
			e.RemoteAddress = nm[*r.ip]
		}
		if r.trace != nil {
			e.TraceID = hex.EncodeToString(r.trace)
		} else if r.tracet != nil {
			e.TraceID = *r.tracet
		}
		code := int64(r.code)
		if r.flags != nil {
			code |= int64(*r.flags) << codec.WouldShift
		}
		codec.Decode(&e, code, nm[iv(r.xtra)])
		if r.cc != nil {
			e.Country = *r.cc
		}
		if r.dev != nil {
			e.DeviceType = *r.dev
		}
		e.ASN = i64(r.asn)
		if r.geo != nil {
			if err := codec.ReadGeoRest(r.geo, &e); err != nil {
				return nil, err
			}
		}
		if t, ok := nm[int64(k[cxMsg])]; ok {
			m := codec.Expand(t, e.Identity(), e.FailureCount)
			e.Message = &m
		}
		out = append(out, e)
	}
	return out, nil
}

// Get returns the event with the given id: a UUIDv7 by the primary key near
// its own millisecond, any other id by the xid index.
func (s *Store) Get(ctx context.Context, id string) (event.Event, bool, error) {
	var evs []event.Event
	var err error
	if seq, ok := logstore.ParseSeq(id); ok {
		evs, err = s.events(ctx, s.db, `SELECT `+eventCols+` FROM events WHERE seq = $1`, seq)
		if err != nil {
			return event.Event{}, false, fmt.Errorf("get from postgres log store: %w", err)
		}
		if len(evs) == 0 {
			return event.Event{}, false, nil
		}
		return evs[0], true, nil
	}
	if u, ok := parseUUID(id); ok && u[6]>>4 == 7 {
		ms, r := uuidMs(&u), int64(binary.BigEndian.Uint64(u[8:]))
		evs, err = s.events(ctx, s.db, `SELECT `+eventCols+` FROM events WHERE ts >= $1 AND ts <= $2 AND r = $3 AND xid IS NULL`, ms-maxIDDelta, ms+maxIDDelta, r)
	}
	if err == nil && len(evs) == 0 {
		evs, err = s.events(ctx, s.db, `SELECT `+eventCols+` FROM events WHERE xid = $1`, id)
	}
	if err != nil {
		return event.Event{}, false, fmt.Errorf("get from postgres log store: %w", err)
	}
	for _, e := range evs {
		if e.ID == id {
			return e, true, nil
		}
	}
	return event.Event{}, false, nil
}

const eachChunk = 1000

// Each calls fn for every matching event in date order, a keyset page at a time.
func (s *Store) Each(ctx context.Context, f logstore.Filter, asc bool, fn func(event.Event) error) error {
	p, err := s.plan(ctx, s.db, f)
	if err != nil || p.none {
		return wrap("export postgres log store", err)
	}
	return wrap("export postgres log store", s.walk(ctx, p, asc, fn))
}

func (s *Store) walk(ctx context.Context, p *plan, asc bool, fn func(event.Event) error) error {
	dir, cmpOp := "ASC", ">"
	if !asc {
		dir, cmpOp = "DESC", "<"
	}
	var lastTs, lastR int64
	for first := true; ; first = false {
		q := &plan{where: slices.Clone(p.where), args: slices.Clone(p.args)}
		if !first {
			q.where = append(q.where, "(ts, r) "+cmpOp+" ("+q.arg(lastTs)+"::bigint, "+q.arg(lastR)+"::bigint)")
		}
		rs, err := s.rows(ctx, s.db, `SELECT `+eventCols+` FROM events WHERE `+q.cond()+` ORDER BY ts `+dir+`, r `+dir+` LIMIT `+q.arg(eachChunk), q.args...)
		if err != nil {
			return err
		}
		evs, err := s.decode(ctx, s.db, rs)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(rs) < eachChunk {
			return nil
		}
		lastTs, lastR = rs[len(rs)-1].ts, rs[len(rs)-1].r
	}
}

// identity returns the condition matching an identity as principal or email.
func (s *Store) identity(ctx context.Context, q querier, identity string) (*plan, bool, error) {
	pr, err := lookup(ctx, q, identity)
	if err != nil {
		return nil, false, err
	}
	em, err := lookupFold(ctx, q, identity)
	if err != nil {
		return nil, false, err
	}
	p := &plan{}
	p.where = []string{"(pr = " + p.arg(pr) + " OR em = ANY(" + p.arg(em) + "))"}
	return p, pr != 0 || len(em) > 0, nil
}

// Principal calls fn for every event of identity, oldest first.
func (s *Store) Principal(ctx context.Context, identity string, fn func(event.Event) error) error {
	if identity == "" {
		return nil
	}
	p, ok, err := s.identity(ctx, s.db, identity)
	if err != nil || !ok {
		return wrap("read identity from postgres log store", err)
	}
	return wrap("read identity from postgres log store", s.walk(ctx, p, true, fn))
}

// Stats summarises the login attempts in [from, to): whole hours from the
// tally rollup, the partial hours at either end from the events.
func (s *Store) Stats(ctx context.Context, from, to time.Time, interval logstore.Interval, top int) (logstore.Stats, error) {
	acc := codec.NewStatsAcc(from, to, interval)
	geo := codec.NewGeoAcc()
	lo, hi := msOf(from, minMs), msOf(to, maxMs)
	none := func([]int64) (map[int64]string, error) { return nil, nil }
	if hi <= lo {
		st, err := acc.Result(top, none)
		geo.Result(&st, top)
		return st, err
	}
	tx, err := s.db.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return logstore.Stats{}, fmt.Errorf("stats of postgres log store: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := statRollups(ctx, tx, acc, geo, lo, hi); err != nil {
		return logstore.Stats{}, fmt.Errorf("stats of postgres log store: %w", err)
	}
	st, err := acc.Result(top, func(ids []int64) (map[int64]string, error) { return s.strs(ctx, tx, ids) })
	geo.Result(&st, top)
	return st, wrap("stats of postgres log store", err)
}

// statRollups adds [lo, hi) to acc and geo: whole hours from the tally
// rollup, the partial hours at either end from the events, and the location
// and device counts of hours whose tally rows predate them from the events.
func statRollups(ctx context.Context, q querier, acc *codec.StatsAcc, geo *codec.GeoAcc, lo, hi int64) error {
	hLo, hHi := codec.FloorDiv(lo+hourMs-1, hourMs), codec.FloorDiv(hi, hourMs)
	raw := func(counts bool, query string, args ...any) error {
		rows, err := q.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ts, asn, n int64
			var code int32
			var ident *int32
			var ip *int64
			var cc, dev string
			var g []byte
			if err := rows.Scan(&ts, &code, &ident, &ip, &cc, &asn, &dev, &g, &n); err != nil {
				return err
			}
			var org string
			if g != nil {
				var e event.Event
				if err := codec.ReadGeoRest(g, &e); err != nil {
					return err
				}
				org = e.ASOrg
			}
			geo.AddEvent(int64(code), cc, asn, org, dev, n)
			if !counts {
				continue
			}
			acc.AddCount(ts, int64(code), 1, n)
			var ipv int64
			if ip != nil {
				ipv = *ip
			}
			acc.AddKeyed(int64(code), iv(ident), ipv, n)
		}
		return rows.Err()
	}
	cols := `SELECT ts, ` + codeExpr + `, coalesce(pr, em), ` + ipKeyExpr + `, coalesce(cc, ''), coalesce(asn, 0), coalesce(dev, ''),
  CASE WHEN asn IS NOT NULL AND (code & 7) = 2 THEN g END, 1 + coalesce(more, 0) FROM events WHERE `
	if hHi <= hLo {
		return raw(true, cols+`ts >= $1 AND ts < $2 AND (code & 7) IN (1, 2)`, lo, hi)
	}
	// The hours with a tally row older than the geo counts: theirs are all
	// read from the events.
	rows, err := q.Query(ctx, `SELECT DISTINCT h FROM tally WHERE h >= $1 AND h < $2 AND geo IS NULL ORDER BY h`, hLo, hHi)
	if err != nil {
		return err
	}
	old, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	if err := eachTally(ctx, q, hLo, hHi, true, func(h int64, t *tallyRow) error {
		if err := unpackEventCounts(t.counts, func(code int64, _, _ int32, n int64) { acc.AddCount(h*hourMs, code, n, n) }); err != nil {
			return err
		}
		if err := unpackEventCounts(t.more, func(code int64, _, _ int32, n int64) { acc.AddCount(h*hourMs, code, 0, n) }); err != nil {
			return err
		}
		if err := codec.AddCounts(t.users, codec.VarintDelta, acc.Users.Add); err != nil {
			return err
		}
		if _, isOld := slices.BinarySearch(old, h); !isOld {
			if err := addGeoCounts(t.geo, geo); err != nil {
				return err
			}
		}
		return codec.AddCounts(t.ips, codec.VarintDelta, acc.IPs.Add)
	}); err != nil {
		return err
	}
	if err := raw(true, cols+`((ts >= $1 AND ts < $2) OR (ts >= $3 AND ts < $4)) AND (code & 7) IN (1, 2)`, lo, hLo*hourMs, hHi*hourMs, hi); err != nil {
		return err
	}
	for i := 0; i < len(old); {
		j := i + 1
		for j < len(old) && old[j] == old[j-1]+1 {
			j++
		}
		if err := raw(false, cols+`ts >= $1 AND ts < $2 AND (code & 7) IN (1, 2) AND (cc IS NOT NULL OR asn IS NOT NULL OR dev IS NOT NULL)`,
			old[i]*hourMs, (old[j-1]+1)*hourMs); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// Suspicious scans the failures since q.Since.
func (s *Store) Suspicious(ctx context.Context, q logstore.SuspiciousQuery) (logstore.Suspicious, error) {
	q = q.WithDefaults(time.Now())
	acc := codec.NewSuspAcc()
	// Planned for its bound every time: a generic plan cannot tell the last
	// hour from the whole table. The upper bound makes the planner estimate
	// the range from the index rather than from statistics the newest rows
	// may not be in yet.
	rows, err := s.db.Query(ctx, `SELECT ts, coalesce(pr, em), `+ipKeyExpr+`, 1 + coalesce(more, 0) FROM events WHERE ts >= $1 AND ts < $2 AND (code & 7) = 2 AND `+codec.ReasonSQL+` IN `+codec.GuessingCodes,
		pgx.QueryExecModeExec, msOf(q.Since, minMs), int64(1)<<62)
	if err != nil {
		return logstore.Suspicious{}, fmt.Errorf("suspicious activity in postgres log store: %w", err)
	}
	for rows.Next() {
		var ts, n int64
		var ident *int32
		var ip *int64
		if err := rows.Scan(&ts, &ident, &ip, &n); err != nil {
			rows.Close()
			return logstore.Suspicious{}, fmt.Errorf("suspicious activity in postgres log store: %w", err)
		}
		var ipv int64
		if ip != nil {
			ipv = *ip
		}
		acc.Add(ts, iv(ident), ipv, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return logstore.Suspicious{}, fmt.Errorf("suspicious activity in postgres log store: %w", err)
	}
	res, err := acc.Result(q, func(ids []int64) (map[int64]string, error) { return s.strs(ctx, s.db, ids) })
	return res, wrap("suspicious activity in postgres log store", err)
}

var errPseudonymInUse = errors.New("pseudonym is already in use")
