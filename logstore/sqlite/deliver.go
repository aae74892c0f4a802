package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore/internal/codec"
)

const insertEvents = `INSERT OR FAIL INTO events(k, idb, code, pr, em, disp, ip, portal, xtra, x) VALUES`

type hourKey struct{ h, code, portal, xtra int64 }

// evRow is what sealing and the user summaries need of an event (0: null).
type evRow struct{ k, code, pr, em, ip, disp int64 }

func (r *evRow) ident() int64 {
	if r.pr != 0 {
		return r.pr
	}
	return r.em
}

// String slots of an event, resolved to dict ids.
const (
	slotPrincipal = iota
	slotEmail
	slotDisplay
	slotIP // only when not inline
	slotMessage
	slotErrorType
	slotPortal
	slotAccount
	slotUA
	slotHost
	slotPath
	slotExtra
	nSlots
)

// hotSlot marks the slots with few distinct values (user agents, hosts,
// paths, message templates, ...), looked up in a small cache first.
var hotSlot = [nSlots]bool{slotMessage: true, slotErrorType: true, slotPortal: true, slotUA: true, slotHost: true, slotPath: true, slotExtra: true}

// maxHot bounds the small cache.
const maxHot = 4096

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
	// The events are stored; what follows is retried at the next delivery.
	if err := s.sealReady(ctx); err != nil {
		s.log.Error("sealing login log segment", "error", err)
	}
	if err := s.foldDict(ctx); err != nil {
		s.log.Error("indexing login log dictionary", "error", err)
	}
	if err := s.sc.ready(ctx); err != nil {
		s.log.Error("preparing login log statements", "error", err)
	}
	return nil
}

func (s *Store) insert(ctx context.Context, batch []event.Event, order []int) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	var added []newString
	defer func() {
		if err != nil {
			s.unresolve(added)
		}
	}()
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

	// Every string of the batch, to dict ids: each looked up once, the ones
	// the cache lacks resolved in a few statements. A pending string is
	// -(its index in want)-1 until then.
	refs := make([][nSlots]int64, len(batch))
	codes := make([]int64, len(batch))
	var want []string
	wanted := map[string]int{}
	var last [nSlots]string
	var lastID [nSlots]int64
	for _, i := range order {
		e := &batch[i]
		code, extra := codec.Code(e)
		codes[i] = code
		v := [nSlots]string{event.Value(e.Principal), event.Value(e.Email), event.Value(e.DisplayName), e.RemoteAddress, "",
			event.Value(e.ErrorType), event.Value(e.PortalID), event.Value(e.AccountID), e.UserAgent, e.Host, e.Path, extra}
		if e.Message != nil {
			v[slotMessage] = codec.Template(*e.Message, e.Identity(), e.FailureCount)
		}
		if _, ok := inlineIP(v[slotIP]); ok {
			v[slotIP] = "" // stored inline, below
		}
		r := &refs[i]
		for j, x := range v {
			switch {
			case x == "":
			case lastID[j] != 0 && x == last[j]:
				r[j] = lastID[j]
			default:
				var id int64
				var ok bool
				if hotSlot[j] {
					if id, ok = s.hot[x]; !ok {
						if id, ok = s.ids.get(x); ok && len(s.hot) < maxHot {
							s.hot[x] = id
						}
					}
				} else {
					id, ok = s.ids.get(x)
				}
				if !ok {
					w, seen := wanted[x]
					if !seen {
						w = len(want)
						wanted[x] = w
						want = append(want, x)
					}
					id = -int64(w) - 1
				}
				r[j], last[j], lastID[j] = id, x, id
			}
		}
	}
	var got []int64
	if len(want) > 0 {
		if got, added, err = s.resolve(ctx, tx, want); err != nil {
			return err
		}
		for _, i := range order {
			for j, id := range refs[i] {
				if id < 0 {
					refs[i][j] = got[-id-1]
				}
			}
		}
	}

	ins := newBulk(tx, &s.sc, insertEvents, 10, "")
	arena := make([]byte, 0, 24*len(batch))
	hours, days := map[hourKey]int64{}, map[hourKey]int64{}
	seen := make(map[string]bool, len(batch))
	maxMs := s.maxMs
	var tail, pend []evRow
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
		code := codes[i]
		r := &refs[i]
		ip := r[slotIP]
		if id, ok := inlineIP(e.RemoteAddress); ok {
			ip = id
		}
		at := len(arena)
		arena = packRest(arena, r, int64(e.FailureCount), e.TraceID)
		if err := ins.add(ctx, k, idb, code, nz(r[slotPrincipal]), nz(r[slotEmail]), nz(r[slotDisplay]), nz(ip), nz(r[slotPortal]),
			nz(r[slotExtra]), arena[at:len(arena):len(arena)]); err != nil {
			return err
		}
		if !short {
			if _, err := tx.ExecContext(ctx, `INSERT INTO xid(id, k) VALUES(?, ?)`, idb, k); err != nil {
				return err
			}
		}
		hours[hourKey{codec.FloorDiv(ms, hourMs), code, r[slotPortal], r[slotExtra]}]++
		days[hourKey{codec.FloorDiv(ms, dayMs), code, r[slotPortal], r[slotExtra]}]++
		row := evRow{k: k, code: code, pr: r[slotPrincipal], em: r[slotEmail], ip: ip, disp: r[slotDisplay]}
		switch {
		case k >= s.mark:
			tail = append(tail, row)
		default:
			late = append(late, k)
			if k >= s.umark {
				pend = append(pend, row)
			}
		}
		maxMs = max(maxMs, ms)
	}
	if err := ins.flush(ctx); err != nil {
		return err
	}
	if err := addCounts(ctx, tx, &s.sc, hours, days, 1); err != nil {
		return err
	}
	lt := newBulk(tx, &s.sc, `INSERT OR FAIL INTO late(k) VALUES`, 1, "")
	for _, k := range late {
		if err := lt.add(ctx, k); err != nil {
			return err
		}
	}
	if err := lt.flush(ctx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.cacheIDs(want, got)
	s.addTail(tail)
	s.pend = append(s.pend, pend...)
	s.maxMs = maxMs
	return nil
}

func nz(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// addTail adds rows (sorted by key) to the unsealed tail, keeping it sorted.
func (s *Store) addTail(rows []evRow) {
	if len(rows) == 0 {
		return
	}
	sorted := len(s.tail) == 0 || s.tail[len(s.tail)-1].k < rows[0].k
	s.tail = append(s.tail, rows...)
	if !sorted {
		slices.SortFunc(s.tail, func(a, b evRow) int { return cmp.Compare(a.k, b.k) })
	}
}

// packRest encodes the columns no query filters on into the events row's x:
// message, error type, account, failure count, user agent, host and path as
// varints, then the trace id, if any: 0 and its bytes when it is lower-case
// hex, else 1 and its text.
func packRest(b []byte, r *[nSlots]int64, fc int64, trace string) []byte {
	for _, v := range [...]int64{r[slotMessage], r[slotErrorType], r[slotAccount], fc, r[slotUA], r[slotHost], r[slotPath]} {
		b = binary.AppendVarint(b, v)
	}
	if trace == "" {
		return b
	}
	if len(trace)%2 == 0 {
		if t, err := hex.DecodeString(trace); err == nil && hex.EncodeToString(t) == trace {
			return append(append(b, 0), t...)
		}
	}
	return append(append(b, 1), trace...)
}

var errCorruptRow = errors.New("corrupt event row")

// unpackRest decodes packRest's bytes into r.
func unpackRest(b []byte, r *row) error {
	for _, p := range [...]*int64{&r.msg, &r.et, &r.acct, &r.fc, &r.ua, &r.host, &r.path} {
		v, n := binary.Varint(b)
		if n <= 0 {
			return errCorruptRow
		}
		*p, b = v, b[n:]
	}
	switch {
	case len(b) == 0:
	case b[0] == 0:
		r.trace = hex.EncodeToString(b[1:])
	default:
		r.trace = string(b[1:])
	}
	return nil
}

const (
	hourMs = codec.HourMs
	dayMs  = codec.DayMs
)

// addCounts adds sign times the counts to the hourly and daily rollups.
func addCounts(ctx context.Context, tx *sql.Tx, sc *stmts, hours, days map[hourKey]int64, sign int64) error {
	for _, t := range []struct {
		m          map[hourKey]int64
		head, tail string
	}{
		{hours, `INSERT INTO hourly(h, code, portal, xtra, n) VALUES`, ` ON CONFLICT(h, code, portal, xtra) DO UPDATE SET n = n + excluded.n`},
		{days, `INSERT INTO daily(d, code, portal, xtra, n) VALUES`, ` ON CONFLICT(d, code, portal, xtra) DO UPDATE SET n = n + excluded.n`},
	} {
		// Sorted, so that each row of a statement comes after the previous one.
		keys := make([]hourKey, 0, len(t.m))
		for k := range t.m {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b hourKey) int {
			return cmp.Or(cmp.Compare(a.h, b.h), cmp.Compare(a.code, b.code), cmp.Compare(a.portal, b.portal), cmp.Compare(a.xtra, b.xtra))
		})
		b := newBulk(tx, sc, t.head, 5, t.tail)
		for _, k := range keys {
			if err := b.add(ctx, k.h, k.code, k.portal, k.xtra, sign*t.m[k]); err != nil {
				return err
			}
		}
		if err := b.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}
