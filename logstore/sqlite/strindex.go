package sqlite

import (
	"hash/maphash"
)

// strIndex maps strings to dictionary ids (1 to 2^40-1): the writer's cache.
// It replaced a map[string]int64 that cost about 500ns a lookup at a few
// hundred thousand strings (several cache misses each: the map's directory,
// its group, the key's string) and that the garbage collector scanned in
// full at every cycle. Here a lookup is one probe of a flat table of
// uint64 pairs, and the strings are in one byte arena: no pointers at all.
type strIndex struct {
	seed  maphash.Seed
	slots []uint64 // pairs: tag<<40 | id (0: empty), offset<<24 | length in arena
	arena []byte
	n     int
}

const (
	idBits   = 40
	idMask   = 1<<idBits - 1
	lenBits  = 24
	maxStrIx = 1<<lenBits - 1 // longer strings are not cached
)

func newStrIndex() *strIndex {
	return &strIndex{seed: maphash.MakeSeed(), slots: make([]uint64, 2*1024)}
}

func (x *strIndex) len() int { return x.n }

// bytes returns the size of the strings held.
func (x *strIndex) bytes() int { return len(x.arena) }

// get returns the id of v.
func (x *strIndex) get(v string) (int64, bool) {
	h := maphash.String(x.seed, v)
	tag := h >> idBits
	mask := uint64(len(x.slots)/2 - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		a := x.slots[2*i]
		if a == 0 {
			return 0, false
		}
		if a>>idBits == tag {
			ref := x.slots[2*i+1]
			off, n := ref>>lenBits, ref&maxStrIx
			if int(n) == len(v) && string(x.arena[off:off+n]) == v {
				return int64(a & idMask), true
			}
		}
	}
}

// put adds v with id (not already present).
func (x *strIndex) put(v string, id int64) {
	if len(v) > maxStrIx || id <= 0 || id > idMask {
		return
	}
	if 4*(x.n+1) > 3*(len(x.slots)/2) {
		x.grow()
	}
	off := uint64(len(x.arena))
	x.arena = append(x.arena, v...)
	x.insert(maphash.String(x.seed, v), uint64(id), off<<lenBits|uint64(len(v)))
	x.n++
}

func (x *strIndex) insert(h, id, ref uint64) {
	mask := uint64(len(x.slots)/2 - 1)
	i := h & mask
	for x.slots[2*i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[2*i], x.slots[2*i+1] = h>>idBits<<idBits|id, ref
}

func (x *strIndex) grow() {
	old := x.slots
	x.slots = make([]uint64, 2*len(old))
	for i := 0; i < len(old); i += 2 {
		if a := old[i]; a != 0 {
			ref := old[i+1]
			off, n := ref>>lenBits, ref&maxStrIx
			x.insert(maphash.Bytes(x.seed, x.arena[off:off+n]), a&idMask, ref)
		}
	}
}

// reset empties the index.
func (x *strIndex) reset() {
	*x = *newStrIndex()
}
