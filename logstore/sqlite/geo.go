package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"

	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// The geodaily rollup: per UTC day, the attempts per country and per device
// type and the failures per autonomous system (with the AS organisation they
// named), for the location and device breakdowns of Stats. Maintained in
// each Deliver transaction and by DeleteBefore, as daily is; built from the
// events when a file of format 3 is upgraded. Scanning the events instead
// cost 0.6 to 2.7 s for a million of them, the rollup a few ms.
//
//	geodaily.d       UTC day                          floor(ms / dayMs)
//	geodaily.kind    what is counted by               geoCountry, geoASN, geoDevice
//	geodaily.key     the country, ASN or device type  dict id of events.cc; events.asn; dict id of events.dev
//	geodaily.org     AS organisation (geoASN only)    dict id; 0: none or another kind
//	geodaily.code    success or failure               codec.SuccessCode, codec.FailureCode (geoASN: failures only)
//	geodaily.n       attempts counted                 integer: the sum of the events' attempts
//	                                                  (1 + events.more); files older than
//	                                                  events.more counted events, each 1 attempt
const geoSchema = `CREATE TABLE IF NOT EXISTS geodaily(d INT, kind INT, key INT, org INT, code INT, n INT NOT NULL,
  PRIMARY KEY(d, kind, key, org, code)) WITHOUT ROWID;`

// Kinds of geodaily rows.
const (
	geoCountry = 1
	geoASN     = 2
	geoDevice  = 3
)

// geoKey is a geodaily row's key (d is 0 where days do not matter).
type geoKey struct{ d, kind, key, org, code int64 }

// addGeoKeys counts one event of code on day d, from country cc, AS asn
// naming organisation org and device type dev (dict ids and ASN; 0: none),
// standing for n attempts.
func addGeoKeys(m map[geoKey]int64, d, code, cc, asn, org, dev, n int64) {
	t := code & codec.TypeMask
	if t != codec.SuccessCode && t != codec.FailureCode {
		return
	}
	if cc != 0 {
		m[geoKey{d, geoCountry, cc, 0, t}] += n
	}
	if dev != 0 {
		m[geoKey{d, geoDevice, dev, 0, t}] += n
	}
	if asn != 0 && t == codec.FailureCode {
		m[geoKey{d, geoASN, asn, org, t}] += n
	}
}

// addGeoCounts adds sign times the counts of m to geodaily.
func addGeoCounts(ctx context.Context, tx *sql.Tx, sc *stmts, m map[geoKey]int64, sign int64) error {
	keys := make([]geoKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Sorted, so that each row of a statement comes after the previous one.
	slices.SortFunc(keys, func(a, b geoKey) int {
		return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.kind, b.kind), cmp.Compare(a.key, b.key), cmp.Compare(a.org, b.org), cmp.Compare(a.code, b.code))
	})
	b := newBulk(tx, sc, `INSERT INTO geodaily(d, kind, key, org, code, n) VALUES`, 6,
		` ON CONFLICT(d, kind, key, org, code) DO UPDATE SET n = n + excluded.n`)
	for _, k := range keys {
		if err := b.add(ctx, k.d, k.kind, k.key, k.org, k.code, sign*m[k]); err != nil {
			return err
		}
	}
	return b.flush(ctx)
}

// geoCols selects from events what addGeoKeys needs: key, code, cc, asn,
// dev, for failures with an ASN g (for the AS organisation), and the
// attempts.
const geoCols = `SELECT k, code, coalesce(cc, 0), coalesce(asn, 0), coalesce(dev, 0),
  CASE WHEN asn IS NOT NULL AND (code & 7) = 2 THEN g END, 1 + coalesce(more, 0) FROM events`

// geoColsFormat3 is geoCols for a file of format 3 or 4, whose events have no
// more column: each stands for one attempt.
const geoColsFormat3 = `SELECT k, code, coalesce(cc, 0), coalesce(asn, 0), coalesce(dev, 0),
  CASE WHEN asn IS NOT NULL AND (code & 7) = 2 THEN g END, 1 FROM events`

// scanGeo adds the events query (selecting geoCols) finds to m, by UTC day
// when days, else all on day 0.
func scanGeo(ctx context.Context, q querier, m map[geoKey]int64, days bool, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, code, cc, asn, dev, n int64
		var g []byte
		if err := rows.Scan(&k, &code, &cc, &asn, &dev, &g, &n); err != nil {
			return err
		}
		var r row
		if g != nil {
			if err := unpackGeo(g, &r); err != nil {
				return err
			}
		}
		var d int64
		if days {
			d = codec.FloorDiv(codec.Ms(k), dayMs)
		}
		addGeoKeys(m, d, code, cc, asn, r.asOrg, dev, n)
	}
	return rows.Err()
}

// migrate3 upgrades a file of format 3, which has no geodaily: it creates
// it from the events.
func (s *Store) migrate3(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	if _, err := tx.ExecContext(ctx, geoSchema+`DELETE FROM geodaily;`); err != nil {
		return err
	}
	m := map[geoKey]int64{}
	if err := scanGeo(ctx, tx, m, true, geoColsFormat3+` WHERE (code & 7) IN (1, 2) AND (cc IS NOT NULL OR asn IS NOT NULL OR dev IS NOT NULL)`); err != nil {
		return err
	}
	if err := addGeoCounts(ctx, tx, &s.sc, m, 1); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `PRAGMA user_version = 4`); err != nil {
		return err
	}
	return tx.Commit()
}

// statGeo adds the location and device counts of [lo, hi) to acc: whole UTC
// days from geodaily, the rest from the events.
func (s *Store) statGeo(ctx context.Context, q querier, acc *codec.GeoAcc, lo, hi int64) error {
	m := map[geoKey]int64{}
	dLo := codec.FloorDiv(codec.Ms(lo)+dayMs-1, dayMs)
	dHi := codec.FloorDiv(codec.Ms(hi), dayMs)
	const rawCond = ` AND (code & 7) IN (1, 2) AND (cc IS NOT NULL OR asn IS NOT NULL OR dev IS NOT NULL)`
	if dHi <= dLo {
		if err := scanGeo(ctx, q, m, false, geoCols+` WHERE k >= ? AND k < ?`+rawCond, lo, hi); err != nil {
			return err
		}
	} else {
		rows, err := q.QueryContext(ctx, `SELECT kind, key, org, code, sum(n) FROM geodaily WHERE d >= ? AND d < ? GROUP BY kind, key, org, code`, dLo, dHi)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k geoKey
			var n int64
			if err := rows.Scan(&k.kind, &k.key, &k.org, &k.code, &n); err != nil {
				rows.Close()
				return err
			}
			m[k] += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := scanGeo(ctx, q, m, false, geoCols+` WHERE ((k >= ? AND k < ?) OR (k >= ? AND k < ?))`+rawCond,
			lo, codec.Key(dLo*dayMs, 0), codec.Key(dHi*dayMs, 0), hi); err != nil {
			return err
		}
	}
	var ids []int64
	for k := range m {
		if k.kind != geoASN {
			ids = append(ids, k.key)
		}
		if k.org != 0 {
			ids = append(ids, k.org)
		}
	}
	nm, err := s.strs(ctx, q, ids)
	if err != nil {
		return err
	}
	for k, n := range m {
		switch k.kind {
		case geoCountry:
			acc.AddCountry(nm[k.key], k.code, n)
		case geoDevice:
			acc.AddDevice(nm[k.key], k.code, n)
		case geoASN:
			acc.AddASN(k.key, nm[k.org], n)
		}
	}
	return nil
}
