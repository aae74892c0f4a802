package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// errPseudonymInUse is returned when the pseudonym is already a stored string.
var errPseudonymInUse = errors.New("pseudonym is already in use")

// Erase erases or pseudonymises identity. The identity's dictionary strings are
// renamed in place (to the pseudonym, or to an erased marker that reads as
// null), so every row, posting and count that refers to them follows without
// being rewritten; display names of its events are replaced row by row.
func (s *Store) Erase(ctx context.Context, identity, pseudonym string) (int64, error) {
	if identity == "" {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("erase from sqlite log store: %w", err)
	}
	defer rollback(tx)
	t, err := s.identityTerm(ctx, tx, identity, fresh)
	if err != nil {
		return 0, fmt.Errorf("erase from sqlite log store: %w", err)
	}
	var ids []int64
	for _, l := range t {
		for _, id := range l {
			if id != 0 && !contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	var live int64 = noMark
	if err := tx.QueryRowContext(ctx, `SELECT coalesce((SELECT v FROM meta WHERE name = 'live'), ?)`, int64(noMark)).Scan(&live); err != nil {
		return 0, fmt.Errorf("erase from sqlite log store: %w", err)
	}
	p := &plan{lo: codec.KeyOf(zeroTime), hi: codec.KeyEnd(zeroTime), terms: []term{t}}
	ks, err := s.keys(ctx, tx, p, p.lo, p.hi, s.mark, live)
	if err != nil {
		return 0, fmt.Errorf("erase from sqlite log store: %w", err)
	}
	// Where the person was and on what: gone with the name.
	if _, err := tx.ExecContext(ctx, `UPDATE events SET cc = NULL, asn = NULL, dev = NULL, g = NULL WHERE k IN (SELECT value FROM json_each(?))`, jsonInts(ks)); err != nil {
		return 0, fmt.Errorf("erase from sqlite log store: %w", err)
	}
	var disp any
	if pseudonym != "" {
		if id, err := s.lookup(ctx, tx, pseudonym, fresh); err != nil {
			return 0, fmt.Errorf("erase from sqlite log store: %w", err)
		} else if id != 0 {
			return 0, fmt.Errorf("erase from sqlite log store: %w", errPseudonymInUse)
		}
	}
	for i, id := range ids {
		v, f := codec.Erased+strconv.FormatInt(id, 10), ""
		if i == 0 && pseudonym != "" {
			v, f, disp = pseudonym, foldOf(pseudonym), id
		}
		if err := s.rename(ctx, tx, id, v, f); err != nil {
			return 0, fmt.Errorf("erase from sqlite log store: %w", err)
		}
		if i > 0 && disp != nil {
			// A second spelling of the same email: point its rows at the pseudonym.
			if _, err := tx.ExecContext(ctx, `UPDATE events SET em = ? WHERE em = ? AND k IN (SELECT value FROM json_each(?))`, disp, id, jsonInts(ks)); err != nil {
				return 0, fmt.Errorf("erase from sqlite log store: %w", err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE events SET disp = ? WHERE disp IS NOT NULL AND k IN (SELECT value FROM json_each(?))`, disp, jsonInts(ks)); err != nil {
		return 0, fmt.Errorf("erase from sqlite log store: %w", err)
	}
	// Users: the pseudonym keeps the first id's summary, with itself as
	// display name; the other ids' summaries go.
	slices.Sort(ids)
	if err := editUsers(ctx, tx, &s.sc, ids, func(u *codec.User) (*codec.User, bool) {
		if _, ok := slices.BinarySearch(ids, u.ID); !ok {
			return u, false
		}
		if disp == nil || u.ID != disp {
			return nil, true
		}
		if u.Disp != 0 {
			u.Disp = disp.(int64)
		}
		return u, true
	}); err != nil {
		return 0, fmt.Errorf("erase from sqlite log store: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("erase from sqlite log store: %w", err)
	}
	s.ids.reset()
	clear(s.hot)
	s.complete = false
	s.names.Clear()
	// The in-memory copies of the renamed strings and changed rows.
	if err := s.renamed(ctx); err != nil {
		return 0, fmt.Errorf("erase from sqlite log store: %w", err)
	}
	if err := s.loadMemory(ctx); err != nil {
		return 0, fmt.Errorf("erase from sqlite log store: %w", err)
	}
	return int64(len(ks)), nil
}

func contains(l []int64, v int64) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

func jsonInts(ks []int64) string {
	b := make([]byte, 0, len(ks)*18+2)
	b = append(b, '[')
	for i, k := range ks {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, k, 10)
	}
	return string(append(b, ']'))
}

// DeleteBefore deletes the events dated before t, batch at a time, keeping the
// rollups, segments and user summaries consistent.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 10000
	}
	end := codec.KeyOf(t)
	var total int64
	for {
		n, done, err := s.deleteBatch(ctx, end, batch)
		total += n
		if err != nil {
			return total, fmt.Errorf("delete from sqlite log store: %w", err)
		}
		if done {
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Users: forget those last seen before t and the times before t.
	ms := t.UnixMilli()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return total, fmt.Errorf("delete from sqlite log store: %w", err)
	}
	defer rollback(tx)
	if err := editUsers(ctx, tx, &s.sc, nil, func(u *codec.User) (*codec.User, bool) {
		if u.HasSeen && u.Seen < ms {
			return nil, true
		}
		changed := false
		for _, at := range [...]struct {
			has *bool
			v   int64
		}{{&u.HasLogin, u.Login}, {&u.HasLogout, u.Logout}, {&u.HasFail, u.Failure}} {
			if *at.has && at.v < ms {
				*at.has, changed = false, true
			}
		}
		return u, changed
	}); err != nil {
		return total, fmt.Errorf("delete from sqlite log store: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return total, fmt.Errorf("delete from sqlite log store: %w", err)
	}
	return total, nil
}

func (s *Store) deleteBatch(ctx context.Context, end int64, batch int) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, err
	}
	defer rollback(tx)
	cut, done := end, true
	var k int64
	switch err := tx.QueryRowContext(ctx, `SELECT k FROM events WHERE k < ? ORDER BY k LIMIT 1 OFFSET ?`, end, batch-1).Scan(&k); {
	case err == nil:
		if k+1 < end {
			cut, done = k+1, false
		}
	case !errors.Is(err, sql.ErrNoRows):
		return 0, false, err
	}
	hours, days := map[rollupKey]*rollupN{}, map[rollupKey]*rollupN{}
	rows, err := tx.QueryContext(ctx, `SELECT k, code, coalesce(portal, 0), coalesce(xtra, 0), 1 + coalesce(more, 0) FROM events WHERE k < ?`, cut)
	if err != nil {
		return 0, false, err
	}
	for rows.Next() {
		var k, code, portal, xtra, n int64
		if err := rows.Scan(&k, &code, &portal, &xtra, &n); err != nil {
			rows.Close()
			return 0, false, err
		}
		hk := rollupKey{h: codec.FloorDiv(codec.Ms(k), hourMs), code: code, portal: portal, xtra: xtra}
		countRollup(hours, hk, n)
		hk.h = codec.FloorDiv(codec.Ms(k), dayMs)
		countRollup(days, hk, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, false, err
	}
	geo := map[geoKey]int64{}
	if err := scanGeo(ctx, tx, geo, true, geoCols+` WHERE k < ? AND (code & 7) IN (1, 2)`, cut); err != nil {
		return 0, false, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE k < ?`, cut)
	if err != nil {
		return 0, false, err
	}
	n, _ := res.RowsAffected()
	if err := addCounts(ctx, tx, &s.sc, hours, days, -1); err != nil {
		return 0, false, err
	}
	if err := addGeoCounts(ctx, tx, &s.sc, geo, -1); err != nil {
		return 0, false, err
	}
	for _, q := range []string{
		`DELETE FROM hourly WHERE n <= 0`,
		`DELETE FROM daily WHERE n <= 0`,
		`DELETE FROM geodaily WHERE n <= 0`,
		`DELETE FROM xid WHERE k < ?1`,
		`DELETE FROM late WHERE k < ?1`,
		`DELETE FROM post WHERE lo IN (SELECT lo FROM seg WHERE hi <= ?1)`,
		`DELETE FROM seg WHERE hi <= ?1`,
	} {
		if _, err := tx.ExecContext(ctx, q, cut); err != nil {
			return 0, false, err
		}
	}
	live := max(s.live, cut)
	if err := s.setMeta(ctx, tx, "live", live); err != nil {
		return 0, false, err
	}
	if err := tx.Commit(); err != nil {
		return 0, false, err
	}
	s.live = live
	s.tail = slices.DeleteFunc(s.tail, func(r evRow) bool { return r.k < cut })
	s.pend = slices.DeleteFunc(s.pend, func(r evRow) bool { return r.k < cut })
	return n, done, nil
}
