package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync"
)

// The dictionary is written append-only: a new string is one row at the end of
// dict (ids are given by the writer, in order). Its lookup indexes, dix (by
// string) and dfold (by lower-case form), hold the strings below the mark
// "dmark" only; the newer ones, the dictionary tail, are kept in memory and
// folded into the indexes, sorted, once Options.DictBatch of them gathered,
// rather than one random index page per new string, written again at every
// commit.

// dictTail is the in-memory index of the dictionary strings at or above base.
// The writer adds a delivery's new strings before it commits them, so a
// reader that sees a row sees its strings here or in the indexes.
type dictTail struct {
	mu     sync.RWMutex
	base   int64 // ids below are in dix and dfold
	byS    map[string]int64
	byFold map[string][]int64
}

func (t *dictTail) reset(base int64) {
	t.mu.Lock()
	t.base = base
	t.byS = map[string]int64{}
	t.byFold = map[string][]int64{}
	t.mu.Unlock()
}

// add indexes v (its fold f, or "" when none) as id. Called with t.mu held.
func (t *dictTail) add(v, f string, id int64) {
	t.byS[v] = id
	if f != "" {
		t.byFold[f] = append(t.byFold[f], id)
	}
}

// remove undoes add. Called with t.mu held.
func (t *dictTail) remove(v, f string, id int64) {
	if t.byS[v] == id {
		delete(t.byS, v)
	}
	if f != "" {
		l := t.byFold[f]
		for i, x := range l {
			if x == id {
				l = append(l[:i:i], l[i+1:]...)
				break
			}
		}
		if len(l) == 0 {
			delete(t.byFold, f)
		} else {
			t.byFold[f] = l
		}
	}
}

func (t *dictTail) len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byS)
}

// foldOf returns the lower-case form of v, or "" when it is v itself.
func foldOf(v string) string {
	if l := strings.ToLower(v); l != v {
		return l
	}
	return ""
}

// fresh is the dictionary mark of a lookup made outside a snapshot: each of its
// statements sees the newest state, so no fallback is needed.
const fresh = math.MaxInt64

// lookup returns the dict id of v (exact) or 0. dmark is the dictionary mark
// of the reader's snapshot (fresh when it has none).
func (s *Store) lookup(ctx context.Context, q querier, v string, dmark int64) (int64, error) {
	s.dt.mu.RLock()
	id, ok := s.dt.byS[v]
	base := s.dt.base
	s.dt.mu.RUnlock()
	if ok {
		return id, nil
	}
	err := q.QueryRowContext(ctx, `SELECT id FROM dix WHERE s = ?`, v).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("look up dictionary string: %w", err)
	}
	if dmark < base {
		// The tail was folded into the indexes after the snapshot began.
		err = q.QueryRowContext(ctx, `SELECT id FROM dict WHERE id >= ? AND id < ? AND s = ?`, dmark, base, v).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("look up dictionary string: %w", err)
		}
	}
	return 0, nil
}

// lookupIP returns the ip value of v: inline, or its dict id (0 when unknown).
func (s *Store) lookupIP(ctx context.Context, q querier, v string, dmark int64) (int64, error) {
	if id, ok := inlineIP(v); ok {
		return id, nil
	}
	return s.lookup(ctx, q, v, dmark)
}

// lookupFold returns the ids of the strings equal to v ignoring case.
func (s *Store) lookupFold(ctx context.Context, q querier, v string, dmark int64) ([]int64, error) {
	l := strings.ToLower(v)
	var ids []int64
	s.dt.mu.RLock()
	if id, ok := s.dt.byS[l]; ok {
		ids = append(ids, id)
	}
	ids = append(ids, s.dt.byFold[l]...)
	base := s.dt.base
	s.dt.mu.RUnlock()
	got, err := intColumn(ctx, q, `SELECT id FROM dix WHERE s = ?1 UNION ALL SELECT id FROM dfold WHERE fold = ?1`, l)
	if err != nil {
		return nil, fmt.Errorf("look up dictionary string: %w", err)
	}
	ids = append(ids, got...)
	if dmark < base {
		got, err := intColumn(ctx, q, `SELECT id FROM dict WHERE id >= ?1 AND id < ?2 AND (s = ?3 OR fold = ?3)`, dmark, base, l)
		if err != nil {
			return nil, fmt.Errorf("look up dictionary string: %w", err)
		}
		ids = append(ids, got...)
	}
	return uniq(ids), nil
}

// dictRange returns the ids of the strings in [lo, hi) (byte order).
func (s *Store) dictRange(ctx context.Context, q querier, lo, hi string, dmark int64) ([]int64, error) {
	var ids []int64
	s.dt.mu.RLock()
	for v, id := range s.dt.byS {
		if v >= lo && v < hi {
			ids = append(ids, id)
		}
	}
	base := s.dt.base
	s.dt.mu.RUnlock()
	got, err := intColumn(ctx, q, `SELECT id FROM dix WHERE s >= ? AND s < ?`, lo, hi)
	if err != nil {
		return nil, err
	}
	ids = append(ids, got...)
	if dmark < base {
		got, err := intColumn(ctx, q, `SELECT id FROM dict WHERE id >= ? AND id < ? AND s >= ? AND s < ?`, dmark, base, lo, hi)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	return uniq(ids), nil
}

func uniq(ids []int64) []int64 {
	out := ids[:0]
	for _, id := range ids {
		if !contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// newString is a dictionary string added by the open delivery.
type newString struct {
	v, f string
	id   int64
}

// resolve returns the dict ids of want (strings not in the writer's cache),
// adding the missing ones to dict and to the in-memory tail (unresolve removes
// them if the transaction is not committed). Called with s.mu held.
func (s *Store) resolve(ctx context.Context, tx *sql.Tx, want []string) (ids []int64, added []newString, err error) {
	ids = make([]int64, len(want))
	var miss []int // indexes into want
	s.dt.mu.RLock()
	for i, v := range want {
		if id, ok := s.dt.byS[v]; ok {
			ids[i] = id
		} else {
			miss = append(miss, i)
		}
	}
	s.dt.mu.RUnlock()
	if !s.complete && len(miss) > 0 {
		// Strings the cache may have dropped: look them up in the index.
		at := make(map[string]int, len(miss))
		for _, i := range miss {
			at[want[i]] = i
		}
		for rest := miss; len(rest) > 0; {
			part := rest[:min(len(rest), 256)]
			rest = rest[len(part):]
			// Padded with repeats to a power of two, so few shapes are prepared.
			args := make([]any, 1<<bits.Len(uint(len(part)-1)))
			for j := range args {
				args[j] = want[part[min(j, len(part)-1)]]
			}
			st, err := s.sc.in(ctx, tx, `SELECT id, s FROM dix WHERE s IN (`+marks(len(args))+`)`)
			if err != nil {
				return nil, nil, fmt.Errorf("look up dictionary strings: %w", err)
			}
			rows, err := st.QueryContext(ctx, args...)
			if err != nil {
				return nil, nil, fmt.Errorf("look up dictionary strings: %w", err)
			}
			for rows.Next() {
				var id int64
				var v string
				if err := rows.Scan(&id, &v); err != nil {
					rows.Close()
					return nil, nil, fmt.Errorf("look up dictionary strings: %w", err)
				}
				ids[at[v]] = id
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, nil, fmt.Errorf("look up dictionary strings: %w", err)
			}
		}
	}
	ins := newBulk(tx, &s.sc, `INSERT OR FAIL INTO dict(id, s, fold) VALUES`, 3, "")
	for _, i := range miss {
		if ids[i] != 0 {
			continue
		}
		if s.nextID >= ipBase {
			return nil, nil, errors.New("add dictionary strings: dictionary full")
		}
		v := want[i]
		n := newString{v: v, f: foldOf(v), id: s.nextID}
		s.nextID++
		ids[i] = n.id
		added = append(added, n)
		var f any
		if n.f != "" {
			f = n.f
		}
		if err := ins.add(ctx, n.id, v, f); err != nil {
			return nil, nil, fmt.Errorf("add dictionary strings: %w", err)
		}
	}
	if err := ins.flush(ctx); err != nil {
		return nil, nil, fmt.Errorf("add dictionary strings: %w", err)
	}
	if len(added) > 0 {
		s.dt.mu.Lock()
		for _, n := range added {
			s.dt.add(n.v, n.f, n.id)
		}
		s.dt.mu.Unlock()
	}
	return ids, added, nil
}

// unresolve removes strings added by a delivery that was not committed.
func (s *Store) unresolve(added []newString) {
	if len(added) == 0 {
		return
	}
	s.dt.mu.Lock()
	for _, n := range added {
		s.dt.remove(n.v, n.f, n.id)
	}
	s.dt.mu.Unlock()
}

// cacheIDs adds the strings a committed delivery resolved to the cache.
func (s *Store) cacheIDs(want []string, ids []int64) {
	if s.ids.len()+len(want) > maxCache || s.ids.bytes() > maxCacheBytes {
		s.ids.reset()
		s.complete = false
	}
	for i, v := range want {
		s.ids.put(v, ids[i])
	}
}

// foldDict moves the dictionary tail into the indexes once it holds
// Options.DictBatch strings. Called with s.mu held.
func (s *Store) foldDict(ctx context.Context) error {
	if s.dt.len() < s.opt.DictBatch {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	base := s.dt.base
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO dix(s, id) SELECT s, id FROM dict WHERE id >= ? ORDER BY s`, base); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO dfold(fold, id) SELECT fold, id FROM dict WHERE id >= ? AND fold IS NOT NULL ORDER BY fold, id`, base); err != nil {
		return err
	}
	if err := s.setMeta(ctx, tx, "dmark", s.nextID); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.dt.reset(s.nextID)
	return nil
}

// loadDict reads the dictionary mark, the next id and the tail.
func (s *Store) loadDict(ctx context.Context, dmark int64) error {
	var maxID sql.NullInt64
	if err := s.w.QueryRowContext(ctx, `SELECT max(id) FROM dict`).Scan(&maxID); err != nil {
		return fmt.Errorf("read log store dictionary: %w", err)
	}
	rows, err := s.w.QueryContext(ctx, `SELECT id, s, coalesce(fold, '') FROM dict WHERE id >= ?`, dmark)
	if err != nil {
		return fmt.Errorf("read log store dictionary: %w", err)
	}
	defer rows.Close()
	t := dictTail{byS: map[string]int64{}, byFold: map[string][]int64{}}
	for rows.Next() {
		var id int64
		var v, f string
		if err := rows.Scan(&id, &v, &f); err != nil {
			return fmt.Errorf("read log store dictionary: %w", err)
		}
		t.add(v, f, id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read log store dictionary: %w", err)
	}
	s.nextID = maxID.Int64 + 1
	s.complete = !maxID.Valid
	s.dt.mu.Lock()
	s.dt.base, s.dt.byS, s.dt.byFold = dmark, t.byS, t.byFold
	s.dt.mu.Unlock()
	return nil
}

// rename changes the string of id to v (fold f) in dict, its index or the
// tail. Called with s.mu held, inside tx.
func (s *Store) rename(ctx context.Context, tx *sql.Tx, id int64, v, f string) error {
	var old, oldFold string
	if err := tx.QueryRowContext(ctx, `SELECT s, coalesce(fold, '') FROM dict WHERE id = ?`, id).Scan(&old, &oldFold); err != nil {
		return err
	}
	var fv any
	if f != "" {
		fv = f
	}
	if _, err := tx.ExecContext(ctx, `UPDATE dict SET s = ?, fold = ? WHERE id = ?`, v, fv, id); err != nil {
		return err
	}
	if id >= s.dt.base {
		return nil // the tail is updated by renamed once committed
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM dix WHERE s = ? AND id = ?`, old, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO dix(s, id) VALUES(?, ?)`, v, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM dfold WHERE fold = ? AND id = ?`, oldFold, id); err != nil {
		return err
	}
	if f != "" {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO dfold(fold, id) VALUES(?, ?)`, f, id); err != nil {
			return err
		}
	}
	return nil
}

// renamed reloads the in-memory tail after renames were committed.
func (s *Store) renamed(ctx context.Context) error {
	return s.loadDict(ctx, s.dt.base)
}
