package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// Get returns the event with the given id.
func (s *Store) Get(ctx context.Context, id string) (event.Event, bool, error) {
	tx, _, err := s.snapshot(ctx)
	if err != nil {
		return event.Event{}, false, fmt.Errorf("get from sqlite log store: %w", err)
	}
	defer tx.Rollback()
	if seq, ok := logstore.ParseSeq(id); ok {
		// The sequence number is the row key.
		evs, err := s.byKeys(ctx, tx, []int64{seq})
		if err != nil || len(evs) == 0 {
			return event.Event{}, false, wrap("get from sqlite log store", err)
		}
		return evs[0], true, nil
	}
	if prefix, ms, ok := codec.ShortCandidate(id); ok {
		lo, hi := codec.ShortWindow(ms)
		rs, err := s.rows(ctx, tx, `SELECT `+eventCols+` FROM events WHERE k >= ? AND k < ? AND substr(idb, 1, 10) = ?`, lo, hi, prefix)
		if err != nil {
			return event.Event{}, false, fmt.Errorf("get from sqlite log store: %w", err)
		}
		for _, r := range rs {
			if codec.JoinID(r.idb, r.k) == id {
				evs, err := s.decode(ctx, tx, []row{r})
				if err != nil {
					return event.Event{}, false, fmt.Errorf("get from sqlite log store: %w", err)
				}
				return evs[0], true, nil
			}
		}
	}
	var k int64
	err = tx.QueryRowContext(ctx, `SELECT k FROM xid WHERE id = ?`, codec.LongID(id)).Scan(&k)
	if err == sql.ErrNoRows {
		return event.Event{}, false, nil
	}
	if err != nil {
		return event.Event{}, false, fmt.Errorf("get from sqlite log store: %w", err)
	}
	evs, err := s.byKeys(ctx, tx, []int64{k})
	if err != nil || len(evs) == 0 {
		return event.Event{}, false, wrap("get from sqlite log store", err)
	}
	return evs[0], true, nil
}

// eachChunk is how many events Each reads at a time.
const eachChunk = 1000

// Each calls fn for every matching event in date order, reading a chunk of
// rows (or one segment's postings) at a time.
func (s *Store) Each(ctx context.Context, f logstore.Filter, asc bool, fn func(event.Event) error) error {
	tx, m, err := s.snapshot(ctx)
	if err != nil {
		return fmt.Errorf("export sqlite log store: %w", err)
	}
	p, err := s.plan(ctx, tx, f, m.dmark)
	tx.Rollback()
	if err != nil || p.none {
		return wrap("export sqlite log store", err)
	}
	return wrap("export sqlite log store", s.walk(ctx, p, asc, fn))
}

// Principal calls fn for every event of identity, oldest first.
func (s *Store) Principal(ctx context.Context, identity string, fn func(event.Event) error) error {
	if identity == "" {
		return nil
	}
	t, err := s.identityTerm(ctx, s.r, identity, fresh)
	if err != nil {
		return fmt.Errorf("read identity from sqlite log store: %w", err)
	}
	p := &plan{lo: codec.KeyOf(zeroTime), hi: codec.KeyEnd(zeroTime), terms: []term{t}}
	return wrap("read identity from sqlite log store", s.walk(ctx, p, true, fn))
}

// identityTerm matches an identity as a principal (exactly) or an email (any case).
func (s *Store) identityTerm(ctx context.Context, q querier, identity string, dmark int64) (term, error) {
	pr, err := s.lookup(ctx, q, identity, dmark)
	if err != nil {
		return nil, err
	}
	em, err := s.lookupFold(ctx, q, identity, dmark)
	if err != nil {
		return nil, err
	}
	return term{kindPrincipal: {pr}, kindEmail: em}, nil
}

func (s *Store) walk(ctx context.Context, p *plan, asc bool, fn func(event.Event) error) error {
	if len(p.terms) == 0 {
		return s.walkRows(ctx, p, asc, fn)
	}
	// Windows: the segment boundaries inside [lo, hi), then the tail.
	bounds, err := intColumn(ctx, s.r, `SELECT lo FROM seg WHERE lo > ? AND lo < ? UNION SELECT hi FROM seg WHERE hi > ? AND hi < ? ORDER BY 1`, p.lo, p.hi, p.lo, p.hi)
	if err != nil {
		return err
	}
	bounds = append(append([]int64{p.lo}, bounds...), p.hi)
	bounds = slices.Compact(bounds)
	type win struct{ lo, hi int64 }
	wins := make([]win, 0, len(bounds))
	for i := 0; i+1 < len(bounds); i++ {
		wins = append(wins, win{bounds[i], bounds[i+1]})
	}
	if !asc {
		slices.Reverse(wins)
	}
	for _, w := range wins {
		if err := s.walkWindow(ctx, p, w.lo, w.hi, asc, fn); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) walkWindow(ctx context.Context, p *plan, lo, hi int64, asc bool, fn func(event.Event) error) error {
	tx, m, err := s.snapshot(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ks, err := s.keys(ctx, tx, p, lo, hi, m.mark, m.live)
	if err == nil {
		ks, err = filterKeys(ctx, tx, p, ks)
	}
	if err != nil {
		return err
	}
	if !asc {
		slices.Reverse(ks)
	}
	for len(ks) > 0 {
		n := min(len(ks), eachChunk)
		evs, err := s.byKeys(ctx, tx, ks[:n])
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
		}
		ks = ks[n:]
	}
	return nil
}

// walkRows pages through the events table by key.
func (s *Store) walkRows(ctx context.Context, p *plan, asc bool, fn func(event.Event) error) error {
	lo, hi := p.lo, p.hi
	for lo < hi {
		if err := ctx.Err(); err != nil {
			return err
		}
		args := append([]any{lo, hi}, p.allArgs()...)
		args = append(args, eachChunk)
		dir := "ASC"
		if !asc {
			dir = "DESC"
		}
		rs, err := s.rows(ctx, s.r, `SELECT `+eventCols+` FROM events WHERE k >= ? AND k < ?`+p.evCond()+` ORDER BY k `+dir+` LIMIT ?`, args...)
		if err != nil {
			return err
		}
		evs, err := s.decode(ctx, s.r, rs)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(rs) < eachChunk {
			return nil
		}
		if asc {
			lo = rs[len(rs)-1].k + 1
		} else {
			hi = rs[len(rs)-1].k
		}
	}
	return nil
}
