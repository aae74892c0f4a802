package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// Events are partitioned by date, partMs (7 UTC days) each. New
// rows all go to the newest partition, so the indexes being written stay in
// the buffer cache, while one big index on email or IP would take a page read
// and a page write per event once it outgrew it. A query plans and probes
// every partition its date range overlaps, so partitions must not be too
// small either. Whole partitions go by TRUNCATE when their events expire.

// partMs is the span of a partition. Changing it would make new partitions
// overlap old ones.
const partMs = 7 * dayMs

// partOf returns the number of the partition of ms.
func partOf(ms int64) int64 { return codec.FloorDiv(ms, partMs) }

// partName returns the name of partition p, after its first day.
func partName(p int64) string {
	day := p * partMs / dayMs
	t := time.UnixMilli(day * dayMs).UTC()
	if y := t.Year(); y >= 1000 && y <= 9999 {
		return "events_" + t.Format("20060102")
	}
	if day < 0 {
		return "events_dm" + strconv.FormatInt(-day, 10)
	}
	return "events_d" + strconv.FormatInt(day, 10)
}

// ensureParts makes sure partitions ps exist.
func (s *Store) ensureParts(ctx context.Context, ps []int64) error {
	for _, p := range ps {
		if s.parts[p] {
			continue
		}
		if err := s.createPart(ctx, p); err != nil {
			return fmt.Errorf("create partition from %s: %w", time.UnixMilli(p*partMs).UTC().Format(time.DateOnly), err)
		}
		s.parts[p] = true
	}
	return nil
}

// createPart creates and attaches partition p unless it exists.
// ATTACH takes a lock on events that neither reads nor writes wait for,
// where CREATE TABLE ... PARTITION OF would wait for every running query.
func (s *Store) createPart(ctx context.Context, p int64) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.lockKey("partitions")); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass AND inhrelid::regclass::text = $1`,
		partName(p)).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return tx.Commit(ctx)
	}
	name := pgx.Identifier{partName(p)}.Sanitize()
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+name+` (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE events ATTACH PARTITION `+name+` FOR VALUES FROM (`+
		strconv.FormatInt(p*partMs, 10)+`) TO (`+strconv.FormatInt((p+1)*partMs, 10)+`)`); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P17" {
			return nil // another partition covers the range
		}
		return err
	}
	return tx.Commit(ctx)
}

// lockKey returns the advisory lock key of what in this store's schema.
func (s *Store) lockKey(what string) int64 {
	h := fnv.New64a()
	h.Write([]byte("loginguard/" + s.schema + "/" + what))
	return int64(h.Sum64())
}

// part is one partition of events.
type part struct {
	name   string
	lo, hi int64 // ms
}

// partitions lists the partitions of events, oldest first.
func (s *Store) partitions(ctx context.Context, q querier) ([]part, error) {
	rows, err := q.Query(ctx, `SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'events'::regclass`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []part
	for rows.Next() {
		var p part
		var bound string
		if err := rows.Scan(&p.name, &bound); err != nil {
			return nil, err
		}
		// FOR VALUES FROM ('lo') TO ('hi')
		if _, err := fmt.Sscanf(bound, "FOR VALUES FROM ('%d') TO ('%d')", &p.lo, &p.hi); err != nil {
			if _, err := fmt.Sscanf(bound, "FOR VALUES FROM (%d) TO (%d)", &p.lo, &p.hi); err != nil {
				continue // not one of ours
			}
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
