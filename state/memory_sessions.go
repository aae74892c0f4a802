package state

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// sessionTable is a bounded map of sessions with a heap ordered by expiry, so that
// expired sessions are dropped as they surface and a full table drops the session
// that would expire first.
type sessionTable struct {
	mu     sync.Mutex
	max    int
	byHash map[string]*memSession
	heap   sessionHeap
}

type memSession struct {
	hash    string
	s       Session
	expires time.Time
	index   int
}

func newSessionTable(max int) *sessionTable {
	return &sessionTable{max: max, byHash: make(map[string]*memSession)}
}

func (t *sessionTable) put(hash string, s Session, expires, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropExpired(now)
	if e := t.byHash[hash]; e != nil {
		e.s, e.expires = s, expires
		heap.Fix(&t.heap, e.index)
		return
	}
	for len(t.byHash) >= t.max && len(t.heap) > 0 {
		t.remove(t.heap[0])
	}
	e := &memSession{hash: hash, s: s, expires: expires}
	t.byHash[hash] = e
	heap.Push(&t.heap, e)
}

// get returns the session behind hash without forgetting it.
func (t *sessionTable) get(hash string, now time.Time) (Session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byHash[hash]
	if e == nil || !now.Before(e.expires) {
		return Session{}, false
	}
	return e.s, true
}

func (t *sessionTable) take(hash string, now time.Time) (Session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byHash[hash]
	if e == nil {
		return Session{}, false
	}
	t.remove(e)
	if !now.Before(e.expires) {
		return Session{}, false
	}
	return e.s, true
}

// forget drops the session behind hash, if any.
func (t *sessionTable) forget(hash string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.byHash[hash]; e != nil {
		t.remove(e)
	}
}

func (t *sessionTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byHash)
}

func (t *sessionTable) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byHash = make(map[string]*memSession)
	t.heap = nil
}

// dropExpired drops every expired session; each is dropped once, so the cost is
// amortised over the puts that made them.
func (t *sessionTable) dropExpired(now time.Time) {
	for len(t.heap) > 0 && !now.Before(t.heap[0].expires) {
		t.remove(t.heap[0])
	}
}

func (t *sessionTable) remove(e *memSession) {
	delete(t.byHash, e.hash)
	if e.index >= 0 {
		heap.Remove(&t.heap, e.index)
	}
}

type sessionHeap []*memSession

func (h sessionHeap) Len() int           { return len(h) }
func (h sessionHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }

func (h sessionHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *sessionHeap) Push(x any) {
	e := x.(*memSession)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *sessionHeap) Pop() any {
	old := *h
	n := len(old) - 1
	e := old[n]
	old[n] = nil
	e.index = -1
	*h = old[:n]
	return e
}

// Session implements Store.
func (m *Memory) Session(_ context.Context, hash string) (Session, bool, error) {
	if m.closed.Load() {
		return Session{}, false, errClosed
	}
	s, ok := m.sessions.get(hash, m.now())
	return s, ok, nil
}
