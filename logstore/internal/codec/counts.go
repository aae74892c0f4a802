package codec

import (
	"cmp"
	"encoding/binary"
	"slices"
)

// A counts blob holds (key, count) pairs, such as the login attempts per
// identity or the failures per IP (both keyed by dictionary id) of a span of
// events. The pairs are sorted by key; each is written as the key's delta
// from the previous key (from 0 for the first pair), then the count as a
// uvarint. The two stores write the delta in two ways, kept as they are on
// disk:
//
//	store       columns                  key delta
//	SQLite      seg.users, seg.ips       uvarint (UvarintDelta)
//	PostgreSQL  tally.users, tally.ips   zigzag varint (VarintDelta)
//
// So {3: 2, 5: 1} is 03 02 02 01 with UvarintDelta and 06 02 04 01 with
// VarintDelta. The zigzag varint keeps a negative first key short: the
// PostgreSQL store's IP keys are negative for IPv4 addresses (ipKeyExpr).

// Count is one (key, count) pair of a counts blob.
type Count struct{ Key, N int64 }

// KeyDelta is how a counts blob writes the delta of each key.
type KeyDelta uint8

const (
	// UvarintDelta writes the delta as a uvarint (the SQLite store's seg).
	UvarintDelta KeyDelta = iota
	// VarintDelta writes the delta as a zigzag varint (the PostgreSQL
	// store's tally).
	VarintDelta
)

// AppendCounts appends counts to b as a counts blob with key deltas d. It
// sorts counts by key in place, and writes the counts of a repeated key as
// one pair holding their sum.
func AppendCounts(b []byte, d KeyDelta, counts []Count) []byte {
	slices.SortFunc(counts, func(x, y Count) int { return cmp.Compare(x.Key, y.Key) })
	var prev int64
	for i := 0; i < len(counts); {
		key, n := counts[i].Key, int64(0)
		for ; i < len(counts) && counts[i].Key == key; i++ {
			n += counts[i].N
		}
		if d == VarintDelta {
			b = binary.AppendVarint(b, key-prev)
		} else {
			b = binary.AppendUvarint(b, uint64(key-prev))
		}
		b = binary.AppendUvarint(b, uint64(n))
		prev = key
	}
	return b
}

// AppendCountMap appends the counts of m to b as AppendCounts does.
func AppendCountMap(b []byte, d KeyDelta, m map[int64]int64) []byte {
	counts := make([]Count, 0, len(m))
	for k, n := range m {
		counts = append(counts, Count{k, n})
	}
	return AppendCounts(b, d, counts)
}

// AddCounts calls add, in key order, for each pair of a counts blob written
// with key deltas d.
func AddCounts(b []byte, d KeyDelta, add func(key, n int64)) error {
	var prev int64
	for len(b) > 0 {
		var delta int64
		var n int
		if d == VarintDelta {
			delta, n = binary.Varint(b)
		} else {
			var u uint64
			u, n = binary.Uvarint(b)
			delta = int64(u)
		}
		if n <= 0 {
			return errCorrupt
		}
		c, m := binary.Uvarint(b[n:])
		if m <= 0 {
			return errCorrupt
		}
		b = b[n+m:]
		prev += delta
		add(prev, int64(c))
	}
	return nil
}
