package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// term is one keyed condition: the event matches when its column of some
// kind holds one of the ids (a union over kinds).
type term map[int64][]int64

// plan is a resolved Filter. Its conditions name only columns that events,
// hourly and daily share (code, portal, xtra), so totals can come from the
// rollups.
type plan struct {
	none   bool  // matches nothing
	lo, hi int64 // key range
	terms  []term
	where  []string // conditions on code and portal (columns of events and hourly)
	args   []any
	// evWhere are conditions on columns of events only (country, ASN, device
	// type): with them, totals are counted from the events, not the rollups.
	evWhere []string
	evArgs  []any
}

var kindCol = map[int64]string{kindPrincipal: "pr", kindEmail: "em", kindIP: "ip"}

func (s *Store) plan(ctx context.Context, q querier, f logstore.Filter, dmark int64) (*plan, error) {
	p := &plan{lo: codec.KeyOf(f.From), hi: codec.KeyEnd(f.To)}
	if p.hi <= p.lo {
		p.none = true
		return p, nil
	}
	if v := f.Email; v != "" {
		ids, err := s.lookupFold(ctx, q, v, dmark)
		if err != nil {
			return nil, err
		}
		p.terms = append(p.terms, term{kindEmail: ids})
	}
	for _, c := range []struct {
		kind int64
		v    string
	}{{kindPrincipal, f.Principal}, {kindIP, f.IP}} {
		if c.v == "" {
			continue
		}
		look := s.lookup
		if c.kind == kindIP {
			look = s.lookupIP
		}
		id, err := look(ctx, q, c.v, dmark)
		if err != nil {
			return nil, err
		}
		p.terms = append(p.terms, term{c.kind: {id}})
	}
	for _, t := range p.terms {
		n := 0
		for _, ids := range t {
			for _, id := range ids {
				if id != 0 {
					n++
				}
			}
		}
		if n == 0 {
			p.none = true
		}
	}
	code := func(expr string, v int64) {
		if v < 0 {
			p.none = true
		}
		p.where = append(p.where, expr+" = ?")
		p.args = append(p.args, v)
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
		var known, extra []any
		for _, t := range f.EventTypes {
			switch c := codec.TypeCode(t); {
			case c > 0:
				known = append(known, c)
			case c < 0:
				lo, hi := codec.ExtraRange(t)
				ids, err := s.dictRange(ctx, q, lo, hi, dmark)
				if err != nil {
					return nil, fmt.Errorf("look up event type: %w", err)
				}
				for _, id := range ids {
					extra = append(extra, id)
				}
			}
		}
		var or []string
		if len(known) > 0 {
			or = append(or, "(code & 7) IN ("+marks(len(known))+")")
			p.args = append(p.args, known...)
		}
		if len(extra) > 0 {
			or = append(or, "xtra IN ("+marks(len(extra))+")")
			p.args = append(p.args, extra...)
		}
		if len(or) == 0 {
			p.none = true
		} else {
			p.where = append(p.where, "("+strings.Join(or, " OR ")+")")
		}
	}
	if f.Source != "" {
		code("((code >> 3) & 3)", codec.SourceCode(f.Source))
	}
	if f.Reason != "" {
		code(codec.ReasonSQL, codec.ReasonCode(f.Reason))
	}
	switch f.WouldRefuse {
	case "":
	case logstore.AnyReason:
		p.where = append(p.where, codec.WouldSQL+" != 0")
	default:
		code(codec.WouldSQL, codec.ReasonCode(f.WouldRefuse))
	}
	if f.Breached {
		p.where = append(p.where, codec.BreachedSQL+" != 0")
	}
	for _, c := range []struct{ col, v string }{{"cc", strings.ToUpper(f.Country)}, {"dev", f.DeviceType}} {
		if c.v == "" {
			continue
		}
		id, err := s.lookup(ctx, q, c.v, dmark)
		if err != nil {
			return nil, err
		}
		if id == 0 {
			p.none = true
		}
		p.evWhere = append(p.evWhere, c.col+" = ?")
		p.evArgs = append(p.evArgs, id)
	}
	if f.ASN != 0 {
		p.evWhere = append(p.evWhere, "asn = ?")
		p.evArgs = append(p.evArgs, f.ASN)
	}
	if f.PortalID != "" {
		id, err := s.lookup(ctx, q, f.PortalID, dmark)
		if err != nil {
			return nil, err
		}
		if id == 0 {
			p.none = true
		}
		p.where = append(p.where, "portal = ?")
		p.args = append(p.args, id)
	}
	return p, nil
}

// cond returns p's conditions on the columns events and the rollups share.
func (p *plan) cond() string {
	if len(p.where) == 0 {
		return ""
	}
	return " AND " + strings.Join(p.where, " AND ")
}

// evCond returns all of p's conditions on an events row, and allArgs their
// arguments.
func (p *plan) evCond() string {
	if len(p.where)+len(p.evWhere) == 0 {
		return ""
	}
	return " AND " + strings.Join(append(slices.Clip(p.where), p.evWhere...), " AND ")
}

func (p *plan) allArgs() []any { return append(slices.Clip(p.args), p.evArgs...) }

// keys returns the keys in [lo, hi) matching p's terms (sorted), from the
// postings of sealed segments, late rows and the unsealed tail.
func (s *Store) keys(ctx context.Context, q querier, p *plan, lo, hi, mark, live int64) ([]int64, error) {
	lo = max(lo, live)
	var out []int64
	for i, t := range p.terms {
		var got []int64
		for kind, ids := range t {
			for _, id := range ids {
				if id == 0 {
					continue
				}
				l, err := s.termKeys(ctx, q, kind, id, lo, hi, mark)
				if err != nil {
					return nil, err
				}
				got = append(got, l...)
			}
		}
		slices.Sort(got)
		got = slices.Compact(got)
		if i == 0 {
			out = got
		} else {
			out = intersect(out, got)
		}
	}
	return out, nil
}

func (s *Store) termKeys(ctx context.Context, q querier, kind, id, lo, hi, mark int64) ([]int64, error) {
	var out []int64
	if lo < mark {
		rows, err := q.QueryContext(ctx, `SELECT p.lo, s.nb, p.ks FROM seg s CROSS JOIN post p ON p.lo = s.lo AND p.kind = ?1 AND p.b = (?2 & (s.nb - 1))
WHERE s.lo < ?3 AND s.hi > ?4 ORDER BY s.lo`, kind, id, hi, lo)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var sl, nb int64
			var b []byte
			if err := rows.Scan(&sl, &nb, &b); err != nil {
				rows.Close()
				return nil, err
			}
			ks, err := findPosting(b, id, shiftOf(nb))
			if err == nil {
				err = codec.Keys(ks, sl, func(k int64) {
					if k >= lo && k < hi {
						out = append(out, k)
					}
				})
			}
			if err != nil {
				rows.Close()
				return nil, err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		late, err := intColumn(ctx, q, `SELECT e.k FROM late l CROSS JOIN events e ON e.k = l.k WHERE e.k >= ? AND e.k < ? AND e.`+kindCol[kind]+` = ?`, lo, min(hi, mark), id)
		if err != nil {
			return nil, err
		}
		out = append(out, late...)
	}
	if hi > mark {
		tail, err := intColumn(ctx, q, `SELECT k FROM events WHERE k >= ? AND k < ? AND `+kindCol[kind]+` = ?`, max(lo, mark), hi, id)
		if err != nil {
			return nil, err
		}
		out = append(out, tail...)
	}
	return out, nil
}

func intColumn(ctx context.Context, q querier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func intersect(a, b []int64) []int64 {
	out := a[:0]
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// filterKeys keeps the keys whose rows satisfy p's code/portal conditions.
func filterKeys(ctx context.Context, q querier, p *plan, ks []int64) ([]int64, error) {
	if len(p.where)+len(p.evWhere) == 0 || len(ks) == 0 {
		return ks, nil
	}
	var out []int64
	for len(ks) > 0 {
		n := min(len(ks), 500)
		args := p.allArgs()
		for _, k := range ks[:n] {
			args = append(args, k)
		}
		got, err := intColumn(ctx, q, `SELECT k FROM events WHERE 1`+p.evCond()+` AND k IN (`+marks(n)+`) ORDER BY k`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		ks = ks[n:]
	}
	return out, nil
}

// snapMarks are the watermarks a reader's snapshot must use.
type snapMarks struct{ mark, live, dmark int64 }

// snapshot starts a read transaction and reads the marks it must use.
func (s *Store) snapshot(ctx context.Context) (*sql.Tx, snapMarks, error) {
	m := snapMarks{noMark, noMark, 1}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, m, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT name, v FROM meta`)
	if err != nil {
		tx.Rollback()
		return nil, m, err
	}
	for rows.Next() {
		var n string
		var v int64
		if err := rows.Scan(&n, &v); err != nil {
			rows.Close()
			tx.Rollback()
			return nil, m, err
		}
		switch n {
		case "mark":
			m.mark = v
		case "live":
			m.live = v
		case "dmark":
			m.dmark = v
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		tx.Rollback()
		return nil, m, err
	}
	return tx, m, nil
}

// Query returns one page of matching events and their total.
func (s *Store) Query(ctx context.Context, f logstore.Filter, pg logstore.Page) (logstore.PageResult, error) {
	res := logstore.PageResult{Content: []event.Event{}}
	if pg.Size <= 0 {
		pg.Size = logstore.DefaultPageSize
	}
	pg.Number = max(pg.Number, 0)
	tx, m, err := s.snapshot(ctx)
	if err != nil {
		return res, fmt.Errorf("query sqlite log store: %w", err)
	}
	defer tx.Rollback()
	p, err := s.plan(ctx, tx, f, m.dmark)
	if err != nil || p.none {
		return res, wrap("query sqlite log store", err)
	}
	off := int64(pg.Number) * int64(pg.Size)
	if len(p.terms) == 0 {
		if res.TotalElements, err = s.count(ctx, tx, p); err != nil {
			return res, fmt.Errorf("count sqlite log store: %w", err)
		}
		dir := "DESC"
		if pg.Asc {
			dir = "ASC"
		}
		args := append([]any{p.lo, p.hi}, p.allArgs()...)
		args = append(args, pg.Size, off)
		res.Content, err = s.events(ctx, tx, `SELECT `+eventCols+` FROM events WHERE k >= ? AND k < ?`+p.evCond()+` ORDER BY k `+dir+` LIMIT ? OFFSET ?`, args...)
		return res, wrap("query sqlite log store", err)
	}
	ks, err := s.keys(ctx, tx, p, p.lo, p.hi, m.mark, m.live)
	if err == nil {
		ks, err = filterKeys(ctx, tx, p, ks)
	}
	if err != nil {
		return res, fmt.Errorf("query sqlite log store: %w", err)
	}
	res.TotalElements = int64(len(ks))
	if !pg.Asc {
		slices.Reverse(ks)
	}
	if off >= int64(len(ks)) {
		return res, nil
	}
	ks = ks[off:min(int64(len(ks)), off+int64(pg.Size))]
	res.Content, err = s.byKeys(ctx, tx, ks)
	return res, wrap("query sqlite log store", err)
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// count counts the events matching a plan without terms: whole days from the
// daily rollup, whole hours at both ends from the hourly one, and the partial
// hours from the events.
func (s *Store) count(ctx context.Context, q querier, p *plan) (int64, error) {
	hLo := codec.FloorDiv(codec.Ms(p.lo)+hourMs-1, hourMs) // first whole hour
	hHi := codec.FloorDiv(codec.Ms(p.hi), hourMs)          // end of whole hours
	var n int64
	if hHi <= hLo || len(p.evWhere) > 0 {
		// A short range, or conditions the rollups cannot answer: the events.
		args := append([]any{p.lo, p.hi}, p.allArgs()...)
		err := q.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE k >= ? AND k < ?`+p.evCond(), args...).Scan(&n)
		return n, err
	}
	dLo, dHi := codec.FloorDiv(hLo+23, 24), codec.FloorDiv(hHi, 24) // whole days
	if dHi <= dLo {
		dLo = codec.FloorDiv(hHi, 24)
		dHi = dLo
	}
	sum := func(query string, a, b int64) error {
		var v sql.NullInt64
		err := q.QueryRowContext(ctx, query+p.cond(), append([]any{a, b}, p.args...)...).Scan(&v)
		n += v.Int64
		return err
	}
	if dHi > dLo {
		if err := sum(`SELECT sum(n) FROM daily WHERE d >= ? AND d < ?`, dLo, dHi); err != nil {
			return 0, err
		}
		if err := sum(`SELECT sum(n) FROM hourly WHERE h >= ? AND h < ?`, hLo, dLo*24); err != nil {
			return 0, err
		}
		if err := sum(`SELECT sum(n) FROM hourly WHERE h >= ? AND h < ?`, dHi*24, hHi); err != nil {
			return 0, err
		}
	} else if err := sum(`SELECT sum(n) FROM hourly WHERE h >= ? AND h < ?`, hLo, hHi); err != nil {
		return 0, err
	}
	kLo, kHi := codec.Key(hLo*hourMs, 0), codec.Key(hHi*hourMs, 0)
	var raw int64
	args := append([]any{p.lo, kLo, kHi, p.hi}, p.args...)
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE ((k >= ? AND k < ?) OR (k >= ? AND k < ?))`+p.cond(), args...).Scan(&raw); err != nil {
		return 0, err
	}
	return n + raw, nil
}

const eventCols = `k, idb, code, pr, em, disp, ip, portal, xtra, x, cc, asn, dev, g, more`

// row is an events row read back: the columns of the same names (see
// schema), with x unpacked by unpackRest into msg (the message template), et
// (error type), acct (account), fc (failure count), ua (user agent), host,
// path and trace, and g by unpackGeo into the location and device fields.
type row struct {
	k, code, fc, more                                             int64
	idb                                                           []byte
	pr, em, disp, ip, msg, et, portal, acct, ua, host, path, xtra int64
	trace                                                         string

	cc, asn, dev                                      int64
	regionCode, region, city, asOrg, browser, os, acc int64
	lat, lon                                          float64
	bot                                               bool
}

// events runs query (selecting eventCols) and decodes its rows.
func (s *Store) events(ctx context.Context, q querier, query string, args ...any) ([]event.Event, error) {
	rs, err := s.rows(ctx, q, query, args...)
	if err != nil {
		return nil, err
	}
	return s.decode(ctx, q, rs)
}

// rows runs query (selecting eventCols) and scans its rows.
func (s *Store) rows(ctx context.Context, q querier, query string, args ...any) ([]row, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var rs []row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		rs = append(rs, r)
	}
	rows.Close()
	return rs, rows.Err()
}

func scanRow(rows *sql.Rows) (row, error) {
	var r row
	var n [10]sql.NullInt64
	var x, g []byte
	if err := rows.Scan(&r.k, &r.idb, &r.code, &n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &x, &n[6], &n[7], &n[8], &g, &n[9]); err != nil {
		return r, err
	}
	r.pr, r.em, r.disp, r.ip, r.portal, r.xtra = n[0].Int64, n[1].Int64, n[2].Int64, n[3].Int64, n[4].Int64, n[5].Int64
	r.cc, r.asn, r.dev, r.more = n[6].Int64, n[7].Int64, n[8].Int64, n[9].Int64
	if err := unpackRest(x, &r); err != nil {
		return r, err
	}
	if g != nil {
		return r, unpackGeo(g, &r)
	}
	return r, nil
}

func (s *Store) decode(ctx context.Context, q querier, rs []row) ([]event.Event, error) {
	out := make([]event.Event, 0, len(rs))
	if len(rs) == 0 {
		return out, nil
	}
	ids := make([]int64, 0, len(rs)*12)
	for _, r := range rs {
		ids = append(ids, r.pr, r.em, r.disp, r.ip, r.msg, r.et, r.portal, r.acct, r.ua, r.host, r.path, r.xtra)
		for _, id := range [...]int64{r.cc, r.dev, r.regionCode, r.region, r.city, r.asOrg, r.browser, r.os} {
			if id != 0 {
				ids = append(ids, id)
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
		e := event.Event{
			ID: codec.JoinID(r.idb, r.k), EventDate: codec.Time(r.k), Seq: r.k,
			Principal: ptr(r.pr), Email: ptr(r.em), DisplayName: ptr(r.disp), RemoteAddress: nm[r.ip],
			ErrorType: ptr(r.et), PortalID: ptr(r.portal), AccountID: ptr(r.acct), FailureCount: int(r.fc),
			UserAgent: nm[r.ua], Host: nm[r.host], Path: nm[r.path], TraceID: r.trace,
			Geo: event.Geo{Country: nm[r.cc], RegionCode: nm[r.regionCode], Region: nm[r.region], City: nm[r.city],
				Latitude: r.lat, Longitude: r.lon, AccuracyRadius: int(r.acc), ASN: r.asn, ASOrg: nm[r.asOrg]},
			Device: event.Device{Browser: nm[r.browser], OS: nm[r.os], DeviceType: nm[r.dev], Bot: r.bot},
		}
		codec.Decode(&e, r.code, nm[r.xtra])
		if r.more > 0 {
			e.Count = int(1 + r.more)
		}
		if r.msg != 0 {
			if t, ok := nm[r.msg]; ok {
				m := codec.Expand(t, e.Identity(), e.FailureCount)
				e.Message = &m
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// byKeys returns the events with keys ks, in the order of ks.
func (s *Store) byKeys(ctx context.Context, q querier, ks []int64) ([]event.Event, error) {
	out := make([]event.Event, 0, len(ks))
	for len(ks) > 0 {
		n := min(len(ks), 500)
		args := make([]any, n)
		for i, k := range ks[:n] {
			args[i] = k
		}
		rs, err := s.rows(ctx, q, `SELECT `+eventCols+` FROM events WHERE k IN (`+marks(n)+`)`, args...)
		if err != nil {
			return nil, err
		}
		evs, err := s.decode(ctx, q, rs)
		if err != nil {
			return nil, err
		}
		at := make(map[int64]int, len(rs))
		for i, r := range rs {
			at[r.k] = i
		}
		for _, k := range ks[:n] {
			if i, ok := at[k]; ok {
				out = append(out, evs[i])
			}
		}
		ks = ks[n:]
	}
	return out, nil
}
