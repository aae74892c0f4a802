package postgres

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore/internal/codec"
)

const (
	hourMs = int64(3600000)
	dayMs  = 24 * hourMs
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Deliver stores batch in one transaction; ids already stored are skipped.
func (s *Store) Deliver(ctx context.Context, batch []event.Event) error {
	if len(batch) == 0 {
		return nil
	}
	for i := range batch {
		if !codec.ValidMs(batch[i].EventDate.UnixMilli()) {
			return fmt.Errorf("deliver to postgres log store: event %q: eventDate out of range", batch[i].ID)
		}
	}
	evs := slices.Clone(batch)
	slices.SortStableFunc(evs, func(a, b event.Event) int { return cmp.Compare(a.EventDate.UnixMilli(), b.EventDate.UnixMilli()) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.deliver(ctx, evs); err != nil {
		return fmt.Errorf("deliver to postgres log store: %w", err)
	}
	return nil
}

func (s *Store) deliver(ctx context.Context, evs []event.Event) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// Strings of the batch, then their ids.
	type strs struct{ pr, em, disp, ip, msg, et, portal, acct, ua, host, path, xtra string }
	ss := make([]strs, len(evs))
	codes := make([]int64, len(evs))
	want := map[string]bool{}
	xtypes := map[string]string{} // extra string -> type unknown to this version
	for i := range evs {
		e := &evs[i]
		code, extra := codec.Code(e)
		codes[i] = code
		v := strs{pr: event.Value(e.Principal), em: event.Value(e.Email), disp: event.Value(e.DisplayName), ip: e.RemoteAddress,
			et: event.Value(e.ErrorType), portal: event.Value(e.PortalID), acct: event.Value(e.AccountID), ua: e.UserAgent,
			host: e.Host, path: e.Path, xtra: extra}
		if e.Message != nil {
			v.msg = codec.Template(*e.Message, e.Identity(), e.FailureCount)
		}
		for _, p := range []*string{&v.pr, &v.em, &v.disp, &v.ip, &v.msg, &v.et, &v.portal, &v.acct, &v.ua, &v.host, &v.path, &v.xtra} {
			*p = clean(*p)
		}
		if codec.TypeCode(e.EventType) < 0 {
			xtypes[v.xtra] = clean(string(e.EventType))
		}
		ss[i] = v
		for _, x := range []string{v.pr, v.em, v.disp, v.ip, v.msg, v.et, v.portal, v.acct, v.ua, v.host, v.path, v.xtra} {
			if _, ok := s.ids[x]; x != "" && !ok {
				want[x] = true
			}
		}
	}
	pending := map[string]int32{}
	if len(want) > 0 {
		var list []string
		var folds []*string
		for x := range want {
			list = append(list, x)
			folds = append(folds, fold(x))
		}
		if _, err := tx.Exec(ctx, `INSERT INTO dict(s, fold) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (s) DO NOTHING`, list, folds); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, s FROM dict WHERE s = ANY($1)`, list)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int32
			var v string
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return err
			}
			pending[v] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var xids []int32
		var xts []string
		for x, t := range xtypes {
			if id, ok := pending[x]; ok {
				xids, xts = append(xids, id), append(xts, t)
			}
		}
		if len(xids) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO xtype(id, t) SELECT * FROM unnest($1::int[], $2::text[]) ON CONFLICT (id) DO NOTHING`, xids, xts); err != nil {
				return err
			}
		}
	}
	ref := func(v string) *int32 {
		if v == "" {
			return nil
		}
		if id, ok := s.ids[v]; ok {
			return &id
		}
		id := pending[v]
		return &id
	}
	n := len(evs)
	var (
		ts                                                            = make([]int64, 0, n)
		uids                                                          = make([]string, 0, n)
		xids, tracet                                                  = make([]*string, 0, n), make([]*string, 0, n)
		code, fc                                                      = make([]int16, 0, n), make([]int16, 0, n)
		pr, em, disp, ip, msg, et, portal, acct, ua, host, path, xtra [](*int32)
		trace                                                         = make([][]byte, 0, n)
	)
	seen := map[string]int{}
	for i := range evs {
		e := &evs[i]
		u, x := uidOf(e.ID, e.EventDate.UnixMilli())
		if _, dup := seen[u.String()]; dup {
			continue
		}
		seen[u.String()] = i
		v := ss[i]
		ts = append(ts, e.EventDate.UnixMilli())
		uids = append(uids, u.String())
		xids = append(xids, x)
		code = append(code, int16(codes[i]))
		fc = append(fc, int16(min(max(e.FailureCount, -32768), 32767)))
		pr, em, disp, ip = append(pr, ref(v.pr)), append(em, ref(v.em)), append(disp, ref(v.disp)), append(ip, ref(v.ip))
		msg, et, portal, acct = append(msg, ref(v.msg)), append(et, ref(v.et)), append(portal, ref(v.portal)), append(acct, ref(v.acct))
		ua, host, path, xtra = append(ua, ref(v.ua)), append(host, ref(v.host)), append(path, ref(v.path)), append(xtra, ref(v.xtra))
		var tb []byte
		var tt *string
		if e.TraceID != "" {
			if b, err := hex.DecodeString(e.TraceID); err == nil && hex.EncodeToString(b) == e.TraceID {
				tb = b
			} else {
				tt = &e.TraceID
			}
		}
		trace, tracet = append(trace, tb), append(tracet, tt)
	}
	rows, err := tx.Query(ctx, `INSERT INTO events(ts, uid, xid, code, pr, em, disp, ip, msg, et, portal, acct, fc, ua, host, path, trace, tracet, xtra)
SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::smallint[], $5::int[], $6::int[], $7::int[], $8::int[], $9::int[], $10::int[],
  $11::int[], $12::int[], $13::smallint[], $14::int[], $15::int[], $16::int[], $17::bytea[], $18::text[], $19::int[])
ON CONFLICT (ts, uid) DO NOTHING RETURNING ts, code, pr, em, ip, disp, portal, xtra`,
		ts, uids, xids, code, pr, em, disp, ip, msg, et, portal, acct, fc, ua, host, path, trace, tracet, xtra)
	if err != nil {
		return err
	}
	type ins struct {
		ts                             int64
		code                           int16
		pr, em, ip, disp, portal, xtra *int32
	}
	var added []ins
	for rows.Next() {
		var r ins
		if err := rows.Scan(&r.ts, &r.code, &r.pr, &r.em, &r.ip, &r.disp, &r.portal, &r.xtra); err != nil {
			rows.Close()
			return err
		}
		added = append(added, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	slices.SortStableFunc(added, func(a, b ins) int { return cmp.Compare(a.ts, b.ts) })
	type hk struct {
		h            int64
		code         int16
		portal, xtra int32
	}
	type dk struct{ day, id int64 }
	hours, udays, idays := map[hk]int64{}, map[dk]int64{}, map[dk]int64{}
	users := map[int64]*codec.User{}
	v := func(p *int32) int64 {
		if p == nil {
			return 0
		}
		return int64(*p)
	}
	for _, r := range added {
		hours[hk{floorDiv(r.ts, hourMs), r.code, int32(v(r.portal)), int32(v(r.xtra))}]++
		ident := v(r.pr)
		if ident == 0 {
			ident = v(r.em)
		}
		day := floorDiv(r.ts, dayMs)
		switch int64(r.code) & codec.TypeMask {
		case codec.FailureCode:
			if r.ip != nil {
				idays[dk{day, v(r.ip)}]++
			}
			fallthrough
		case codec.SuccessCode:
			if ident != 0 {
				udays[dk{day, ident}]++
			}
		}
		if ident != 0 {
			u := users[ident]
			if u == nil {
				u = &codec.User{ID: ident}
				users[ident] = u
			}
			u.Apply(int64(r.code), r.ts, v(r.ip), v(r.disp))
		}
	}
	var b pgx.Batch
	if len(hours) > 0 {
		var h []int64
		var c []int16
		var p, x []int32
		var cnt []int64
		for k, n := range hours {
			h, c, p, x, cnt = append(h, k.h), append(c, k.code), append(p, k.portal), append(x, k.xtra), append(cnt, n)
		}
		b.Queue(`INSERT INTO hourly(h, code, portal, xtra, n) SELECT * FROM unnest($1::int[], $2::smallint[], $3::int[], $4::int[], $5::bigint[])
ON CONFLICT (h, code, portal, xtra) DO UPDATE SET n = hourly.n + excluded.n`, h, c, p, x, cnt)
	}
	for _, t := range []struct {
		table, col string
		m          map[dk]int64
	}{{"user_day", "ident", udays}, {"ip_day", "ip", idays}} {
		if len(t.m) == 0 {
			continue
		}
		var d, id, cnt []int64
		for k, n := range t.m {
			d, id, cnt = append(d, k.day), append(id, k.id), append(cnt, n)
		}
		b.Queue(`INSERT INTO `+t.table+`(day, `+t.col+`, n) SELECT * FROM unnest($1::int[], $2::int[], $3::int[])
ON CONFLICT (day, `+t.col+`) DO UPDATE SET n = `+t.table+`.n + excluded.n`, d, id, cnt)
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return err
		}
	}
	if err := saveUsers(ctx, tx, users); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if len(s.ids)+len(pending) > maxCache {
		clear(s.ids)
	}
	for k, v := range pending {
		s.ids[k] = v
	}
	s.added += int64(len(added))
	if s.added >= s.analyze {
		// Keep the planner's statistics current even where autovacuum is off,
		// and clear the dead rows the upserts leave behind.
		if _, err := s.db.Exec(ctx, `VACUUM (ANALYZE) events, dict, hourly, user_day, ip_day, users`); err != nil {
			s.log.Error("analyzing login log tables", "error", err)
		}
		var n int64
		if err := s.db.QueryRow(ctx, `SELECT reltuples::bigint FROM pg_class WHERE oid = 'events'::regclass`).Scan(&n); err == nil {
			s.analyze = max(20000, n/5)
		}
		s.added = 0
	}
	return nil
}

const userCols = `id, src, seen, login, logout, fail, ip, fails, disp`

func scanUser(row pgx.Row) (*codec.User, error) {
	var u codec.User
	var id int32
	var src *int16
	var seen, login, logout, fail, fails *int64
	var ip, disp *int32
	if err := row.Scan(&id, &src, &seen, &login, &logout, &fail, &ip, &fails, &disp); err != nil {
		return nil, err
	}
	u.ID = int64(id)
	if src != nil {
		u.Source = int64(*src)
	}
	set := func(p *int64, v *int64, ok *bool) {
		if p != nil {
			*v, *ok = *p, true
		}
	}
	set(seen, &u.Seen, &u.HasSeen)
	set(login, &u.Login, &u.HasLogin)
	set(logout, &u.Logout, &u.HasLogout)
	set(fail, &u.Failure, &u.HasFail)
	if fails != nil {
		u.Fails = *fails
	}
	if ip != nil {
		u.IP = int64(*ip)
	}
	if disp != nil {
		u.Disp = int64(*disp)
	}
	return &u, nil
}

func saveUsers(ctx context.Context, tx pgx.Tx, users map[int64]*codec.User) error {
	if len(users) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(users))
	for id := range users {
		ids = append(ids, id)
	}
	rows, err := tx.Query(ctx, `SELECT `+userCols+` FROM users WHERE id = ANY($1) FOR UPDATE`, ids)
	if err != nil {
		return err
	}
	old := map[int64]*codec.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return err
		}
		old[u.ID] = u
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var id, src, ip, disp []int64
	var seen, login, logout, fail []*int64
	var fails []int64
	opt := func(v int64, ok bool) *int64 {
		if !ok {
			return nil
		}
		return &v
	}
	nz := func(v int64) int64 { return v }
	for _, d := range users {
		u := d
		if o := old[d.ID]; o != nil {
			u = o.Merge(d)
		}
		id, src, ip, disp = append(id, u.ID), append(src, u.Source), append(ip, nz(u.IP)), append(disp, nz(u.Disp))
		seen, login = append(seen, opt(u.Seen, u.HasSeen)), append(login, opt(u.Login, u.HasLogin))
		logout, fail = append(logout, opt(u.Logout, u.HasLogout)), append(fail, opt(u.Failure, u.HasFail))
		fails = append(fails, u.Fails)
	}
	_, err = tx.Exec(ctx, `INSERT INTO users(`+userCols+`)
SELECT id, src, seen, login, logout, fail, nullif(ip, 0), fails, nullif(disp, 0)
FROM unnest($1::int[], $2::smallint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::int[], $8::bigint[], $9::int[])
  AS t(id, src, seen, login, logout, fail, ip, fails, disp)
ON CONFLICT (id) DO UPDATE SET src = excluded.src, seen = excluded.seen, login = excluded.login, logout = excluded.logout,
  fail = excluded.fail, ip = excluded.ip, fails = excluded.fails, disp = excluded.disp`,
		id, src, seen, login, logout, fail, ip, fails, disp)
	return err
}

// clean makes v storable as PostgreSQL text, which holds neither NUL bytes nor
// invalid UTF-8.
func clean(v string) string {
	if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
		return strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "\uFFFD")
	}
	return v
}
