package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore/internal/codec"
)

const insertEvents = `INSERT INTO events(k, idb, code, pr, em, disp, ip, msg, et, portal, acct, fc, ua, host, path, trace, xtra) VALUES`

type hourKey struct{ h, code, portal, xtra int64 }

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
	if err := s.sealReady(ctx); err != nil {
		// The events are stored; sealing is retried at the next delivery.
		s.log.Error("sealing login log segment", "error", err)
	}
	if err := s.sc.ready(ctx); err != nil {
		s.log.Error("preparing login log statements", "error", err)
	}
	return nil
}

func (s *Store) insert(ctx context.Context, batch []event.Event, order []int) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	lo := codec.Key(batch[order[0]].EventDate.UnixMilli(), 0)
	hi := codec.Key(batch[order[len(order)-1]].EventDate.UnixMilli()+1, 0)
	taken := map[int64]string{}
	rows, err := tx.QueryContext(ctx, `SELECT k, idb FROM events WHERE k >= ? AND k < ?`, lo, hi)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k int64
		var b []byte
		if err := rows.Scan(&k, &b); err != nil {
			rows.Close()
			return err
		}
		taken[k] = string(b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	ins := newBulk(tx, &s.sc, insertEvents, 17)
	// Every string of the batch, resolved to dict ids in a few statements.
	strs := make([][12]string, len(batch))
	var want []string
	wanted := map[string]bool{}
	for _, i := range order {
		e := &batch[i]
		_, extra := codec.Code(e)
		v := [12]string{event.Value(e.Principal), event.Value(e.Email), event.Value(e.DisplayName), e.RemoteAddress, "",
			event.Value(e.ErrorType), event.Value(e.PortalID), event.Value(e.AccountID), e.UserAgent, e.Host, e.Path, extra}
		if e.Message != nil {
			v[4] = codec.Template(*e.Message, e.Identity(), e.FailureCount)
		}
		if _, ok := inlineIP(v[3]); ok {
			v[3] = "" // stored inline, below
		}
		strs[i] = v
		for _, x := range v {
			if _, ok := s.ids[x]; x != "" && !ok && !wanted[x] {
				wanted[x] = true
				want = append(want, x)
			}
		}
	}
	pending, err := s.resolve(ctx, tx, want)
	if err != nil {
		return err
	}
	ref := func(v string) any {
		if v == "" {
			return nil
		}
		if id, ok := s.ids[v]; ok {
			return id
		}
		return pending[v]
	}
	hours, days := map[hourKey]int64{}, map[hourKey]int64{}
	seen := map[string]bool{}
	var tail, maxMs int64 = 0, s.maxMs
	var late []int64
	for _, i := range order {
		e := &batch[i]
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		ms := e.EventDate.UnixMilli()
		idb, short := codec.SplitID(e.ID, ms)
		dup := false
		seq := 0
		for ; ; seq++ {
			v, ok := taken[codec.Key(ms, seq)]
			if !ok {
				break
			}
			if short && v == string(idb) {
				dup = true
				break
			}
		}
		if !short && !dup {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM xid WHERE id = ?`, idb).Scan(&one)
			if err == nil {
				dup = true
			} else if err != sql.ErrNoRows {
				return err
			}
		}
		if dup {
			continue
		}
		if seq > codec.MaxSeq {
			return fmt.Errorf("event %q: more than %d events in one millisecond", e.ID, codec.MaxSeq+1)
		}
		k := codec.Key(ms, seq)
		taken[k] = string(idb)
		code, _ := codec.Code(e)
		v := &strs[i]
		ip := ref(v[3])
		if id, ok := inlineIP(e.RemoteAddress); ok {
			ip = id
		}
		vals := []any{k, idb, code, ref(v[0]), ref(v[1]), ref(v[2]), ip, ref(v[4]), ref(v[5]), ref(v[6]), ref(v[7])}
		vals = append(vals, e.FailureCount)
		vals = append(vals, ref(v[8]), ref(v[9]), ref(v[10]), packTrace(e.TraceID), ref(v[11]))
		if err := ins.add(ctx, vals...); err != nil {
			return err
		}
		if !short {
			if _, err := tx.ExecContext(ctx, `INSERT INTO xid(id, k) VALUES(?, ?)`, idb, k); err != nil {
				return err
			}
		}
		var portal, xtra int64
		if p, ok := vals[9].(int64); ok {
			portal = p
		}
		if x, ok := vals[16].(int64); ok {
			xtra = x
		}
		hours[hourKey{floorDiv(ms, hourMs), code, portal, xtra}]++
		days[hourKey{floorDiv(ms, dayMs), code, portal, xtra}]++
		if k >= s.mark {
			tail++
		} else {
			late = append(late, k)
		}
		maxMs = max(maxMs, ms)
	}
	if err := ins.flush(ctx); err != nil {
		return err
	}
	if err := addCounts(ctx, tx, &s.sc, hours, days, 1); err != nil {
		return err
	}
	for _, k := range late {
		if err := s.sc.exec(ctx, tx, `INSERT INTO late(k) VALUES(?)`, k); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.commitIDs(pending)
	s.tailLen += tail
	s.maxMs = maxMs
	return nil
}

// packTrace stores a hex trace id as bytes, anything else as text.
func packTrace(t string) any {
	if t == "" {
		return nil
	}
	if b, err := hex.DecodeString(t); err == nil && hex.EncodeToString(b) == t {
		return b
	}
	return t
}

func unpackTrace(v any) string {
	switch t := v.(type) {
	case []byte:
		return hex.EncodeToString(t)
	case string:
		return t
	}
	return ""
}

const (
	hourMs = int64(time.Hour / time.Millisecond)
	dayMs  = 24 * hourMs
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// sealReady seals complete segments (a bounded number per call) and merges
// complete days. Called with s.mu held.
func (s *Store) sealReady(ctx context.Context) error {
	for range 64 {
		lo, hi, ok, err := s.nextSegment(ctx)
		if err != nil || !ok {
			return err
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
func (s *Store) nextSegment(ctx context.Context) (lo, hi int64, ok bool, err error) {
	var first sql.NullInt64
	if err := s.w.QueryRowContext(ctx, `SELECT min(k) FROM events WHERE k >= ?`, s.mark).Scan(&first); err != nil {
		return 0, 0, false, err
	}
	if !first.Valid {
		return 0, 0, false, nil
	}
	lo = s.mark
	safe := s.maxMs - s.opt.SealDelay.Milliseconds()
	end := (floorDiv(codec.Ms(first.Int64), dayMs) + 1) * dayMs
	if end <= safe {
		return lo, codec.Key(end, 0), true, nil
	}
	if s.tailLen < int64(s.opt.SealEvents) {
		return 0, 0, false, nil
	}
	var n int64
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE k >= ? AND k < ?`, s.mark, codec.Key(safe, 0)).Scan(&n); err != nil {
		return 0, 0, false, err
	}
	if n < int64(s.opt.SealEvents) {
		return 0, 0, false, nil
	}
	return lo, codec.Key(safe, 0), true, nil
}

type postKey struct{ kind, key int64 }

// segAcc collects what a segment stores: postings, top-list counts, users.
type segAcc struct {
	post       map[postKey][]int64
	users, ips map[int64]int64
}

func newSegAcc() *segAcc {
	return &segAcc{post: map[postKey][]int64{}, users: map[int64]int64{}, ips: map[int64]int64{}}
}

func (a *segAcc) add(k, code int64, pr, em, ip sql.NullInt64) {
	if pr.Valid {
		a.post[postKey{kindPrincipal, pr.Int64}] = append(a.post[postKey{kindPrincipal, pr.Int64}], k)
	}
	if em.Valid {
		a.post[postKey{kindEmail, em.Int64}] = append(a.post[postKey{kindEmail, em.Int64}], k)
	}
	if ip.Valid {
		a.post[postKey{kindIP, ip.Int64}] = append(a.post[postKey{kindIP, ip.Int64}], k)
	}
	ident := pr
	if !ident.Valid {
		ident = em
	}
	switch code & codec.TypeMask {
	case codec.FailureCode:
		if ip.Valid {
			a.ips[ip.Int64]++
		}
		fallthrough
	case codec.SuccessCode:
		if ident.Valid {
			a.users[ident.Int64]++
		}
	}
}

func (a *segAcc) write(ctx context.Context, tx *sql.Tx, sc *stmts, lo, hi, lvl int64) error {
	keys := make([]postKey, 0, len(a.post))
	for pk := range a.post {
		keys = append(keys, pk)
	}
	slices.SortFunc(keys, func(x, y postKey) int { return cmp.Or(cmp.Compare(x.kind, y.kind), cmp.Compare(x.key, y.key)) })
	st := newBulk(tx, sc, `INSERT INTO post(lo, kind, key, ks) VALUES`, 4)
	for _, pk := range keys {
		ks := a.post[pk]
		slices.Sort(ks)
		if err := st.add(ctx, lo, pk.kind, pk.key, codec.AppendKeys(nil, lo, ks)); err != nil {
			return err
		}
	}
	if err := st.flush(ctx); err != nil {
		return err
	}
	return sc.exec(ctx, tx, `INSERT INTO seg(lo, hi, lvl, users, ips) VALUES(?, ?, ?, ?, ?)`, lo, hi, lvl,
		codec.AppendCounts(nil, a.users), codec.AppendCounts(nil, a.ips))
}

// seal turns [lo, hi) into a level-0 segment, folds late rows into their
// segments, updates users and merges complete days.
func (s *Store) seal(ctx context.Context, lo, hi int64) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	acc := newSegAcc()
	n, err := scanRows(ctx, tx, `SELECT k, code, pr, em, ip, disp FROM events WHERE k >= ? AND k < ? ORDER BY k`, []any{lo, hi}, acc, nil)
	if err != nil {
		return err
	}
	if err := acc.write(ctx, tx, &s.sc, lo, hi, 0); err != nil {
		return err
	}
	// Late rows: fold each into the segment that holds it; those below the
	// users mark update users now, the others with the rows around them.
	users := map[int64]*codec.User{}
	if err := s.foldLate(ctx, tx, lo, s.umark, users); err != nil {
		return err
	}
	umark := s.umark
	if s.ulag+n >= int64(s.opt.UserBatch) {
		if _, err := scanRows(ctx, tx, `SELECT k, code, pr, em, ip, disp FROM events WHERE k >= ? AND k < ? ORDER BY k`, []any{s.umark, hi}, nil, users); err != nil {
			return err
		}
		umark = hi
	}
	if err := saveUsers(ctx, tx, &s.sc, users); err != nil {
		return err
	}
	if umark != s.umark {
		// Identities erased since their events came in must stay unlisted.
		lo, hi := codec.Erased, codec.Erased[:len(codec.Erased)-1]+string(rune(codec.Erased[len(codec.Erased)-1]+1))
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id IN (SELECT id FROM dict WHERE s >= ? AND s < ?)`, lo, hi); err != nil {
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
	s.tailLen = max(0, s.tailLen-n)
	if umark != s.umark {
		s.umark, s.ulag = umark, 0
	} else {
		s.ulag += n
	}
	return nil
}

// scanRows reads (k, code, pr, em, ip, disp) rows into acc and users' updates.
func scanRows(ctx context.Context, q querier, query string, args []any, acc *segAcc, users map[int64]*codec.User) (int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var k, code int64
		var pr, em, ip, disp sql.NullInt64
		if err := rows.Scan(&k, &code, &pr, &em, &ip, &disp); err != nil {
			return 0, err
		}
		n++
		if acc != nil {
			acc.add(k, code, pr, em, ip)
		}
		ident := pr
		if !ident.Valid {
			ident = em
		}
		if ident.Valid && users != nil {
			u := users[ident.Int64]
			if u == nil {
				u = &codec.User{ID: ident.Int64}
				users[ident.Int64] = u
			}
			u.Apply(code, codec.Ms(k), ip.Int64, disp.Int64)
		}
	}
	return n, rows.Err()
}

// userRow is the column list of users in the order loadUsers and saveUsers use.
const userCols = `id, src, seen, login, logout, fail, ip, fails, disp`

func scanUser(sc interface{ Scan(...any) error }) (*codec.User, error) {
	var u codec.User
	var src, seen, login, logout, fail, ip, fails, disp sql.NullInt64
	if err := sc.Scan(&u.ID, &src, &seen, &login, &logout, &fail, &ip, &fails, &disp); err != nil {
		return nil, err
	}
	u.Source, u.IP, u.Fails, u.Disp = src.Int64, ip.Int64, fails.Int64, disp.Int64
	u.Seen, u.HasSeen = seen.Int64, seen.Valid
	u.Login, u.HasLogin = login.Int64, login.Valid
	u.Logout, u.HasLogout = logout.Int64, logout.Valid
	u.Failure, u.HasFail = fail.Int64, fail.Valid
	return &u, nil
}

// loadUsers reads the stored summaries of ids.
func loadUsers(ctx context.Context, q querier, ids []int64) (map[int64]*codec.User, error) {
	out := make(map[int64]*codec.User, len(ids))
	rows, err := q.QueryContext(ctx, `SELECT `+userCols+` FROM users WHERE id IN (SELECT value FROM json_each(?))`, jsonInts(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out[u.ID] = u
	}
	return out, rows.Err()
}

func saveUsers(ctx context.Context, tx *sql.Tx, sc *stmts, users map[int64]*codec.User) error {
	if len(users) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(users))
	for id := range users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	old, err := loadUsers(ctx, tx, ids)
	if err != nil {
		return err
	}
	put := newBulk(tx, sc, `INSERT OR REPLACE INTO users(`+userCols+`) VALUES`, 9)
	for _, id := range ids {
		u := users[id]
		if o := old[id]; o != nil {
			u = o.Merge(u)
		}
		if err := put.add(ctx, u.ID, u.Source, nullIf(u.Seen, u.HasSeen), nullIf(u.Login, u.HasLogin),
			nullIf(u.Logout, u.HasLogout), nullIf(u.Failure, u.HasFail), nz(u.IP), u.Fails, nz(u.Disp)); err != nil {
			return err
		}
	}
	return put.flush(ctx)
}

func nullIf(v int64, ok bool) any {
	if !ok {
		return nil
	}
	return v
}

func nz(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// foldLate adds the late rows below mark to the postings and counts of their
// segments, collecting the users' updates of those below umark.
func (s *Store) foldLate(ctx context.Context, tx *sql.Tx, mark, umark int64, users map[int64]*codec.User) error {
	var ks []int64
	rows, err := tx.QueryContext(ctx, `SELECT k FROM late WHERE k < ? ORDER BY k`, mark)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k int64
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return err
		}
		ks = append(ks, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ks) == 0 {
		return err
	}
	for _, k := range ks {
		var lo int64
		var ub, ib []byte
		err := tx.QueryRowContext(ctx, `SELECT lo, users, ips FROM seg WHERE lo <= ? ORDER BY lo DESC LIMIT 1`, k).Scan(&lo, &ub, &ib)
		if err == sql.ErrNoRows {
			continue // below every segment: deleted range
		}
		if err != nil {
			return err
		}
		acc := newSegAcc()
		u := users
		if k >= umark {
			u = nil // applied with the rows above the users mark
		}
		if _, err := scanRows(ctx, tx, `SELECT k, code, pr, em, ip, disp FROM events WHERE k = ?`, []any{k}, acc, u); err != nil {
			return err
		}
		for pk, add := range acc.post {
			var old []byte
			err := tx.QueryRowContext(ctx, `SELECT ks FROM post WHERE lo = ? AND kind = ? AND key = ?`, lo, pk.kind, pk.key).Scan(&old)
			if err != nil && err != sql.ErrNoRows {
				return err
			}
			all := add
			if err := codec.Keys(old, lo, func(k int64) { all = append(all, k) }); err != nil {
				return err
			}
			slices.Sort(all)
			all = slices.Compact(all)
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO post(lo, kind, key, ks) VALUES(?, ?, ?, ?)`, lo, pk.kind, pk.key, codec.AppendKeys(nil, lo, all)); err != nil {
				return err
			}
		}
		um, im := map[int64]int64{}, map[int64]int64{}
		if err := codec.AddCounts(ub, func(k, n int64) { um[k] += n }); err != nil {
			return err
		}
		if err := codec.AddCounts(ib, func(k, n int64) { im[k] += n }); err != nil {
			return err
		}
		for id, n := range acc.users {
			um[id] += n
		}
		for id, n := range acc.ips {
			im[id] += n
		}
		if _, err := tx.ExecContext(ctx, `UPDATE seg SET users = ?, ips = ? WHERE lo = ?`, codec.AppendCounts(nil, um), codec.AppendCounts(nil, im), lo); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM late WHERE k < ?`, mark)
	return err
}

type segRow struct{ lo, hi, lvl int64 }

// mergeMin is the most level-0 segments a day keeps unmerged: a keyed lookup
// costs one seek per segment (measured: about 30µs when the page is not
// cached), and merging rewrites the day's postings once.
const mergeMin = 1

// mergeDays merges the level-0 segments of every UTC day that ends at or
// before mark into one level-1 segment when there are more than mergeMin of
// them, and marks them level 1 otherwise.
func (s *Store) mergeDays(ctx context.Context, tx *sql.Tx, mark int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT lo, hi FROM seg WHERE lvl = 0 ORDER BY lo`)
	if err != nil {
		return err
	}
	var segs []segRow
	for rows.Next() {
		var r segRow
		if err := rows.Scan(&r.lo, &r.hi); err != nil {
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
		day := floorDiv(codec.Ms(segs[0].hi-1), dayMs)
		if (day+1)*dayMs > markMs {
			return nil
		}
		n := 1
		for n < len(segs) && floorDiv(codec.Ms(segs[n].hi-1), dayMs) == day {
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
		rows, err := tx.QueryContext(ctx, `SELECT kind, key, ks FROM post WHERE lo = ?`, sg.lo)
		if err != nil {
			return err
		}
		for rows.Next() {
			var pk postKey
			var b []byte
			if err := rows.Scan(&pk.kind, &pk.key, &b); err != nil {
				rows.Close()
				return err
			}
			l := acc.post[pk]
			if err := codec.Keys(b, sg.lo, func(k int64) { l = append(l, k) }); err != nil {
				rows.Close()
				return err
			}
			acc.post[pk] = l
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var ub, ib []byte
		if err := tx.QueryRowContext(ctx, `SELECT users, ips FROM seg WHERE lo = ?`, sg.lo).Scan(&ub, &ib); err != nil {
			return err
		}
		if err := codec.AddCounts(ub, func(k, n int64) { acc.users[k] += n }); err != nil {
			return err
		}
		if err := codec.AddCounts(ib, func(k, n int64) { acc.ips[k] += n }); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM post WHERE lo = ?`, sg.lo); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM seg WHERE lo = ?`, sg.lo); err != nil {
			return err
		}
	}
	return acc.write(ctx, tx, &s.sc, lo, hi, 1)
}

// addCounts adds sign times the counts to the hourly and daily rollups.
func addCounts(ctx context.Context, tx *sql.Tx, sc *stmts, hours, days map[hourKey]int64, sign int64) error {
	for _, t := range []struct {
		m     map[hourKey]int64
		query string
	}{
		{hours, `INSERT INTO hourly(h, code, portal, xtra, n) VALUES(?, ?, ?, ?, ?) ON CONFLICT(h, code, portal, xtra) DO UPDATE SET n = n + excluded.n`},
		{days, `INSERT INTO daily(d, code, portal, xtra, n) VALUES(?, ?, ?, ?, ?) ON CONFLICT(d, code, portal, xtra) DO UPDATE SET n = n + excluded.n`},
	} {
		for k, n := range t.m {
			if err := sc.exec(ctx, tx, t.query, k.h, k.code, k.portal, k.xtra, sign*n); err != nil {
				return err
			}
		}
	}
	return nil
}
