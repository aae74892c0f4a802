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
// with three packed blobs: the number of events per (code, portal, xtra)
// (packEventCounts), the attempts per identity and the failures per IP (counts
// blobs, codec.AppendCounts with codec.VarintDelta). Stats and the totals of
// unkeyed queries add up the rows of the whole hours they cover. Rows are
// only ever inserted (DeleteBefore replaces those of the hour it cuts), so
// concurrent writers never wait for one another here.

// ckey is what events are counted by.
type ckey struct {
	code         int16
	portal, xtra int32
}

// tallyAcc accumulates one hour of a batch.
type tallyAcc struct {
	counts     map[ckey]int64
	users, ips map[int64]int64
}

func newTallyAcc() *tallyAcc {
	return &tallyAcc{counts: map[ckey]int64{}, users: map[int64]int64{}, ips: map[int64]int64{}}
}

// add counts one event.
func (t *tallyAcc) add(code int16, portal, xtra int32, ident, ip int64) {
	t.counts[ckey{code, portal, xtra}]++
	switch c := int64(code) & codec.TypeMask; c {
	case codec.SuccessCode, codec.FailureCode:
		if ident != 0 {
			t.users[ident]++
		}
		if c == codec.FailureCode && ip != 0 {
			t.ips[ip]++
		}
	}
}

func (t *tallyAcc) pack() (users, ips, counts []byte) {
	return codec.AppendCountMap(make([]byte, 0, 4*len(t.users)), codec.VarintDelta, t.users),
		codec.AppendCountMap(make([]byte, 0, 4*len(t.ips)), codec.VarintDelta, t.ips),
		packEventCounts(t.counts)
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
func unpackEventCounts(b []byte, fn func(code int16, portal, xtra int32, n int64)) error {
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
		fn(int16(k[0]), int32(k[1]), int32(k[2]), int64(c))
	}
	return nil
}

var errCorrupt = errors.New("corrupt rollup blob")

// tallyRow is one row of the tally table; users and ips are only read when asked for.
type tallyRow struct {
	users, ips, counts []byte
}

// eachTally calls fn for every tally row of the hours [hLo, hHi).
func eachTally(ctx context.Context, q querier, hLo, hHi int64, keyed bool, fn func(h int64, t *tallyRow) error) error {
	cols := `h, NULL::bytea, NULL::bytea, counts`
	if keyed {
		cols = `h, users, ips, counts`
	}
	rows, err := q.Query(ctx, `SELECT `+cols+` FROM tally WHERE h >= $1 AND h < $2`, hLo, hHi)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var h int32
		var t tallyRow
		if err := rows.Scan(&h, &t.users, &t.ips, &t.counts); err != nil {
			return err
		}
		if err := fn(int64(h), &t); err != nil {
			return err
		}
	}
	return rows.Err()
}
