package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// Erase erases or pseudonymises identity by renaming its dictionary strings in
// place (see the sqlite store), and replacing its events' display names.
func (s *Store) Erase(ctx context.Context, identity, pseudonym string) (int64, error) {
	if identity == "" {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("erase from postgres log store: %w", err)
	}
	defer tx.Rollback(ctx)
	p, ok, err := s.identity(ctx, tx, identity)
	if err != nil || !ok {
		return 0, wrap("erase from postgres log store", err)
	}
	var ids []int32
	if pr := p.args[0].(int32); pr != 0 {
		ids = append(ids, pr)
	}
	for _, id := range p.args[1].([]int32) {
		if !contains(ids, id) {
			ids = append(ids, id)
		}
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM events WHERE `+p.cond(), p.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("erase from postgres log store: %w", err)
	}
	if pseudonym != "" {
		if id, err := lookup(ctx, tx, pseudonym); err != nil {
			return 0, fmt.Errorf("erase from postgres log store: %w", err)
		} else if id != 0 {
			return 0, fmt.Errorf("erase from postgres log store: %w", errPseudonymInUse)
		}
	}
	var disp *int32
	for i, id := range ids {
		v, f := codec.Erased+strconv.Itoa(int(id)), (*string)(nil)
		if i == 0 && pseudonym != "" {
			v, f, disp = pseudonym, fold(pseudonym), &ids[0]
		}
		if _, err := tx.Exec(ctx, `UPDATE dict SET s = $1, fold = $2 WHERE id = $3`, v, f, id); err != nil {
			return 0, fmt.Errorf("erase from postgres log store: %w", err)
		}
		if i > 0 && disp != nil {
			if _, err := tx.Exec(ctx, `UPDATE events SET em = $1 WHERE em = $2`, *disp, id); err != nil {
				return 0, fmt.Errorf("erase from postgres log store: %w", err)
			}
		}
	}
	q := &plan{where: p.where, args: p.args}
	if _, err := tx.Exec(ctx, `UPDATE events SET disp = `+q.arg(disp)+` WHERE disp IS NOT NULL AND `+q.cond(), q.args...); err != nil {
		return 0, fmt.Errorf("erase from postgres log store: %w", err)
	}
	for _, id := range ids {
		if disp == nil || id != *disp {
			if _, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
				return 0, fmt.Errorf("erase from postgres log store: %w", err)
			}
		}
	}
	if disp != nil {
		if _, err := tx.Exec(ctx, `UPDATE users SET disp = $1 WHERE id = $1 AND disp IS NOT NULL`, *disp); err != nil {
			return 0, fmt.Errorf("erase from postgres log store: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("erase from postgres log store: %w", err)
	}
	clear(s.ids)
	s.nmu.Lock()
	clear(s.names)
	s.nmu.Unlock()
	return n, nil
}

func contains(l []int32, v int32) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// DeleteBefore deletes the events dated before t, batch per transaction, and
// brings the rollups and user summaries in line.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 10000
	}
	end := msOf(t, minMs)
	var total int64
	for {
		n, err := s.deleteBatch(ctx, end, batch)
		total += n
		if err != nil {
			return total, fmt.Errorf("delete from postgres log store: %w", err)
		}
		if n < int64(batch) {
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	day := floorDiv(end, dayMs)
	stmts := []string{
		`DELETE FROM user_day WHERE day < $1::bigint`,
		`DELETE FROM ip_day WHERE day < $1::bigint`,
	}
	if end%dayMs != 0 {
		stmts = append(stmts,
			`DELETE FROM user_day WHERE day = $1::bigint`,
			`INSERT INTO user_day(day, ident, n) SELECT $1::bigint, coalesce(pr, em), count(*) FROM events
  WHERE ts >= $1::bigint * 86400000 AND ts < ($1::bigint + 1) * 86400000 AND (code & 7) IN (1, 2) AND coalesce(pr, em) IS NOT NULL GROUP BY 2`,
			`DELETE FROM ip_day WHERE day = $1::bigint`,
			`INSERT INTO ip_day(day, ip, n) SELECT $1::bigint, ip, count(*) FROM events
  WHERE ts >= $1::bigint * 86400000 AND ts < ($1::bigint + 1) * 86400000 AND (code & 7) = 2 AND ip IS NOT NULL GROUP BY 2`)
	}
	for _, q := range stmts {
		if _, err := s.db.Exec(ctx, q, day); err != nil {
			return total, fmt.Errorf("delete from postgres log store: %w", err)
		}
	}
	for _, q := range []string{
		`DELETE FROM users WHERE seen < $1`,
		`UPDATE users SET login = NULL WHERE login < $1`,
		`UPDATE users SET logout = NULL WHERE logout < $1`,
		`UPDATE users SET fail = NULL WHERE fail < $1`,
	} {
		if _, err := s.db.Exec(ctx, q, end); err != nil {
			return total, fmt.Errorf("delete from postgres log store: %w", err)
		}
	}
	return total, nil
}

func (s *Store) deleteBatch(ctx context.Context, end int64, batch int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `DELETE FROM events WHERE (ts, uid) IN (SELECT ts, uid FROM events WHERE ts < $1 ORDER BY ts, uid LIMIT $2)
RETURNING ts, code, portal, xtra`, end, batch)
	if err != nil {
		return 0, err
	}
	type hk struct {
		h            int64
		code         int16
		portal, xtra int32
	}
	hours := map[hk]int64{}
	var n int64
	for rows.Next() {
		var ts int64
		var code int16
		var portal, xtra *int32
		if err := rows.Scan(&ts, &code, &portal, &xtra); err != nil {
			rows.Close()
			return 0, err
		}
		hours[hk{floorDiv(ts, hourMs), code, int32(iv(portal)), int32(iv(xtra))}]++
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for k, c := range hours {
		if _, err := tx.Exec(ctx, `UPDATE hourly SET n = n - $1 WHERE h = $2 AND code = $3 AND portal = $4 AND xtra = $5`, c, k.h, k.code, k.portal, k.xtra); err != nil {
			return 0, err
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM hourly WHERE n <= 0`); err != nil {
		return 0, err
	}
	return n, tx.Commit(ctx)
}
