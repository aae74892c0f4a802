package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/internal/codec"
)

var zeroTime time.Time

const attempts = ` AND (code & 7) IN (1, 2)`

// Stats summarises the login attempts in [from, to): counts from the hourly
// rollup, top lists from the sealed segments' counts, location and device
// counts from the geodaily rollup, the rest from raw rows.
func (s *Store) Stats(ctx context.Context, from, to time.Time, iv logstore.Interval, top int) (logstore.Stats, error) {
	acc := codec.NewStatsAcc(from, to, iv)
	lo, hi := codec.KeyOf(from), codec.KeyEnd(to)
	geo := codec.NewGeoAcc()
	if hi <= lo {
		st, err := acc.Result(top, func([]int64) (map[int64]string, error) { return nil, nil })
		geo.Result(&st, top)
		return st, err
	}
	tx, m, err := s.snapshot(ctx)
	if err != nil {
		return logstore.Stats{}, fmt.Errorf("stats of sqlite log store: %w", err)
	}
	defer tx.Rollback()
	if err := s.statCounts(ctx, tx, acc, lo, hi); err != nil {
		return logstore.Stats{}, fmt.Errorf("stats of sqlite log store: %w", err)
	}
	if err := s.statTops(ctx, tx, acc, lo, hi, m.mark, m.live); err != nil {
		return logstore.Stats{}, fmt.Errorf("stats of sqlite log store: %w", err)
	}
	if err := s.statGeo(ctx, tx, geo, lo, hi); err != nil {
		return logstore.Stats{}, fmt.Errorf("stats of sqlite log store: %w", err)
	}
	st, err := acc.Result(top, func(ids []int64) (map[int64]string, error) { return s.strs(ctx, tx, ids) })
	geo.Result(&st, top)
	return st, wrap("stats of sqlite log store", err)
}

func (s *Store) statCounts(ctx context.Context, q querier, acc *codec.StatsAcc, lo, hi int64) error {
	hLo := codec.FloorDiv(codec.Ms(lo)+hourMs-1, hourMs)
	hHi := codec.FloorDiv(codec.Ms(hi), hourMs)
	raw := func(query string, args ...any) error {
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k, code, n int64
			if err := rows.Scan(&k, &code, &n); err != nil {
				return err
			}
			acc.AddCount(codec.Ms(k), code, 1, n)
		}
		return rows.Err()
	}
	if hHi <= hLo {
		return raw(`SELECT k, code, 1 + coalesce(more, 0) FROM events WHERE k >= ? AND k < ?`+attempts, lo, hi)
	}
	rows, err := q.QueryContext(ctx, `SELECT h, code, sum(n), sum(n + more) FROM hourly WHERE h >= ? AND h < ?`+attempts+` GROUP BY h, code`, hLo, hHi)
	if err != nil {
		return err
	}
	for rows.Next() {
		var h, code, n, a int64
		if err := rows.Scan(&h, &code, &n, &a); err != nil {
			rows.Close()
			return err
		}
		acc.AddCount(h*hourMs, code, n, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return raw(`SELECT k, code, 1 + coalesce(more, 0) FROM events WHERE ((k >= ? AND k < ?) OR (k >= ? AND k < ?))`+attempts,
		lo, codec.Key(hLo*hourMs, 0), codec.Key(hHi*hourMs, 0), hi)
}

func (s *Store) statTops(ctx context.Context, q querier, acc *codec.StatsAcc, lo, hi, mark, live int64) error {
	raw := func(query string, args ...any) error {
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var code, n int64
			var ident, ip sql.NullInt64
			if err := rows.Scan(&code, &ident, &ip, &n); err != nil {
				return err
			}
			acc.AddKeyed(code, ident.Int64, ip.Int64, n)
		}
		return rows.Err()
	}
	const cols = `SELECT code, coalesce(pr, em), ip, 1 + coalesce(more, 0) FROM events WHERE k >= ? AND k < ?` + attempts
	rows, err := q.QueryContext(ctx, `SELECT lo, hi, users, ips FROM seg WHERE lo < ? AND hi > ? ORDER BY lo`, hi, lo)
	if err != nil {
		return err
	}
	type part struct{ lo, hi int64 }
	var parts []part
	var whole []part
	for rows.Next() {
		var sl, sh int64
		var ub, ib []byte
		if err := rows.Scan(&sl, &sh, &ub, &ib); err != nil {
			rows.Close()
			return err
		}
		if sl >= lo && sh <= hi && sl >= live {
			if err := codec.AddCounts(ub, codec.UvarintDelta, acc.Users.Add); err != nil {
				rows.Close()
				return err
			}
			if err := codec.AddCounts(ib, codec.UvarintDelta, acc.IPs.Add); err != nil {
				rows.Close()
				return err
			}
			whole = append(whole, part{sl, sh})
		} else {
			parts = append(parts, part{max(sl, lo, live), min(sh, hi)})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, w := range whole {
		if err := raw(`SELECT e.code, coalesce(e.pr, e.em), e.ip, 1 + coalesce(e.more, 0) FROM late l CROSS JOIN events e ON e.k = l.k WHERE e.k >= ? AND e.k < ? AND (e.code & 7) IN (1, 2)`, w.lo, w.hi); err != nil {
			return err
		}
	}
	for _, p := range parts {
		if p.lo < p.hi {
			if err := raw(cols, p.lo, p.hi); err != nil {
				return err
			}
		}
	}
	if t := max(lo, mark); t < hi {
		return raw(cols, t, hi)
	}
	return nil
}

// Suspicious scans the failures since q.Since.
func (s *Store) Suspicious(ctx context.Context, q logstore.SuspiciousQuery) (logstore.Suspicious, error) {
	q = q.WithDefaults(time.Now())
	tx, _, err := s.snapshot(ctx)
	if err != nil {
		return logstore.Suspicious{}, fmt.Errorf("suspicious activity in sqlite log store: %w", err)
	}
	defer tx.Rollback()
	acc := codec.NewSuspAcc()
	rows, err := tx.QueryContext(ctx, `SELECT k, coalesce(pr, em), ip, 1 + coalesce(more, 0) FROM events WHERE k >= ? AND (code & 7) = 2 AND `+codec.ReasonSQL+` IN `+codec.GuessingCodes, codec.KeyOf(q.Since))
	if err != nil {
		return logstore.Suspicious{}, fmt.Errorf("suspicious activity in sqlite log store: %w", err)
	}
	for rows.Next() {
		var k, n int64
		var ident, ip sql.NullInt64
		if err := rows.Scan(&k, &ident, &ip, &n); err != nil {
			rows.Close()
			return logstore.Suspicious{}, fmt.Errorf("suspicious activity in sqlite log store: %w", err)
		}
		acc.Add(codec.Ms(k), ident.Int64, ip.Int64, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return logstore.Suspicious{}, fmt.Errorf("suspicious activity in sqlite log store: %w", err)
	}
	res, err := acc.Result(q, func(ids []int64) (map[int64]string, error) { return s.strs(ctx, tx, ids) })
	return res, wrap("suspicious activity in sqlite log store", err)
}

// Users lists identities by last activity: the users table, merged with what
// the events above the users mark and late rows below it changed.
func (s *Store) Users(ctx context.Context, f logstore.UsersFilter) ([]logstore.UserSummary, int64, error) {
	if f.Size <= 0 {
		f.Size = logstore.DefaultPageSize
	}
	f.Number = max(f.Number, 0)
	out := []logstore.UserSummary{}
	tx, _, err := s.snapshot(ctx)
	if err != nil {
		return out, 0, fmt.Errorf("list users of sqlite log store: %w", err)
	}
	defer tx.Rollback()
	var umark int64
	if err := tx.QueryRowContext(ctx, `SELECT v FROM meta WHERE name = 'umark'`).Scan(&umark); err != nil {
		return out, 0, fmt.Errorf("list users of sqlite log store: %w", err)
	}
	// The users table holds the events below umark but for late rows not
	// folded yet; the rest is read raw.
	fresh := map[int64]*codec.User{}
	apply := func(r *evRow) { applyUser(fresh, r) }
	if err := scanRows(ctx, tx, `SELECT e.k, e.code, e.pr, e.em, e.ip, e.disp, 1 + coalesce(e.more, 0) FROM late l CROSS JOIN events e ON e.k = l.k WHERE l.k < ? ORDER BY e.k`, []any{umark}, apply); err != nil {
		return out, 0, fmt.Errorf("list users of sqlite log store: %w", err)
	}
	if err := scanRows(ctx, tx, `SELECT `+evRowCols+` FROM events WHERE k >= ? ORDER BY k`, []any{umark}, apply); err != nil {
		return out, 0, fmt.Errorf("list users of sqlite log store: %w", err)
	}
	search := strings.ToLower(f.Search)
	ids := make([]int64, 0, len(fresh))
	for id := range fresh {
		ids = append(ids, id)
	}
	nm, err := s.strs(ctx, tx, ids)
	if err != nil {
		return out, 0, fmt.Errorf("list users of sqlite log store: %w", err)
	}
	// Identities matching the search, as the stored ones are filtered.
	var match map[int64]bool
	if search != "" {
		l, err := intColumn(ctx, tx, `SELECT id FROM dict WHERE instr(coalesce(fold, s), ?) > 0`, search)
		if err != nil {
			return out, 0, fmt.Errorf("list users of sqlite log store: %w", err)
		}
		match = make(map[int64]bool, len(l))
		for _, id := range l {
			match[id] = true
		}
	}
	// One pass over the stored summaries: the fresh identities' stored part,
	// the number matching, and the first need of the others by last activity.
	stored := map[int64]*codec.User{}
	var total int64
	var top []*codec.User
	var worst *codec.User // of top once trimmed: the others come after it
	need := (f.Number + 1) * f.Size
	byActivity := func(a, b *codec.User) int { return cmp.Or(cmp.Compare(b.Seen, a.Seen), cmp.Compare(a.ID, b.ID)) }
	if err := eachUserBlock(ctx, tx, nil, func(blk int64, v []byte) error {
		return decodeUsers(blk, v, func(u *codec.User) {
			isFresh := fresh[u.ID] != nil
			if isFresh {
				c := *u
				stored[u.ID] = &c
			}
			if match != nil && !match[u.ID] {
				return
			}
			total++
			if isFresh || (worst != nil && byActivity(u, worst) > 0) {
				return
			}
			c := *u
			top = append(top, &c)
			if len(top) >= 2*need {
				slices.SortFunc(top, byActivity)
				top = top[:need]
				worst = top[need-1]
			}
		})
	}); err != nil {
		return out, 0, fmt.Errorf("list users of sqlite log store: %w", err)
	}
	var merged []*codec.User
	for _, id := range ids {
		name, ok := nm[id]
		if !ok || !strings.Contains(strings.ToLower(name), search) {
			continue
		}
		u := fresh[id]
		if o := stored[id]; o != nil {
			u = o.Merge(u)
		} else {
			total++
		}
		merged = append(merged, u)
	}
	merged = append(merged, top...)
	slices.SortFunc(merged, func(a, b *codec.User) int { return cmp.Or(cmp.Compare(b.Seen, a.Seen), cmp.Compare(a.ID, b.ID)) })
	off := f.Number * f.Size
	if off >= len(merged) {
		return out, total, nil
	}
	merged = merged[off:min(len(merged), off+f.Size)]
	ids = ids[:0]
	for _, u := range merged {
		ids = append(ids, u.ID, u.IP, u.Disp)
	}
	if nm, err = s.strs(ctx, tx, ids); err != nil {
		return out, 0, fmt.Errorf("list users of sqlite log store: %w", err)
	}
	for _, u := range merged {
		out = append(out, u.Summary(nm[u.ID], nm[u.IP], nm[u.Disp]))
	}
	return out, total, nil
}
