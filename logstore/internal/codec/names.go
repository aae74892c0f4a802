package codec

import (
	"strings"
	"sync"
)

// Names is a bounded cache of dictionary strings by id for the readers of a
// store, safe for concurrent use. It holds erased strings too (so that they
// are not read again) but never hands them out.
type Names struct {
	mu  sync.Mutex
	m   map[int64]string
	max int
}

// NewNames returns a cache of at most max strings (it is emptied when full).
func NewNames(max int) *Names { return &Names{m: map[int64]string{}, max: max} }

// Lookup puts into out the strings of ids that inline resolves or the cache
// holds, and returns the ids it has to read from the dictionary. Id 0 (no
// string) is skipped.
func (c *Names) Lookup(ids []int64, out map[int64]string, inline func(int64) (string, bool)) []int64 {
	var miss []int64
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if id == 0 {
			continue
		}
		if v, ok := inline(id); ok {
			out[id] = v
			continue
		}
		if v, ok := c.m[id]; ok {
			if !strings.HasPrefix(v, Erased) {
				out[id] = v
			}
		} else {
			miss = append(miss, id)
		}
	}
	return miss
}

// Add caches the strings read from the dictionary and puts those not erased
// into out.
func (c *Names) Add(got, out map[int64]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m)+len(got) > c.max {
		clear(c.m)
	}
	for id, v := range got {
		c.m[id] = v
		if !strings.HasPrefix(v, Erased) {
			out[id] = v
		}
	}
}

// Clear empties the cache (after an erasure).
func (c *Names) Clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}
