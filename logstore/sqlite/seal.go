package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"slices"
	"sort"

	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// sealReady seals complete segments (a bounded number per call) and merges
// complete days. Called with s.mu held.
func (s *Store) sealReady(ctx context.Context) error {
	for range 64 {
		lo, hi, ok := s.nextSegment()
		if !ok {
			return nil
		}
		if err := s.seal(ctx, lo, hi); err != nil {
			return err
		}
	}
	return nil
}

// nextSegment returns the range the next seal covers and whether it is due:
// the tail up to SealDelay before the newest event, cut at the next UTC day
// boundary, once it holds SealEvents events or reaches that boundary.
func (s *Store) nextSegment() (lo, hi int64, ok bool) {
	if len(s.tail) == 0 {
		return 0, 0, false
	}
	lo = s.mark
	safe := s.maxMs - s.opt.SealDelay.Milliseconds()
	end := (codec.FloorDiv(codec.Ms(s.tail[0].k), dayMs) + 1) * dayMs
	if end <= safe {
		return lo, codec.Key(end, 0), true
	}
	if len(s.tail) < s.opt.SealEvents {
		return 0, 0, false
	}
	if s.tailBelow(codec.Key(safe, 0)) < s.opt.SealEvents {
		return 0, 0, false
	}
	return lo, codec.Key(safe, 0), true
}

// tailBelow returns the number of tail rows with keys below k.
func (s *Store) tailBelow(k int64) int {
	return sort.Search(len(s.tail), func(i int) bool { return s.tail[i].k >= k })
}

// segAcc collects what a segment stores: postings and top-list counts, in
// flat slices sorted when written (maps cost twice as much at a day's
// hundreds of thousands of entries).
type segAcc struct {
	ents       []pent        // one per (kind, id) and row, or per posting read back
	keys       []int64       // the keys of ents
	users, ips []codec.Count // attempts per identity, failures per IP; ids repeat
}

// skKind is where an entry's sort key holds its kind, above the id.
const skKind = 44

// pent is keys[start:end] of one kind and id.
type pent struct {
	sk         uint64 // kind<<skKind | id (ids are below 2^42)
	start, end int32
}

func newSegAcc() *segAcc { return &segAcc{} }

func (a *segAcc) addKey(kind, id, k int64) {
	n := int32(len(a.keys))
	a.ents = append(a.ents, pent{uint64(kind)<<skKind | uint64(id), n, n + 1})
	a.keys = append(a.keys, k)
}

func (a *segAcc) add(r *evRow) {
	if r.pr != 0 {
		a.addKey(kindPrincipal, r.pr, r.k)
	}
	if r.em != 0 {
		a.addKey(kindEmail, r.em, r.k)
	}
	if r.ip != 0 {
		a.addKey(kindIP, r.ip, r.k)
	}
	switch r.code & codec.TypeMask {
	case codec.FailureCode:
		if r.ip != 0 {
			a.ips = append(a.ips, codec.Count{Key: r.ip, N: r.n})
		}
		fallthrough
	case codec.SuccessCode:
		if id := r.ident(); id != 0 {
			a.users = append(a.users, codec.Count{Key: id, N: r.n})
		}
	}
}

// readCounts appends the pairs of a seg.users or seg.ips blob to l.
func readCounts(l *[]codec.Count, b []byte) error {
	return codec.AddCounts(b, codec.UvarintDelta, func(id, n int64) { *l = append(*l, codec.Count{Key: id, N: n}) })
}

// radixSort sorts ents by sk, stably (entries of one kind and id stay in key
// order), in passes of 11 bits over the 46 bits sk uses; buf is scratch
// space. It returns the sorted slice (ents or buf).
func radixSort(ents, buf []pent) []pent {
	if len(ents) < 64 {
		slices.SortStableFunc(ents, func(x, y pent) int { return cmp.Compare(x.sk, y.sk) })
		return ents
	}
	var or uint64
	for _, e := range ents {
		or |= e.sk
	}
	buf = slices.Grow(buf[:0], len(ents))[:len(ents)]
	src, dst := ents, buf
	for shift := uint(0); shift < 64; shift += 11 {
		if or>>shift&(1<<11-1) == 0 {
			continue // every digit 0: the pass would not move anything
		}
		var count [1 << 11]int
		for _, e := range src {
			count[e.sk>>shift&(1<<11-1)]++
		}
		sum := 0
		for i, c := range count {
			count[i], sum = sum, sum+c
		}
		for _, e := range src {
			d := e.sk >> shift & (1<<11 - 1)
			dst[count[d]] = e
			count[d]++
		}
		src, dst = dst, src
	}
	return src
}

func (a *segAcc) write(ctx context.Context, tx *sql.Tx, sc *stmts, lo, hi, lvl int64) error {
	// Group the entries by kind and id, keeping key order.
	a.ents = radixSort(a.ents, nil)
	type group struct {
		bk       uint64 // kind<<62 | bucket<<44 | id>>shift: the order of rows and entries
		id       int64
		from, to int32 // in ents
	}
	var per [4]int
	var groups []group
	for i := 0; i < len(a.ents); {
		j := i + 1
		for j < len(a.ents) && a.ents[j].sk == a.ents[i].sk {
			j++
		}
		groups = append(groups, group{bk: a.ents[i].sk, from: int32(i), to: int32(j)})
		per[a.ents[i].sk>>skKind]++
		i = j
	}
	nb := bucketsFor(max(per[kindPrincipal], per[kindEmail], per[kindIP]))
	shift, mask := shiftOf(nb), uint64(nb-1)
	for i := range groups {
		g := &groups[i]
		kind, id := g.bk>>skKind, g.bk&(1<<skKind-1)
		g.id = int64(id)
		g.bk = kind<<62 | (id&mask)<<44 | id>>shift
	}
	slices.SortFunc(groups, func(x, y group) int { return cmp.Compare(x.bk, y.bk) })
	st := newBulk(tx, sc, `INSERT OR FAIL INTO post(lo, kind, b, ks) VALUES`, 4, "")
	var w postWriter
	row := uint64(1) << 63 // kind<<18 | bucket of the row being written; none yet
	var ksBuf []byte
	for _, g := range groups {
		if r := g.bk >> 44; r != row {
			if len(w.blob) > 0 {
				if err := st.add(ctx, lo, int64(row>>18), int64(row&(1<<18-1)), w.blob); err != nil {
					return err
				}
			}
			row, w = r, postWriter{shift: shift}
		}
		ksBuf = ksBuf[:0]
		prev := lo
		for _, e := range a.ents[g.from:g.to] {
			for _, k := range a.keys[e.start:e.end] {
				if k == prev && len(ksBuf) > 0 {
					continue
				}
				ksBuf = binary.AppendVarint(ksBuf, k-prev)
				prev = k
			}
		}
		w.add(g.id, ksBuf)
	}
	if len(w.blob) > 0 {
		if err := st.add(ctx, lo, int64(row>>18), int64(row&(1<<18-1)), w.blob); err != nil {
			return err
		}
	}
	if err := st.flush(ctx); err != nil {
		return err
	}
	return sc.exec(ctx, tx, `INSERT OR FAIL INTO seg(lo, hi, lvl, nb, users, ips) VALUES(?, ?, ?, ?, ?, ?)`, lo, hi, lvl, nb,
		codec.AppendCounts(nil, codec.UvarintDelta, a.users), codec.AppendCounts(nil, codec.UvarintDelta, a.ips))
}

// seal turns [lo, hi) into a level-0 segment, folds late rows into their
// segments, updates users and merges complete days. The segment's rows are
// the head of the in-memory tail.
func (s *Store) seal(ctx context.Context, lo, hi int64) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	n := s.tailBelow(hi)
	rows := s.tail[:n]
	acc := newSegAcc()
	for i := range rows {
		acc.add(&rows[i])
	}
	if err := acc.write(ctx, tx, &s.sc, lo, hi, 0); err != nil {
		return err
	}
	// Late rows: fold each into the segment that holds it; those below the
	// users mark update users now, the others are in s.pend.
	users := map[int64]*codec.User{}
	if err := s.foldLate(ctx, tx, lo, s.umark, users); err != nil {
		return err
	}
	umark := s.umark
	pend := append(s.pend[:len(s.pend):len(s.pend)], rows...)
	if len(pend) >= s.opt.UserBatch {
		slices.SortStableFunc(pend, func(a, b evRow) int { return cmp.Compare(a.k, b.k) })
		for i := range pend {
			applyUser(users, &pend[i])
		}
		umark = hi
	}
	if err := saveUsers(ctx, tx, &s.sc, users); err != nil {
		return err
	}
	if umark != s.umark {
		// Identities erased since their events came in must stay unlisted.
		if err := s.dropErasedUsers(ctx, tx); err != nil {
			return err
		}
		if err := s.setMeta(ctx, tx, "umark", umark); err != nil {
			return err
		}
	}
	if err := s.setMeta(ctx, tx, "mark", hi); err != nil {
		return err
	}
	if err := s.mergeDays(ctx, tx, hi); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.mark = hi
	s.tail = append(s.tail[:0:0], s.tail[n:]...)
	if umark != s.umark {
		s.umark, s.pend = umark, nil
	} else {
		s.pend = pend
	}
	return nil
}

// applyUser folds one event into the summaries of users.
func applyUser(users map[int64]*codec.User, r *evRow) {
	id := r.ident()
	if id == 0 {
		return
	}
	u := users[id]
	if u == nil {
		u = &codec.User{ID: id}
		users[id] = u
	}
	u.Apply(r.code, codec.Ms(r.k), r.ip, r.disp, r.n)
}

// dropErasedUsers deletes the summaries of erased identities.
func (s *Store) dropErasedUsers(ctx context.Context, tx *sql.Tx) error {
	lo, hi := codec.Erased, codec.Erased[:len(codec.Erased)-1]+string(rune(codec.Erased[len(codec.Erased)-1]+1))
	ids, err := s.dictRange(ctx, tx, lo, hi, fresh)
	if err != nil || len(ids) == 0 {
		return err
	}
	slices.Sort(ids)
	return deleteUsers(ctx, tx, &s.sc, ids)
}

// scanRows reads rows of evRowCols.
func scanRows(ctx context.Context, q querier, query string, args []any, fn func(r *evRow)) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r evRow
		var pr, em, ip, disp sql.NullInt64
		if err := rows.Scan(&r.k, &r.code, &pr, &em, &ip, &disp, &r.n); err != nil {
			return err
		}
		r.pr, r.em, r.ip, r.disp = pr.Int64, em.Int64, ip.Int64, disp.Int64
		fn(&r)
	}
	return rows.Err()
}

// loadMemory reads the unsealed tail and the events the users table lags
// behind. Called with s.mu held (or before the store is shared).
func (s *Store) loadMemory(ctx context.Context) error {
	var tail, pend []evRow
	if err := scanRows(ctx, s.w, `SELECT `+evRowCols+` FROM events WHERE k >= ? ORDER BY k`, []any{s.mark}, func(r *evRow) {
		tail = append(tail, *r)
	}); err != nil {
		return err
	}
	if err := scanRows(ctx, s.w, `SELECT `+evRowCols+` FROM events WHERE k >= ? AND k < ? ORDER BY k`, []any{s.umark, s.mark}, func(r *evRow) {
		pend = append(pend, *r)
	}); err != nil {
		return err
	}
	s.tail, s.pend = tail, pend
	return nil
}

// foldLate adds the late rows below mark to the postings and counts of their
// segments, collecting the users' updates of those below umark.
func (s *Store) foldLate(ctx context.Context, tx *sql.Tx, mark, umark int64, users map[int64]*codec.User) error {
	ks, err := intColumn(ctx, tx, `SELECT k FROM late WHERE k < ? ORDER BY k`, mark)
	if err != nil || len(ks) == 0 {
		return err
	}
	for _, k := range ks {
		var lo, nb int64
		var ub, ib []byte
		err := tx.QueryRowContext(ctx, `SELECT lo, nb, users, ips FROM seg WHERE lo <= ? ORDER BY lo DESC LIMIT 1`, k).Scan(&lo, &nb, &ub, &ib)
		if err == sql.ErrNoRows {
			continue // below every segment: deleted range
		}
		if err != nil {
			return err
		}
		acc := newSegAcc()
		if err := scanRows(ctx, tx, `SELECT `+evRowCols+` FROM events WHERE k = ?`, []any{k}, func(r *evRow) {
			acc.add(r)
			if k < umark {
				applyUser(users, r)
			} // else applied with the rows above the users mark
		}); err != nil {
			return err
		}
		shift := shiftOf(nb)
		for _, e := range acc.ents {
			kind, id := int64(e.sk>>skKind), int64(e.sk&(1<<skKind-1))
			b := id & (nb - 1)
			var old []byte
			err := tx.QueryRowContext(ctx, `SELECT ks FROM post WHERE lo = ? AND kind = ? AND b = ?`, lo, kind, b).Scan(&old)
			if err != nil && err != sql.ErrNoRows {
				return err
			}
			blob, err := addPosting(old, b, shift, lo, id, acc.keys[e.start:e.end])
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO post(lo, kind, b, ks) VALUES(?, ?, ?, ?)`, lo, kind, b, blob); err != nil {
				return err
			}
		}
		users, ips := acc.users, acc.ips
		if err := readCounts(&users, ub); err != nil {
			return err
		}
		if err := readCounts(&ips, ib); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE seg SET users = ?, ips = ? WHERE lo = ?`, codec.AppendCounts(nil, codec.UvarintDelta, users), codec.AppendCounts(nil, codec.UvarintDelta, ips), lo); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM late WHERE k < ?`, mark)
	return err
}

type segRow struct{ lo, hi, nb int64 }

// mergeMin is the most level-0 segments a day keeps unmerged: a keyed lookup
// costs one seek per segment (a page read when the page is not cached), and
// merging rewrites the day's postings once.
const mergeMin = 1

// mergeDays merges the level-0 segments of every UTC day that ends at or
// before mark into one level-1 segment when there are more than mergeMin of
// them, and marks them level 1 otherwise.
func (s *Store) mergeDays(ctx context.Context, tx *sql.Tx, mark int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT lo, hi, nb FROM seg WHERE lvl = 0 ORDER BY lo`)
	if err != nil {
		return err
	}
	var segs []segRow
	for rows.Next() {
		var r segRow
		if err := rows.Scan(&r.lo, &r.hi, &r.nb); err != nil {
			rows.Close()
			return err
		}
		segs = append(segs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	markMs := codec.Ms(mark)
	for len(segs) > 0 {
		day := codec.FloorDiv(codec.Ms(segs[0].hi-1), dayMs)
		if (day+1)*dayMs > markMs {
			return nil
		}
		n := 1
		for n < len(segs) && codec.FloorDiv(codec.Ms(segs[n].hi-1), dayMs) == day {
			n++
		}
		if n > mergeMin {
			if err := s.mergeSegs(ctx, tx, segs[:n]); err != nil {
				return err
			}
		} else if _, err := tx.ExecContext(ctx, `UPDATE seg SET lvl = 1 WHERE lo >= ? AND lo <= ?`, segs[0].lo, segs[n-1].lo); err != nil {
			return err
		}
		segs = segs[n:]
	}
	return nil
}

func (s *Store) mergeSegs(ctx context.Context, tx *sql.Tx, segs []segRow) error {
	lo, hi := segs[0].lo, segs[len(segs)-1].hi
	acc := newSegAcc()
	for _, sg := range segs {
		if err := readPostings(ctx, tx, sg.lo, sg.nb, acc); err != nil {
			return err
		}
		var ub, ib []byte
		if err := tx.QueryRowContext(ctx, `SELECT users, ips FROM seg WHERE lo = ?`, sg.lo).Scan(&ub, &ib); err != nil {
			return err
		}
		if err := readCounts(&acc.users, ub); err != nil {
			return err
		}
		if err := readCounts(&acc.ips, ib); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM post WHERE lo >= ? AND lo <= ?`, lo, segs[len(segs)-1].lo); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM seg WHERE lo >= ? AND lo <= ?`, lo, segs[len(segs)-1].lo); err != nil {
		return err
	}
	return acc.write(ctx, tx, &s.sc, lo, hi, 1)
}
