package postgres

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// The per-identity summaries (logstore.UserSummary) change with nearly every
// event, and a batch touches about one users row per event: updating them in
// each Deliver cost more than writing the events. So a batch adds one udelta
// row instead, its summaries packed, and a background fold merges the deltas
// into users, in SQL so that concurrent folders and writers merge rather than
// overwrite. Users reads users and the deltas not folded yet, so it is exact
// at every moment.

// foldBatches is how many batches a process writes before it folds udelta.
const foldBatches = 64

// Flags of a packed user summary.
const (
	uSeen = 1 << iota
	uLogin
	uLogout
	uFail
	uSrcShift = 4
)

// packUsers encodes summaries sorted by id: id delta, flags with the source,
// then the times present as deltas from the first seen time, ip, profile
// (codec.User.Disp: the dict id of the profile with the display name) and
// failure count.
func packUsers(users map[int64]*codec.User) []byte {
	ids := make([]int64, 0, len(users))
	for id := range users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var base int64
	for _, id := range ids {
		base = users[id].Seen
		break
	}
	b := make([]byte, 0, 16+20*len(ids))
	b = binary.AppendVarint(b, base)
	var prev int64
	for _, id := range ids {
		u := users[id]
		b = binary.AppendVarint(b, id-prev)
		prev = id
		f := byte(u.Source&3) << uSrcShift
		for i, ok := range []bool{u.HasSeen, u.HasLogin, u.HasLogout, u.HasFail} {
			if ok {
				f |= 1 << i
			}
		}
		b = append(b, f)
		for i, t := range []int64{u.Seen, u.Login, u.Logout, u.Failure} {
			if f&(1<<i) != 0 {
				b = binary.AppendVarint(b, t-base)
			}
		}
		b = binary.AppendVarint(b, u.IP)
		b = binary.AppendVarint(b, u.Disp)
		b = binary.AppendVarint(b, u.Fails)
	}
	return b
}

// packBreached encodes the breached-password counts of the summaries that
// have some, sorted by id: id delta (varint), attempts and successes
// (uvarints). It is a column of its own (udelta.bb) rather than a part of
// packUsers' blob so that an instance of an earlier version, which reads
// that blob and not this one, misreads nothing while a fleet is upgraded (it
// folds the deltas it reads without these counts).
func packBreached(users map[int64]*codec.User) []byte {
	ids := make([]int64, 0, len(users))
	for id, u := range users {
		if u.Breached != 0 || u.BreachedOK != 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	b := make([]byte, 0, 6*len(ids))
	var prev int64
	for _, id := range ids {
		u := users[id]
		b = binary.AppendVarint(b, id-prev)
		b = binary.AppendUvarint(b, uint64(u.Breached))
		b = binary.AppendUvarint(b, uint64(u.BreachedOK))
		prev = id
	}
	return b
}

// unpackBreached adds the counts of a blob written by packBreached to the
// summaries of users (made when missing).
func unpackBreached(b []byte, users map[int64]*codec.User) error {
	var id int64
	for len(b) > 0 {
		d, n := binary.Varint(b)
		if n <= 0 {
			return errCorrupt
		}
		b = b[n:]
		id += d
		var v [2]uint64
		for i := range v {
			x, n := binary.Uvarint(b)
			if n <= 0 {
				return errCorrupt
			}
			v[i], b = x, b[n:]
		}
		u := users[id]
		if u == nil {
			u = &codec.User{ID: id}
			users[id] = u
		}
		u.Breached += int64(v[0])
		u.BreachedOK += int64(v[1])
	}
	return nil
}

// unpackUsers calls fn for every summary of a blob written by packUsers.
func unpackUsers(b []byte, fn func(u *codec.User)) error {
	next := func() (int64, bool) {
		v, n := binary.Varint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	base, ok := next()
	if !ok {
		return errCorrupt
	}
	var id int64
	for len(b) > 0 {
		d, ok := next()
		if !ok || len(b) == 0 {
			return errCorrupt
		}
		id += d
		f := b[0]
		b = b[1:]
		u := &codec.User{ID: id, Source: int64(f >> uSrcShift & 3)}
		for i, p := range []struct {
			t  *int64
			ok *bool
		}{{&u.Seen, &u.HasSeen}, {&u.Login, &u.HasLogin}, {&u.Logout, &u.HasLogout}, {&u.Failure, &u.HasFail}} {
			if f&(1<<i) != 0 {
				t, ok := next()
				if !ok {
					return errCorrupt
				}
				*p.t, *p.ok = base+t, true
			}
		}
		var vs [3]int64
		for i := range vs {
			if vs[i], ok = next(); !ok {
				return errCorrupt
			}
		}
		u.IP, u.Disp, u.Fails = vs[0], vs[1], vs[2]
		fn(u)
	}
	return nil
}

// readDeltas merges the udelta rows q sees, oldest first, by identity.
func readDeltas(ctx context.Context, q querier, query string) (map[int64]*codec.User, error) {
	rows, err := q.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type delta struct {
		seq   int64
		b, bb []byte
	}
	var ds []delta
	for rows.Next() {
		var d delta
		if err := rows.Scan(&d.seq, &d.b, &d.bb); err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(ds, func(a, b delta) int { return cmp.Compare(a.seq, b.seq) })
	out := map[int64]*codec.User{}
	for _, d := range ds {
		batch := map[int64]*codec.User{}
		if err := unpackUsers(d.b, func(u *codec.User) { batch[u.ID] = u }); err != nil {
			return nil, err
		}
		if err := unpackBreached(d.bb, batch); err != nil {
			return nil, err
		}
		ids := make([]int64, 0, len(batch))
		for id := range batch {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			u := batch[id]
			if o := out[id]; o != nil {
				u = o.Merge(u)
			}
			out[id] = u
		}
	}
	return out, nil
}

// fold merges every udelta row into users, in tx. It waits for any other
// fold (of any process) to finish first, so deltas are merged in order.
func (s *Store) fold(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.lockKey("fold")); err != nil {
		return err
	}
	users, err := readDeltas(ctx, tx, `DELETE FROM udelta RETURNING seq, b, bb`)
	if err != nil || len(users) == 0 {
		return err
	}
	ids := make([]int64, 0, len(users))
	for id := range users {
		ids = append(ids, id)
	}
	slices.Sort(ids) // the same lock order in every folder
	const chunk = 5000
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		if err := upsertUsers(ctx, tx, ids[:n], users); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// nullMs stands for a missing time in the users upsert's arrays.
const nullMs = math.MinInt64

// upsertUsers merges summaries into users (as codec.User.Merge), in SQL so
// that whatever another transaction committed meanwhile is merged too.
func upsertUsers(ctx context.Context, tx pgx.Tx, ids []int64, users map[int64]*codec.User) error {
	n := len(ids)
	seen, login, logout, fail, ip := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	disp, fails, src := make([]int64, n), make([]int64, n), make([]int16, n)
	breached, breachedOK := make([]int64, n), make([]int64, n)
	opt := func(v int64, ok bool) int64 {
		if !ok {
			return nullMs
		}
		return v
	}
	for i, id := range ids {
		u := users[id]
		seen[i], login[i], logout[i], fail[i] = opt(u.Seen, u.HasSeen), opt(u.Login, u.HasLogin), opt(u.Logout, u.HasLogout), opt(u.Failure, u.HasFail)
		ip[i], disp[i], fails[i], src[i] = u.IP, u.Disp, u.Fails, int16(u.Source)
		breached[i], breachedOK[i] = u.Breached, u.BreachedOK
	}
	_, err := tx.Exec(ctx, `INSERT INTO users(seen, login, logout, fail, ip, id, disp, fails, src, breached, breached_ok)
SELECT nullif(seen, $9), nullif(login, $9), nullif(logout, $9), nullif(fail, $9), nullif(ip, 0), id, nullif(disp, 0), fails, src, breached, breached_ok
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::int[], $7::int[], $8::int[], $10::smallint[],
  $11::int[], $12::int[]) AS t(seen, login, logout, fail, ip, id, disp, fails, src, breached, breached_ok)
ON CONFLICT (id) DO UPDATE SET
  breached = users.breached + excluded.breached,
  breached_ok = users.breached_ok + excluded.breached_ok,
  src = CASE WHEN users.seen IS NULL OR excluded.seen >= users.seen THEN excluded.src ELSE users.src END,
  ip = CASE WHEN (users.seen IS NULL OR excluded.seen >= users.seen) AND excluded.ip IS NOT NULL THEN excluded.ip ELSE users.ip END,
  disp = CASE WHEN (users.seen IS NULL OR excluded.seen >= users.seen) AND excluded.disp IS NOT NULL THEN excluded.disp ELSE users.disp END,
  seen = greatest(users.seen, excluded.seen),
  logout = greatest(users.logout, excluded.logout),
  fail = greatest(users.fail, excluded.fail),
  fails = CASE WHEN excluded.login IS NOT NULL AND (users.login IS NULL OR excluded.login > users.login) THEN excluded.fails
    ELSE users.fails + excluded.fails END,
  login = greatest(users.login, excluded.login)`,
		seen, login, logout, fail, ip, ids, disp, fails, int64(nullMs), src, breached, breachedOK)
	return err
}

// idleFold is how long after its last batch a process folds its deltas, so
// that Users reads few of them once writes pause.
const idleFold = time.Second

func (s *Store) idleKick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.batches > 0 && s.bgCtx.Err() == nil {
		s.kick(s.added >= idleAnalyze)
	}
}

// idleAnalyze is how many events added since the last VACUUM ANALYZE make a
// pause in writes run one.
const idleAnalyze = 10000

// kick asks the background maintenance for a fold of udelta, and for a
// VACUUM ANALYZE when analyze; it starts it unless it runs already (it then
// runs again). Called with s.mu held.
func (s *Store) kick(analyze bool) {
	s.batches = 0
	s.bgFold = true
	if analyze {
		for _, t := range []string{"dict", "ctx", "tally", "udelta", "users"} {
			s.bgTables[t] = true
		}
		for p := range s.touched {
			s.bgTables[pgx.Identifier{partName(p)}.Sanitize()] = true
		}
		clear(s.touched)
		s.added = 0
	}
	if !s.bgRun && s.bgCtx.Err() == nil {
		s.bgRun = true
		s.bg.Add(1)
		go s.background()
	}
}

// background runs the maintenance asked for until none is left.
func (s *Store) background() {
	defer s.bg.Done()
	for {
		s.mu.Lock()
		if (!s.bgFold && len(s.bgTables) == 0) || s.bgCtx.Err() != nil {
			s.bgRun = false
			s.mu.Unlock()
			return
		}
		var tables []string
		for t := range s.bgTables {
			tables = append(tables, t)
		}
		slices.Sort(tables)
		clear(s.bgTables)
		s.bgFold = false
		s.mu.Unlock()
		s.maintain(s.bgCtx, tables)
	}
}

// maintain folds udelta, then vacuums and analyzes tables (if any): this
// keeps the planner's statistics and the visibility map current even where
// autovacuum is off, and clears the dead rows upserts leave behind.
func (s *Store) maintain(ctx context.Context, tables []string) {
	tx, err := s.db.Begin(ctx)
	if err == nil {
		if err = s.fold(ctx, tx); err == nil {
			err = tx.Commit(ctx)
		}
		tx.Rollback(ctx)
	}
	if err == nil && len(tables) == 0 {
		// The folded deltas' space (mostly TOAST) is free again at once.
		_, err = s.db.Exec(ctx, `VACUUM udelta`)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Error("folding login log user summaries", "error", err)
	}
	if len(tables) == 0 || ctx.Err() != nil {
		return
	}
	if _, err := s.db.Exec(ctx, `VACUUM (ANALYZE) `+strings.Join(tables, ", ")); err != nil && ctx.Err() == nil {
		s.log.Error("analyzing login log tables", "error", err)
	}
	var n int64
	if err := s.db.QueryRow(ctx, `SELECT coalesce(sum(c.reltuples), 0)::bigint FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'events'::regclass AND c.reltuples > 0`).Scan(&n); err == nil {
		s.mu.Lock()
		s.analyze = max(50000, n/3)
		s.mu.Unlock()
	}
}

const userCols = `seen, login, logout, fail, ip, id, disp, fails, src, breached, breached_ok`

func scanUser(row pgx.Row) (*codec.User, error) {
	var u codec.User
	var id, fails int32
	var src int16
	var seen, login, logout, fail, ip *int64
	var disp *int32
	if err := row.Scan(&seen, &login, &logout, &fail, &ip, &id, &disp, &fails, &src, &u.Breached, &u.BreachedOK); err != nil {
		return nil, err
	}
	u.ID, u.Source, u.Fails, u.Disp = int64(id), int64(src), int64(fails), iv(disp)
	set := func(p *int64, v *int64, ok *bool) {
		if p != nil {
			*v, *ok = *p, true
		}
	}
	set(seen, &u.Seen, &u.HasSeen)
	set(login, &u.Login, &u.HasLogin)
	set(logout, &u.Logout, &u.HasLogout)
	set(fail, &u.Failure, &u.HasFail)
	if ip != nil {
		u.IP = *ip
	}
	return &u, nil
}

func scanUsers(rows pgx.Rows, err error) ([]*codec.User, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var us []*codec.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		us = append(us, u)
	}
	return us, rows.Err()
}

// byRecent orders summaries as Users lists them: last seen first, then by id.
func byRecent(a, b *codec.User) int {
	if a.HasSeen != b.HasSeen {
		if a.HasSeen {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(b.Seen, a.Seen), cmp.Compare(a.ID, b.ID))
}

// Users lists identities by last activity: the users table merged with the
// deltas not folded yet.
func (s *Store) Users(ctx context.Context, f logstore.UsersFilter) ([]logstore.UserSummary, int64, error) {
	if f.Size <= 0 {
		f.Size = logstore.DefaultPageSize
	}
	f.Number = max(f.Number, 0)
	out := []logstore.UserSummary{}
	wrapErr := func(err error) error { return fmt.Errorf("list users of postgres log store: %w", err) }
	tx, err := s.db.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return out, 0, wrapErr(err)
	}
	defer tx.Rollback(ctx)
	delta, err := readDeltas(ctx, tx, `SELECT seq, b, bb FROM udelta`)
	if err != nil {
		return out, 0, wrapErr(err)
	}
	// The deltas' identities, merged with their users rows and filtered.
	dids := make([]int64, 0, len(delta))
	for id := range delta {
		dids = append(dids, id)
	}
	var merged []*codec.User
	var fresh int64 // identities only in the deltas
	if len(dids) > 0 {
		old, err := scanUsers(tx.Query(ctx, `SELECT `+userCols+` FROM users WHERE id = ANY($1)`, dids))
		if err != nil {
			return out, 0, wrapErr(err)
		}
		known := make(map[int64]bool, len(old))
		for _, o := range old {
			delta[o.ID], known[o.ID] = o.Merge(delta[o.ID]), true
		}
		var nm map[int64]string
		if f.Search != "" {
			if nm, err = s.strs(ctx, tx, dids); err != nil {
				return out, 0, wrapErr(err)
			}
		}
		search := strings.ToLower(f.Search)
		for _, id := range dids {
			if f.Search != "" && !strings.Contains(strings.ToLower(nm[id]), search) {
				continue
			}
			merged = append(merged, delta[id])
			if !known[id] {
				fresh++
			}
		}
		slices.SortFunc(merged, byRecent)
	}
	where, args := ` WHERE true`, []any{}
	if f.Search != "" {
		where = ` JOIN dict d ON d.id = u.id WHERE strpos(coalesce(d.fold, d.s), $1) > 0`
		args = append(args, strings.ToLower(f.Search))
	}
	var total int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM users u`+where, args...).Scan(&total); err != nil {
		return out, 0, wrapErr(err)
	}
	total += fresh
	// The first Number*Size+Size rows of each list hold the page.
	want := f.Number*f.Size + f.Size
	args = append(args, dids, want)
	n := len(args)
	rest, err := scanUsers(tx.Query(ctx, `SELECT u.`+strings.ReplaceAll(userCols, ", ", ", u.")+` FROM users u`+where+
		` AND u.id <> ALL($`+strconv.Itoa(n-1)+`) ORDER BY u.seen DESC NULLS LAST, u.id LIMIT $`+strconv.Itoa(n), args...))
	if err != nil {
		return out, 0, wrapErr(err)
	}
	all := append(merged, rest...)
	slices.SortStableFunc(all, byRecent)
	lo, hi := min(f.Number*f.Size, len(all)), min(want, len(all))
	page := all[lo:hi]
	var ids []int64
	for _, u := range page {
		ids = append(ids, u.ID, u.IP, u.Disp)
	}
	nm, err := s.strs(ctx, tx, ids)
	if err != nil {
		return out, 0, wrapErr(err)
	}
	for _, u := range page {
		out = append(out, u.Summary(nm[u.ID], nm[u.IP], parseProfile(nm[u.Disp]).disp))
	}
	return out, total, nil
}
