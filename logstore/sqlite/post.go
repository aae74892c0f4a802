package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"

	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// Postings. A segment's postings (for each principal, email and IP, the keys
// of its events) are stored in bucket rows, post(lo, kind, b): bucket b of a
// segment with nb buckets (a power of two, in seg.nb) holds the ids whose low
// bits are b, sorted, each as
//
//	uvarint(id>>log2(nb) - previous id>>log2(nb))  uvarint(len)  keys
//
// where keys are the event keys as varint deltas from the segment's lo. nb is
// chosen so that a bucket holds about postBucket ids: a lookup reads one small
// row per segment, and a segment of 2,048 events writes about a hundred rows
// rather than one per distinct principal, email and IP (rows that the day
// merge would write again).

// postBucket is the number of ids per bucket a segment's bucket count aims at.
const postBucket = 32

// maxBuckets bounds a segment's bucket count.
const maxBuckets = 1 << 16

var errCorruptPost = errors.New("corrupt posting blob")

// bucketsFor returns the bucket count for a segment whose largest kind has n ids.
func bucketsFor(n int) int64 {
	nb := int64(1)
	for nb*postBucket < int64(n) && nb < maxBuckets {
		nb <<= 1
	}
	return nb
}

func shiftOf(nb int64) uint { return uint(bits.TrailingZeros64(uint64(nb))) }

// findPosting returns the encoded keys of id in a bucket blob, or nil.
func findPosting(blob []byte, id int64, shift uint) ([]byte, error) {
	want := uint64(id) >> shift
	var hi uint64
	for len(blob) > 0 {
		d, n := binary.Uvarint(blob)
		if n <= 0 {
			return nil, errCorruptPost
		}
		blob = blob[n:]
		hi += d
		l, n := binary.Uvarint(blob)
		if n <= 0 || l > uint64(len(blob)-n) {
			return nil, errCorruptPost
		}
		blob = blob[n:]
		switch {
		case hi == want:
			return blob[:l], nil
		case hi > want:
			return nil, nil
		}
		blob = blob[l:]
	}
	return nil, nil
}

// eachPosting calls fn for every id of bucket b and its encoded keys.
func eachPosting(blob []byte, b int64, shift uint, fn func(id int64, ks []byte) error) error {
	var hi uint64
	for len(blob) > 0 {
		d, n := binary.Uvarint(blob)
		if n <= 0 {
			return errCorruptPost
		}
		blob = blob[n:]
		hi += d
		l, n := binary.Uvarint(blob)
		if n <= 0 || l > uint64(len(blob)-n) {
			return errCorruptPost
		}
		blob = blob[n:]
		if err := fn(int64(hi<<shift)|b, blob[:l]); err != nil {
			return err
		}
		blob = blob[l:]
	}
	return nil
}

// postWriter encodes one bucket row at a time, ids in increasing order.
type postWriter struct {
	shift  uint
	prevHi uint64
	blob   []byte
}

func (w *postWriter) add(id int64, ks []byte) {
	hi := uint64(id) >> w.shift
	w.blob = binary.AppendUvarint(w.blob, hi-w.prevHi)
	w.blob = binary.AppendUvarint(w.blob, uint64(len(ks)))
	w.blob = append(w.blob, ks...)
	w.prevHi = hi
}

// readPostings adds the postings of the segment at lo (nb buckets) to acc.
func readPostings(ctx context.Context, tx *sql.Tx, lo, nb int64, acc *segAcc) error {
	rows, err := tx.QueryContext(ctx, `SELECT kind, b, ks FROM post WHERE lo = ?`, lo)
	if err != nil {
		return err
	}
	defer rows.Close()
	shift := shiftOf(nb)
	for rows.Next() {
		var kind, b int64
		var blob []byte
		if err := rows.Scan(&kind, &b, &blob); err != nil {
			return err
		}
		if err := eachPosting(blob, b, shift, func(id int64, ks []byte) error {
			start := int32(len(acc.keys))
			err := codec.Keys(ks, lo, func(k int64) { acc.keys = append(acc.keys, k) })
			acc.ents = append(acc.ents, pent{uint64(kind)<<skKind | uint64(id), start, int32(len(acc.keys))})
			return err
		}); err != nil {
			return err
		}
	}
	return rows.Err()
}

// addPosting adds keys to id's entry in bucket blob, returning the new blob.
func addPosting(blob []byte, b int64, shift uint, lo, id int64, add []int64) ([]byte, error) {
	type entry struct {
		id int64
		ks []int64
	}
	var es []entry
	found := false
	if err := eachPosting(blob, b, shift, func(x int64, ks []byte) error {
		e := entry{id: x}
		if err := codec.Keys(ks, lo, func(k int64) { e.ks = append(e.ks, k) }); err != nil {
			return err
		}
		if x == id {
			e.ks = append(e.ks, add...)
			slices.Sort(e.ks)
			e.ks = slices.Compact(e.ks)
			found = true
		}
		es = append(es, e)
		return nil
	}); err != nil {
		return nil, err
	}
	if !found {
		ks := slices.Clone(add)
		slices.Sort(ks)
		es = append(es, entry{id, slices.Compact(ks)})
		slices.SortFunc(es, func(x, y entry) int { return cmp.Compare(x.id, y.id) })
	}
	w := postWriter{shift: shift}
	for _, e := range es {
		w.add(e.id, codec.AppendKeys(nil, lo, e.ks))
	}
	return w.blob, nil
}
