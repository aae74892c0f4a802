package postgres

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// The tally rollup: every batch adds one row per UTC hour its events fall in,
// with five packed blobs: the number of events per (code, portal, xtra)
// (packEventCounts, counts: the totals of queries count events), the
// attempts those events stand for beyond one each (packEventCounts, more:
// the counts of sampled refusals; NULL when none, and in rows written before
// it existed, whose events each stood for one attempt; Stats counts counts +
// more attempts), the attempts per identity and the failed attempts per IP
// (counts blobs, codec.AppendCounts with codec.VarintDelta), and the attempts
// per country and device type and failed attempts per AS (packGeoCounts; NULL
// in the rows written before it existed, whose hours Stats reads from the
// events). Stats and the totals of
// unkeyed queries add up the rows of the whole hours they cover. Rows are
// only ever inserted (DeleteBefore replaces those of the hour it cuts), so
// concurrent writers never wait for one another here.

// ckey is what events are counted by.
type ckey struct {
	code         int32 // codec.Code, all of it: code and flags (16 bits since flags; 9 before)
	portal, xtra int32
}

// tallyAcc accumulates one hour of a batch: events per ckey (counts), the
// attempts they stand for beyond one each (more: sampled refusals' counts),
// and attempts per identity, failed attempts per IP and attempts per
// country, AS and device type.
type tallyAcc struct {
	counts, more map[ckey]int64
	users, ips   map[int64]int64
	geo          map[gkey]int64
}

func newTallyAcc() *tallyAcc {
	return &tallyAcc{counts: map[ckey]int64{}, more: map[ckey]int64{}, users: map[int64]int64{}, ips: map[int64]int64{}, geo: map[gkey]int64{}}
}

// gkey is what the location and device counts are by: a country (s, the
// code) or a device type (s) with the attempt's type, or an AS (asn, with s
// its organisation) for failures.
type gkey struct {
	kind, code byte
	asn        int64
	s          string
}

// Kinds of gkey.
const (
	geoCountry = 1
	geoASN     = 2
	geoDevice  = 3
)

// addGeo counts one event's country, AS (organisation org) and device type:
// n attempts.
func (t *tallyAcc) addGeo(code int64, cc string, asn int64, org, dev string, n int64) {
	c := code & codec.TypeMask
	if c != codec.SuccessCode && c != codec.FailureCode {
		return
	}
	if cc != "" {
		t.geo[gkey{kind: geoCountry, code: byte(c), s: cc}] += n
	}
	if dev != "" {
		t.geo[gkey{kind: geoDevice, code: byte(c), s: dev}] += n
	}
	if asn != 0 && c == codec.FailureCode {
		t.geo[gkey{kind: geoASN, code: byte(c), asn: asn, s: org}] += n
	}
}

// packGeoCounts encodes counts sorted by key: kind and code as one byte
// each, the ASN as a uvarint (0 for other kinds), the string as a uvarint
// length and its bytes, then the count as a uvarint.
func packGeoCounts(m map[gkey]int64) []byte {
	keys := make([]gkey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b gkey) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.code, b.code), cmp.Compare(a.asn, b.asn), cmp.Compare(a.s, b.s))
	})
	b := make([]byte, 0, 8*len(keys))
	for _, k := range keys {
		b = append(b, k.kind, k.code)
		b = binary.AppendUvarint(b, uint64(k.asn))
		b = binary.AppendUvarint(b, uint64(len(k.s)))
		b = append(b, k.s...)
		b = binary.AppendUvarint(b, uint64(m[k]))
	}
	return b
}

// addGeoCounts adds a blob written by packGeoCounts to acc.
func addGeoCounts(b []byte, acc *codec.GeoAcc) error {
	for len(b) > 0 {
		if len(b) < 2 {
			return errCorrupt
		}
		kind, code := b[0], int64(b[1])
		b = b[2:]
		asn, n := binary.Uvarint(b)
		if n <= 0 {
			return errCorrupt
		}
		b = b[n:]
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return errCorrupt
		}
		s := string(b[n : n+int(l)])
		b = b[n+int(l):]
		c, n := binary.Uvarint(b)
		if n <= 0 {
			return errCorrupt
		}
		b = b[n:]
		switch kind {
		case geoCountry:
			acc.AddCountry(s, code, int64(c))
		case geoDevice:
			acc.AddDevice(s, code, int64(c))
		case geoASN:
			acc.AddASN(int64(asn), s, int64(c))
		default:
			return errCorrupt
		}
	}
	return nil
}

// add counts one event, standing for n attempts.
func (t *tallyAcc) add(code int64, portal, xtra int32, ident, ip, n int64) {
	k := ckey{int32(code), portal, xtra}
	t.counts[k]++
	if n > 1 {
		t.more[k] += n - 1
	}
	switch c := code & codec.TypeMask; c {
	case codec.SuccessCode, codec.FailureCode:
		if ident != 0 {
			t.users[ident] += n
		}
		if c == codec.FailureCode && ip != 0 {
			t.ips[ip] += n
		}
	}
}

// pack encodes the blobs of a tally row; more is nil when every event
// stands for one attempt.
func (t *tallyAcc) pack() (users, ips, counts, geo, more []byte) {
	if len(t.more) > 0 {
		more = packEventCounts(t.more)
	}
	return codec.AppendCountMap(make([]byte, 0, 4*len(t.users)), codec.VarintDelta, t.users),
		codec.AppendCountMap(make([]byte, 0, 4*len(t.ips)), codec.VarintDelta, t.ips),
		packEventCounts(t.counts), packGeoCounts(t.geo), more
}

// packEventCounts encodes counts sorted by key: code, portal and xtra as
// varint deltas from the previous key's, then the count.
func packEventCounts(m map[ckey]int64) []byte {
	keys := make([]ckey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b ckey) int {
		return cmp.Or(cmp.Compare(a.code, b.code), cmp.Compare(a.portal, b.portal), cmp.Compare(a.xtra, b.xtra))
	})
	b := make([]byte, 0, 6*len(keys))
	var prev ckey
	for _, k := range keys {
		b = binary.AppendVarint(b, int64(k.code)-int64(prev.code))
		b = binary.AppendVarint(b, int64(k.portal)-int64(prev.portal))
		b = binary.AppendVarint(b, int64(k.xtra)-int64(prev.xtra))
		b = binary.AppendUvarint(b, uint64(m[k]))
		prev = k
	}
	return b
}

// unpackEventCounts calls fn for every count of a blob written by packEventCounts.
func unpackEventCounts(b []byte, fn func(code int64, portal, xtra int32, n int64)) error {
	var k [3]int64
	for len(b) > 0 {
		for i := range k {
			d, n := binary.Varint(b)
			if n <= 0 {
				return errCorrupt
			}
			k[i] += d
			b = b[n:]
		}
		c, n := binary.Uvarint(b)
		if n <= 0 {
			return errCorrupt
		}
		b = b[n:]
		fn(k[0], int32(k[1]), int32(k[2]), int64(c))
	}
	return nil
}

var errCorrupt = errors.New("corrupt rollup blob")

// tallyRow is one row of the tally table; users, ips and geo are only read
// when asked for.
type tallyRow struct {
	users, ips, counts, geo, more []byte
}

// eachTally calls fn for every tally row of the hours [hLo, hHi).
func eachTally(ctx context.Context, q querier, hLo, hHi int64, keyed bool, fn func(h int64, t *tallyRow) error) error {
	cols := `h, NULL::bytea, NULL::bytea, counts, NULL::bytea, more`
	if keyed {
		cols = `h, users, ips, counts, geo, more`
	}
	rows, err := q.Query(ctx, `SELECT `+cols+` FROM tally WHERE h >= $1 AND h < $2`, hLo, hHi)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var h int32
		var t tallyRow
		if err := rows.Scan(&h, &t.users, &t.ips, &t.counts, &t.geo, &t.more); err != nil {
			return err
		}
		if err := fn(int64(h), &t); err != nil {
			return err
		}
	}
	return rows.Err()
}
