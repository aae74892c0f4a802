package postgres

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
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
	for _, c := range []struct{ col, v string }{{"pr", f.Principal}, {"ip", f.IP}, {"portal", f.PortalID}} {
		if c.v == "" {
			continue
		}
		id, err := lookup(ctx, q, c.v)
		if err != nil {
			return nil, err
		}
		p.none = p.none || id == 0
		p.where = append(p.where, c.col+" = "+p.arg(id))
		p.keyed = p.keyed || c.col != "portal"
	}
	code := func(expr string, v int64) {
		p.none = p.none || v < 0
		p.where = append(p.where, expr+" = "+p.arg(v))
	}
	switch f.Status {
	case "":
	case logstore.StatusSuccess:
		code("(code & 7)", codec.SuccessCode)
	case logstore.StatusFailure:
		code("(code & 7)", codec.FailureCode)
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
	}
	if f.Source != "" {
		code("((code >> 3) & 3)", codec.SourceCode(f.Source))
	}
	if f.Reason != "" {
		code("((code >> 5) & 15)", codec.ReasonCode(f.Reason))
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
	q := `SELECT ` + eventCols + ` FROM events WHERE ` + p.cond() + ` ORDER BY ts ` + dir + `, uid ` + dir +
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
// hourly rollup and partial hours from the events.
func (s *Store) count(ctx context.Context, q querier, p *plan) (int64, error) {
	var n int64
	hLo, hHi := floorDiv(p.lo+hourMs-1, hourMs), floorDiv(p.hi, hourMs)
	if p.keyed || hHi <= hLo {
		err := q.QueryRow(ctx, `SELECT count(*) FROM events WHERE `+p.cond(), p.args...).Scan(&n)
		return n, err
	}
	// The plan's first two arguments are its ts bounds; the hourly table has
	// hours instead, and the partial hours need two more bounds.
	hargs := slices.Clone(p.args)
	hargs[0], hargs[1] = hLo, hHi
	rest := p.where[2:]
	var sum *int64
	if err := q.QueryRow(ctx, `SELECT sum(n)::bigint FROM hourly WHERE `+strings.Join(append([]string{"h >= $1", "h < $2"}, rest...), " AND "), hargs...).Scan(&sum); err != nil {
		return 0, err
	}
	ep := &plan{args: slices.Clone(p.args)}
	ep.where = append([]string{"((ts >= $1 AND ts < " + ep.arg(hLo*hourMs) + ") OR (ts >= " + ep.arg(hHi*hourMs) + " AND ts < $2))"}, rest...)
	if err := q.QueryRow(ctx, `SELECT count(*) FROM events WHERE `+ep.cond(), ep.args...).Scan(&n); err != nil {
		return 0, err
	}
	if sum != nil {
		n += *sum
	}
	return n, nil
}

const eventCols = `ts, uid, xid, code, pr, em, disp, ip, msg, et, portal, acct, fc, ua, host, path, trace, tracet, xtra`

type row struct {
	ts                                                            int64
	uid                                                           uuid.UUID
	xid, tracet                                                   *string
	code, fc                                                      int16
	pr, em, disp, ip, msg, et, portal, acct, ua, host, path, xtra *int32
	trace                                                         []byte
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
		if err := rows.Scan(&r.ts, &r.uid, &r.xid, &r.code, &r.pr, &r.em, &r.disp, &r.ip, &r.msg, &r.et, &r.portal, &r.acct, &r.fc,
			&r.ua, &r.host, &r.path, &r.trace, &r.tracet, &r.xtra); err != nil {
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
	var ids []int64
	for _, r := range rs {
		for _, p := range []*int32{r.pr, r.em, r.disp, r.ip, r.msg, r.et, r.portal, r.acct, r.ua, r.host, r.path, r.xtra} {
			if p != nil {
				ids = append(ids, int64(*p))
			}
		}
	}
	nm, err := s.strs(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	ptr := func(p *int32) *string {
		if v, ok := nm[iv(p)]; ok {
			return &v
		}
		return nil
	}
	for _, r := range rs {
		e := event.Event{ID: r.uid.String(), EventDate: time.UnixMilli(r.ts).UTC(),
			Principal: ptr(r.pr), Email: ptr(r.em), DisplayName: ptr(r.disp), RemoteAddress: nm[iv(r.ip)],
			ErrorType: ptr(r.et), PortalID: ptr(r.portal), AccountID: ptr(r.acct), FailureCount: int(r.fc),
			UserAgent: nm[iv(r.ua)], Host: nm[iv(r.host)], Path: nm[iv(r.path)]}
		if r.xid != nil {
			e.ID = *r.xid
		}
		if r.trace != nil {
			e.TraceID = hex.EncodeToString(r.trace)
		} else if r.tracet != nil {
			e.TraceID = *r.tracet
		}
		codec.Decode(&e, int64(r.code), nm[iv(r.xtra)])
		if t, ok := nm[iv(r.msg)]; ok {
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
	if _, ms, ok := codec.ShortCandidate(id); ok {
		evs, err = s.events(ctx, s.db, `SELECT `+eventCols+` FROM events WHERE ts >= $1 AND ts <= $2 AND uid = $3 AND xid IS NULL`, ms-maxIDDelta, ms+maxIDDelta, id)
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
	var lastTs int64
	var lastUID string
	for first := true; ; first = false {
		q := &plan{where: slices.Clone(p.where), args: slices.Clone(p.args)}
		if !first {
			q.where = append(q.where, "(ts, uid) "+cmpOp+" ("+q.arg(lastTs)+"::bigint, "+q.arg(lastUID)+"::uuid)")
		}
		rs, err := s.rows(ctx, s.db, `SELECT `+eventCols+` FROM events WHERE `+q.cond()+` ORDER BY ts `+dir+`, uid `+dir+` LIMIT `+q.arg(eachChunk), q.args...)
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
		lastTs, lastUID = rs[len(rs)-1].ts, rs[len(rs)-1].uid.String()
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

// Stats summarises the login attempts in [from, to).
func (s *Store) Stats(ctx context.Context, from, to time.Time, interval logstore.Interval, top int) (logstore.Stats, error) {
	acc := codec.NewStatsAcc(from, to, interval)
	lo, hi := msOf(from, minMs), msOf(to, maxMs)
	none := func([]int64) (map[int64]string, error) { return nil, nil }
	if hi <= lo {
		return acc.Result(top, none)
	}
	tx, err := s.db.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return logstore.Stats{}, fmt.Errorf("stats of postgres log store: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := statCounts(ctx, tx, acc, lo, hi); err != nil {
		return logstore.Stats{}, fmt.Errorf("stats of postgres log store: %w", err)
	}
	dLo, dHi := floorDiv(lo+dayMs-1, dayMs), floorDiv(hi, dayMs)
	if dHi < dLo {
		dLo, dHi = 0, 0
	}
	limit := max(top, 0) + 16
	for _, t := range []struct {
		m           *codec.Counter
		table, col  string
		raw, filter string
	}{
		{acc.Users, "user_day", "ident", "coalesce(pr, em)", "(code & 7) IN (1, 2)"},
		{acc.IPs, "ip_day", "ip", "ip", "(code & 7) = 2"},
	} {
		q := `SELECT k, sum(n)::bigint FROM (
  SELECT ` + t.col + ` AS k, n FROM ` + t.table + ` WHERE day >= $1 AND day < $2
  UNION ALL
  SELECT ` + t.raw + `, 1 FROM events WHERE ` + t.filter + ` AND ` + t.raw + ` IS NOT NULL AND
    ((ts >= $3 AND ts < $4) OR (ts >= $5 AND ts < $6))
) x GROUP BY k ORDER BY 2 DESC, 1 LIMIT $7`
		a, b, c, d := lo, dLo*dayMs, dHi*dayMs, hi
		if dLo == dHi {
			b, c = hi, hi
		}
		rows, err := tx.Query(ctx, q, dLo, dHi, a, b, c, d, limit)
		if err != nil {
			return logstore.Stats{}, fmt.Errorf("stats of postgres log store: %w", err)
		}
		for rows.Next() {
			var k int32
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return logstore.Stats{}, fmt.Errorf("stats of postgres log store: %w", err)
			}
			t.m.Add(int64(k), n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return logstore.Stats{}, fmt.Errorf("stats of postgres log store: %w", err)
		}
	}
	st, err := acc.Result(top, func(ids []int64) (map[int64]string, error) { return s.strs(ctx, tx, ids) })
	return st, wrap("stats of postgres log store", err)
}

func statCounts(ctx context.Context, q querier, acc *codec.StatsAcc, lo, hi int64) error {
	hLo, hHi := floorDiv(lo+hourMs-1, hourMs), floorDiv(hi, hourMs)
	raw := func(query string, args ...any) error {
		rows, err := q.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ts int64
			var code int16
			if err := rows.Scan(&ts, &code); err != nil {
				return err
			}
			acc.AddCount(ts, int64(code), 1)
		}
		return rows.Err()
	}
	if hHi <= hLo {
		return raw(`SELECT ts, code FROM events WHERE ts >= $1 AND ts < $2 AND (code & 7) IN (1, 2)`, lo, hi)
	}
	rows, err := q.Query(ctx, `SELECT h, code, sum(n)::bigint FROM hourly WHERE h >= $1 AND h < $2 AND (code & 7) IN (1, 2) GROUP BY h, code`, hLo, hHi)
	if err != nil {
		return err
	}
	for rows.Next() {
		var h int32
		var code int16
		var n int64
		if err := rows.Scan(&h, &code, &n); err != nil {
			rows.Close()
			return err
		}
		acc.AddCount(int64(h)*hourMs, int64(code), n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return raw(`SELECT ts, code FROM events WHERE ((ts >= $1 AND ts < $2) OR (ts >= $3 AND ts < $4)) AND (code & 7) IN (1, 2)`, lo, hLo*hourMs, hHi*hourMs, hi)
}

// Suspicious scans the failures since q.Since.
func (s *Store) Suspicious(ctx context.Context, q logstore.SuspiciousQuery) (logstore.Suspicious, error) {
	q = q.WithDefaults(time.Now())
	acc := codec.NewSuspAcc()
	rows, err := s.db.Query(ctx, `SELECT ts, coalesce(pr, em), ip FROM events WHERE ts >= $1 AND (code & 7) = 2`, msOf(q.Since, minMs))
	if err != nil {
		return logstore.Suspicious{}, fmt.Errorf("suspicious activity in postgres log store: %w", err)
	}
	for rows.Next() {
		var ts int64
		var ident, ip *int32
		if err := rows.Scan(&ts, &ident, &ip); err != nil {
			rows.Close()
			return logstore.Suspicious{}, fmt.Errorf("suspicious activity in postgres log store: %w", err)
		}
		acc.Add(ts, iv(ident), iv(ip))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return logstore.Suspicious{}, fmt.Errorf("suspicious activity in postgres log store: %w", err)
	}
	res, err := acc.Result(q, func(ids []int64) (map[int64]string, error) { return s.strs(ctx, s.db, ids) })
	return res, wrap("suspicious activity in postgres log store", err)
}

// Users lists identities by last activity.
func (s *Store) Users(ctx context.Context, f logstore.UsersFilter) ([]logstore.UserSummary, int64, error) {
	if f.Size <= 0 {
		f.Size = logstore.DefaultPageSize
	}
	f.Number = max(f.Number, 0)
	out := []logstore.UserSummary{}
	where, args := "", []any{}
	if f.Search != "" {
		where = ` JOIN dict d ON d.id = u.id WHERE strpos(coalesce(d.fold, d.s), $1) > 0`
		args = append(args, strings.ToLower(f.Search))
	}
	var total int64
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM users u`+where, args...).Scan(&total); err != nil {
		return out, 0, fmt.Errorf("list users of postgres log store: %w", err)
	}
	n := len(args)
	rows, err := s.db.Query(ctx, `SELECT u.`+strings.ReplaceAll(userCols, ", ", ", u.")+` FROM users u`+where+
		` ORDER BY u.seen DESC NULLS LAST, u.id LIMIT $`+strconv.Itoa(n+1)+` OFFSET $`+strconv.Itoa(n+2), append(args, f.Size, f.Number*f.Size)...)
	if err != nil {
		return out, 0, fmt.Errorf("list users of postgres log store: %w", err)
	}
	var us []*codec.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return out, 0, fmt.Errorf("list users of postgres log store: %w", err)
		}
		us = append(us, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, 0, fmt.Errorf("list users of postgres log store: %w", err)
	}
	var ids []int64
	for _, u := range us {
		ids = append(ids, u.ID, u.IP, u.Disp)
	}
	nm, err := s.strs(ctx, s.db, ids)
	if err != nil {
		return out, 0, fmt.Errorf("list users of postgres log store: %w", err)
	}
	for _, u := range us {
		out = append(out, u.Summary(nm[u.ID], nm[u.IP], nm[u.Disp]))
	}
	slices.SortStableFunc(out, func(a, b logstore.UserSummary) int {
		return cmp.Compare(b.LastSeen.UnixMilli(), a.LastSeen.UnixMilli())
	})
	return out, total, nil
}

var errPseudonymInUse = errors.New("pseudonym is already in use")
