package pwned

import (
	"errors"
	"math"
	"math/bits"
)

// A binary fuse filter with 8-bit fingerprints (Graf and Lemire, "Binary Fuse
// Filters: Fast and Smaller Than Xor Filters", 2022), written for this package.
//
// Every key owns three slots of an array of bytes, one in each of three
// consecutive segments, and the array is filled so that the XOR of a key's
// three bytes is the key's fingerprint. A key not in the set matches when its
// three bytes happen to XOR to its fingerprint: one time in 256. The array
// holds about 1.13 bytes per key for large sets (the size factor below).
//
// Filling works by peeling: a slot that only one key uses can be set last, so
// keys are removed one by one through such slots, then the bytes are assigned
// in the reverse order. Peeling fails (rarely) on an unlucky hash seed; the
// builder retries with another.

// fuseParams are the dimensions of one shard's array.
type fuseParams struct {
	segLen         uint32 // a power of two
	segCountLength uint32 // segment count × segLen: the range of the first slot
	arrayLen       uint32 // (segment count + 2) × segLen
}

func (p fuseParams) segMask() uint64 { return uint64(p.segLen - 1) }

// newFuseParams sizes the array for n keys, as the paper does for arity 3.
func newFuseParams(n int) fuseParams {
	if n < 2 {
		n = 2
	}
	fn := float64(n)
	segLen := uint32(1) << uint(math.Floor(math.Log(fn)/math.Log(3.33)+2.25))
	if segLen > 1<<18 {
		segLen = 1 << 18
	}
	factor := math.Max(1.125, 0.875+0.25*math.Log(1e6)/math.Log(fn))
	capacity := uint32(math.Round(fn * factor))
	segCount := (capacity+segLen-1)/segLen - 2
	if int32(segCount) < 1 {
		segCount = 1
	}
	return fuseParams{
		segLen:         segLen,
		segCountLength: segCount * segLen,
		arrayLen:       (segCount + 2) * segLen,
	}
}

// mix64 is a 64-bit finaliser (the one of MurmurHash3): every input bit
// affects every output bit.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func fingerprint(h uint64) uint8 { return uint8(h ^ h>>32) }

// slots returns the three slots of the hash h.
func (p fuseParams) slots(h uint64) (uint32, uint32, uint32) {
	hi, _ := bits.Mul64(h, uint64(p.segCountLength))
	h0 := uint32(hi)
	h1 := h0 + p.segLen
	h2 := h1 + p.segLen
	h1 ^= uint32((h >> 18) & p.segMask())
	h2 ^= uint32(h & p.segMask())
	return h0, h1, h2
}

// fuseContains reports whether key matches the filled array.
func fuseContains(p fuseParams, seed uint64, arr []byte, key uint64) bool {
	h := mix64(key ^ seed)
	h0, h1, h2 := p.slots(h)
	return fingerprint(h) == arr[h0]^arr[h1]^arr[h2]
}

var errPeel = errors.New("pwned: the filter could not be filled")

// fuseBuilder keeps its scratch arrays from one shard to the next.
type fuseBuilder struct {
	count  []uint8  // per slot: keys using it (×4) and, in the low 2 bits, the XOR of which of its three slots each is
	xor    []uint64 // per slot: XOR of the hashes of the keys using it
	queue  []uint32
	stackH []uint64
	stackI []uint8
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// build fills a new array for keys, which must be distinct. It returns the
// array, its parameters and the seed used.
func (b *fuseBuilder) build(keys []uint64, seed uint64) (fuseParams, uint64, []byte, error) {
	p := newFuseParams(len(keys))
	arr := make([]byte, p.arrayLen)
	if len(keys) == 0 {
		return p, seed, arr, nil
	}
	for attempt := 0; attempt < 100; attempt++ {
		seed = mix64(seed + 0x9e3779b97f4a7c15)
		if b.tryBuild(p, keys, seed, arr) {
			return p, seed, arr, nil
		}
		clear(arr)
	}
	return p, 0, nil, errPeel
}

func (b *fuseBuilder) tryBuild(p fuseParams, keys []uint64, seed uint64, arr []byte) bool {
	n := len(keys)
	b.count = grow(b.count, int(p.arrayLen))
	b.xor = grow(b.xor, int(p.arrayLen))
	b.queue = grow(b.queue, int(p.arrayLen))[:0]
	b.stackH = grow(b.stackH, n)[:0]
	b.stackI = grow(b.stackI, n)[:0]
	count, xor := b.count, b.xor
	for _, k := range keys {
		h := mix64(k ^ seed)
		h0, h1, h2 := p.slots(h)
		// count counts in steps of 4; the low two bits XOR the position (0, 1
		// or 2) of this slot among the key's three, so that a slot left with
		// one key knows which of that key's slots it is.
		count[h0] += 4
		xor[h0] ^= h
		count[h1] += 4
		count[h1] ^= 1
		xor[h1] ^= h
		count[h2] += 4
		count[h2] ^= 2
		xor[h2] ^= h
		if count[h0] < 4 || count[h1] < 4 || count[h2] < 4 {
			return false // a count overflowed: over 63 keys on one slot
		}
	}
	for i, c := range count {
		if c>>2 == 1 {
			b.queue = append(b.queue, uint32(i))
		}
	}
	for len(b.queue) > 0 {
		s := b.queue[len(b.queue)-1]
		b.queue = b.queue[:len(b.queue)-1]
		if count[s]>>2 != 1 {
			continue
		}
		h := xor[s]
		which := count[s] & 3
		b.stackH = append(b.stackH, h)
		b.stackI = append(b.stackI, which)
		h0, h1, h2 := p.slots(h)
		for j, o := range [3]uint32{h0, h1, h2} {
			count[o] -= 4
			count[o] ^= uint8(j)
			xor[o] ^= h
			if count[o]>>2 == 1 {
				b.queue = append(b.queue, o)
			}
		}
	}
	if len(b.stackH) != n {
		return false
	}
	for i := n - 1; i >= 0; i-- {
		h := b.stackH[i]
		h0, h1, h2 := p.slots(h)
		s := [3]uint32{h0, h1, h2}
		w := b.stackI[i]
		arr[s[w]] = fingerprint(h) ^ arr[s[(w+1)%3]] ^ arr[s[(w+2)%3]]
	}
	return true
}
