package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loginguard/loginguard/event"
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
	if err := s.fold(ctx, tx); err != nil {
		return 0, fmt.Errorf("erase from postgres log store: %w", err)
	}
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
	// Where the person was and on what: gone with the name.
	if _, err := tx.Exec(ctx, `UPDATE events SET cc = NULL, asn = NULL, dev = NULL, g = NULL WHERE `+p.cond(), p.args...); err != nil {
		return 0, fmt.Errorf("erase from postgres log store: %w", err)
	}
	if pseudonym != "" {
		if id, err := lookup(ctx, tx, pseudonym); err != nil {
			return 0, fmt.Errorf("erase from postgres log store: %w", err)
		} else if id != 0 {
			return 0, fmt.Errorf("erase from postgres log store: %w", errPseudonymInUse)
		}
	}
	renamed := int32(0) // the id that becomes the pseudonym
	for i, id := range ids {
		v, f := codec.Erased+strconv.Itoa(int(id)), (*string)(nil)
		if i == 0 && pseudonym != "" {
			v, f, renamed = pseudonym, fold(pseudonym), id
		}
		if _, err := tx.Exec(ctx, `UPDATE dict SET s = $1, fold = $2 WHERE id = $3`, v, f, id); err != nil {
			return 0, fmt.Errorf("erase from postgres log store: %w", err)
		}
		if i > 0 && renamed != 0 {
			if _, err := tx.Exec(ctx, `UPDATE events SET em = $1 WHERE em = $2`, renamed, id); err != nil {
				return 0, fmt.Errorf("erase from postgres log store: %w", err)
			}
		}
	}
	disp, err := s.renameProfiles(ctx, tx, p, pseudonym)
	if err != nil {
		return 0, fmt.Errorf("erase from postgres log store: %w", err)
	}
	for _, id := range ids {
		if id != renamed {
			if _, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
				return 0, fmt.Errorf("erase from postgres log store: %w", err)
			}
		}
	}
	if renamed != 0 {
		if _, err := tx.Exec(ctx, `UPDATE users SET disp = $1 WHERE id = $2 AND disp IS NOT NULL`, disp, renamed); err != nil {
			return 0, fmt.Errorf("erase from postgres log store: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("erase from postgres log store: %w", err)
	}
	clear(s.ids)
	clear(s.cids)
	clear(s.profs)
	s.names.Clear()
	return n, nil
}

// renameProfiles gives the events matching p the display name pseudonym
// (none when ""), keeping their account ids. It returns the dict id of the
// profile with just the pseudonym (0 when none).
func (s *Store) renameProfiles(ctx context.Context, tx pgx.Tx, p *plan, pseudonym string) (int32, error) {
	rows, err := tx.Query(ctx, `SELECT DISTINCT e.prof, d.s FROM events e JOIN dict d ON d.id = e.prof WHERE `+p.cond(), p.args...)
	if err != nil {
		return 0, err
	}
	old := map[int32]profile{}
	for rows.Next() {
		var id int32
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return 0, err
		}
		old[id] = parseProfile(v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	intern := func(pr profile) (*int32, error) {
		if pr == (profile{}) {
			return nil, nil
		}
		var id int32
		err := tx.QueryRow(ctx, `WITH i AS (INSERT INTO dict(s) VALUES ($1) ON CONFLICT (s) DO NOTHING RETURNING id)
SELECT id FROM i UNION ALL SELECT id FROM dict WHERE s = $1`, pr.String()).Scan(&id)
		return &id, err
	}
	for id, pr := range old {
		if pr.disp == "" {
			continue
		}
		to, err := intern(profile{pseudonym, pr.acct})
		if err != nil {
			return 0, err
		}
		q := &plan{where: p.where, args: slices.Clone(p.args)}
		if _, err := tx.Exec(ctx, `UPDATE events SET prof = `+q.arg(to)+` WHERE prof = `+q.arg(id)+` AND `+q.cond(), q.args...); err != nil {
			return 0, err
		}
	}
	if pseudonym == "" {
		return 0, nil
	}
	id, err := intern(profile{disp: pseudonym})
	if err != nil {
		return 0, err
	}
	return *id, nil
}

func contains(l []int32, v int32) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// DeleteBefore deletes the events dated before t: whole days by truncating
// their partitions, the rest batch per transaction. Then it brings the
// rollups and user summaries in line.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 10000
	}
	end := msOf(t, minMs)
	total, err := s.dropDays(ctx, end)
	if err != nil {
		return total, fmt.Errorf("delete from postgres log store: %w", err)
	}
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
	if err := s.recount(ctx, end); err != nil {
		return total, fmt.Errorf("delete from postgres log store: %w", err)
	}
	if err := s.trimUsers(ctx, end); err != nil {
		return total, fmt.Errorf("delete from postgres log store: %w", err)
	}
	return total, nil
}

// trimUsers drops from the user summaries what happened before end.
func (s *Store) trimUsers(ctx context.Context, end int64) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := s.fold(ctx, tx); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM users WHERE seen < $1`,
		`UPDATE users SET login = NULL WHERE login < $1`,
		`UPDATE users SET logout = NULL WHERE logout < $1`,
		`UPDATE users SET fail = NULL WHERE fail < $1`,
	} {
		if _, err := tx.Exec(ctx, q, end); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// dropDays empties the partitions that end at or before end, and drops them
// when that does not have to wait for running queries.
func (s *Store) dropDays(ctx context.Context, end int64) (int64, error) {
	parts, err := s.partitions(ctx, s.db)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, p := range parts {
		if p.hi > end {
			continue
		}
		name := pgx.Identifier{p.name}.Sanitize()
		tx, err := s.db.Begin(ctx)
		if err != nil {
			return total, err
		}
		var n int64
		if _, err := tx.Exec(ctx, `LOCK TABLE `+name+` IN ACCESS EXCLUSIVE MODE`); err != nil {
			tx.Rollback(ctx)
			return total, err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+name).Scan(&n); err != nil {
			tx.Rollback(ctx)
			return total, err
		}
		if _, err := tx.Exec(ctx, `TRUNCATE `+name); err != nil {
			tx.Rollback(ctx)
			return total, err
		}
		if err := tx.Commit(ctx); err != nil {
			return total, err
		}
		total += n
		// Dropping locks events itself: give up at once if a query runs.
		tx, err = s.db.Begin(ctx)
		if err != nil {
			return total, err
		}
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '50ms'`); err == nil {
			if _, err := tx.Exec(ctx, `DROP TABLE `+name); err == nil {
				tx.Commit(ctx)
				continue
			}
		}
		tx.Rollback(ctx)
	}
	return total, nil
}

func (s *Store) deleteBatch(ctx context.Context, end int64, batch int) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM events WHERE (ts, r) IN (SELECT ts, r FROM events WHERE ts < $1 ORDER BY ts, r LIMIT $2)`, end, batch)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// recount brings the tally rollup in line after the events before end were
// deleted: rows of earlier hours go, and the hour end falls in is counted
// again from its remaining events.
func (s *Store) recount(ctx context.Context, end int64) error {
	h := codec.FloorDiv(end, hourMs)
	if _, err := s.db.Exec(ctx, `DELETE FROM tally WHERE h < $1`, h); err != nil {
		return err
	}
	if end%hourMs == 0 {
		return nil
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// Writers add their tally rows after their events, in the same
	// transaction: with them held off, the events read here and the rows
	// they add never overlap.
	if _, err := tx.Exec(ctx, `LOCK TABLE tally IN EXCLUSIVE MODE`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM tally WHERE h = $1`, h); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT `+codeExpr+`, coalesce(pr, em), `+ipKeyExpr+`, cx, xtra, coalesce(cc, ''), coalesce(asn, 0), coalesce(dev, ''), g,
  1 + coalesce(more, 0) FROM events WHERE ts >= $1 AND ts < $2`, h*hourMs, (h+1)*hourMs)
	if err != nil {
		return err
	}
	type ev struct {
		code         int32
		ident, ip    int64
		cx, xtra     int32
		cc, dev, org string
		asn, n       int64
	}
	var evs []ev
	var cids []int32
	for rows.Next() {
		var e ev
		var ident, cx, xtra *int32
		var ip *int64
		var g []byte
		if err := rows.Scan(&e.code, &ident, &ip, &cx, &xtra, &e.cc, &e.asn, &e.dev, &g, &e.n); err != nil {
			rows.Close()
			return err
		}
		if g != nil {
			var ge event.Event
			if err := codec.ReadGeoRest(g, &ge); err != nil {
				rows.Close()
				return err
			}
			e.org = ge.ASOrg
		}
		e.ident, e.cx, e.xtra = iv(ident), int32(iv(cx)), int32(iv(xtra))
		if ip != nil {
			e.ip = *ip
		}
		evs, cids = append(evs, e), append(cids, e.cx)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(evs) == 0 {
		return tx.Commit(ctx)
	}
	cxs, err := s.ctxs(ctx, tx, cids)
	if err != nil {
		return err
	}
	t := newTallyAcc()
	for _, e := range evs {
		t.add(int64(e.code), cxs[e.cx][cxPortal], e.xtra, e.ident, e.ip, e.n)
		t.addGeo(int64(e.code), e.cc, e.asn, e.org, e.dev, e.n)
	}
	u, i, c, g, m := t.pack()
	if _, err := tx.Exec(ctx, `INSERT INTO tally(h, users, ips, counts, geo, more) VALUES ($1, $2, $3, $4, $5, $6)`, h, u, i, c, g, m); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
