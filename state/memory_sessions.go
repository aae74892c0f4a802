package state

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// sessionTable is a bounded map of sessions with a heap ordered by expiry, so that
// expired sessions are dropped as they surface and a full table drops the session
// that would expire first. It keeps the aliases and the tombstones of ended
// sessions; live sessions are in a liveSessions.
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

// forget drops the session behind hash, if any.
func (t *sessionTable) forget(hash string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.byHash[hash]; e != nil {
		t.remove(e)
	}
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

// liveSessions are the live sessions of a Memory store, by hash, by account,
// and in three heaps (by expiry, by LastSeen, by LoginAt) so that sessions whose
// ttl ran out and sessions due for a timeout surface without a scan. The
// tombstones of ended sessions are a bounded table of their own (ended), so
// that ended sessions never push out live ones. Every method holds mu (and
// takes ended's lock inside it, never the other way round).
type liveSessions struct {
	mu        sync.Mutex
	max       int
	byHash    map[string]*liveSession
	byAccount map[string]map[string]*liveSession
	heaps     [3]liveHeap // byExpiry, bySeen, byLogin
	ended     *sessionTable
}

// The heaps of liveSessions.
const (
	byExpiry = iota
	bySeen
	byLogin
)

type liveSession struct {
	hash    string
	s       Session
	ttl     time.Duration
	expires time.Time
	index   [3]int // positions in the heaps
}

func newLiveSessions(max int) *liveSessions {
	t := &liveSessions{max: max, ended: newSessionTable(max)}
	t.clearLocked()
	return t
}

func (t *liveSessions) clearLocked() {
	t.byHash = make(map[string]*liveSession)
	t.byAccount = make(map[string]map[string]*liveSession)
	for k := range t.heaps {
		t.heaps[k] = liveHeap{k: k}
	}
}

func (t *liveSessions) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearLocked()
	t.ended.clear()
}

func (t *liveSessions) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byHash)
}

// put makes s the live session behind hash until now+ttl, replacing whatever
// the hash held; a full table first drops the live session that would expire
// first.
func (t *liveSessions) put(hash string, s Session, ttl time.Duration, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropExpired(now)
	t.ended.forget(hash)
	if e := t.byHash[hash]; e != nil {
		t.remove(e)
	}
	for len(t.byHash) >= t.max && t.heaps[byExpiry].Len() > 0 {
		t.remove(t.heaps[byExpiry].items[0])
	}
	e := &liveSession{hash: hash, s: s, ttl: ttl, expires: now.Add(ttl)}
	t.byHash[hash] = e
	acct := t.byAccount[s.Account]
	if acct == nil {
		acct = make(map[string]*liveSession)
		t.byAccount[s.Account] = acct
	}
	acct[hash] = e
	for k := range t.heaps {
		heap.Push(&t.heaps[k], e)
	}
}

// forget drops what hash holds, live or ended, without a tombstone.
func (t *liveSessions) forget(hash string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.byHash[hash]; e != nil {
		t.remove(e)
	}
	t.ended.forget(hash)
}

// touch returns the session behind hash (a live one with true, a tombstone
// with false) and, when at is every or more after the live session's
// LastSeen, records at as its LastSeen. A nil every only reads.
func (t *liveSessions) touch(hash string, now, at time.Time, every *time.Duration) (Session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropExpired(now)
	e := t.byHash[hash]
	if e == nil {
		s, _ := t.ended.get(hash, now)
		return s, false
	}
	if every != nil && at.After(e.s.LastSeen) && at.Sub(e.s.LastSeen) >= *every {
		e.s.LastSeen = at
		heap.Fix(&t.heaps[bySeen], e.index[bySeen])
	}
	return e.s, true
}

// end ends the live session behind hash with status at time at, keeping its
// tombstone for its ttl from now; for a hash without a live session it
// returns the tombstone, if any, and false.
func (t *liveSessions) end(hash, status string, at, now time.Time) (Session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropExpired(now)
	e := t.byHash[hash]
	if e == nil {
		s, _ := t.ended.get(hash, now)
		return s, false
	}
	return t.endLocked(e, status, at, now), true
}

func (t *liveSessions) endLocked(e *liveSession, status string, at, now time.Time) Session {
	t.remove(e)
	s := e.s
	s.Status, s.EndedAt = status, at
	t.ended.put(e.hash, s, now.Add(e.ttl), now)
	return s
}

// expired ends and returns the live sessions due for a timeout at time at
// (see Store.ExpiredSessions), after dropping those whose ttl ran out by now.
func (t *liveSessions) expired(now, at time.Time, idle, absolute time.Duration) []EndedSession {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropExpired(now)
	var out []EndedSession
	for {
		// The candidate whose deadline comes first: the top of the heap by
		// LastSeen (idle) or of the heap by LoginAt (absolute).
		var e *liveSession
		var first time.Time
		if h := &t.heaps[bySeen]; idle > 0 && h.Len() > 0 {
			e, first = h.items[0], h.items[0].s.LastSeen.Add(idle)
		}
		if h := &t.heaps[byLogin]; absolute > 0 && h.Len() > 0 {
			if d := h.items[0].s.LoginAt.Add(absolute); e == nil || !first.Before(d) {
				e, first = h.items[0], d
			}
		}
		if e == nil || first.After(at) {
			break
		}
		status, ended := timeout(e.s, idle, absolute)
		out = append(out, EndedSession{Hash: e.hash, Session: t.endLocked(e, status, ended, now)})
	}
	slices.SortStableFunc(out, func(a, b EndedSession) int {
		return cmp.Or(a.EndedAt.Compare(b.EndedAt), strings.Compare(a.Hash, b.Hash))
	})
	return out
}

// timeout returns the status and the time of the first of s's timeouts: the
// absolute one on a tie. At least one of idle and absolute is positive.
func timeout(s Session, idle, absolute time.Duration) (string, time.Time) {
	if absolute > 0 {
		da := s.LoginAt.Add(absolute)
		if idle <= 0 || !s.LastSeen.Add(idle).Before(da) {
			return SessionAbsoluteTimeout, da
		}
	}
	return SessionIdleTimeout, s.LastSeen.Add(idle)
}

// accountSessions returns the hashes of account's live sessions, oldest
// LoginAt first.
func (t *liveSessions) accountSessions(account string, now time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropExpired(now)
	es := slices.Collect(maps.Values(t.byAccount[account]))
	slices.SortFunc(es, func(a, b *liveSession) int {
		return cmp.Or(a.s.LoginAt.Compare(b.s.LoginAt), strings.Compare(a.hash, b.hash))
	})
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.hash
	}
	return out
}

// dropExpired drops the live sessions whose ttl ran out by now, without a
// tombstone.
func (t *liveSessions) dropExpired(now time.Time) {
	h := &t.heaps[byExpiry]
	for h.Len() > 0 && !now.Before(h.items[0].expires) {
		t.remove(h.items[0])
	}
}

func (t *liveSessions) remove(e *liveSession) {
	delete(t.byHash, e.hash)
	if acct := t.byAccount[e.s.Account]; acct != nil {
		delete(acct, e.hash)
		if len(acct) == 0 {
			delete(t.byAccount, e.s.Account)
		}
	}
	for k := range t.heaps {
		heap.Remove(&t.heaps[k], e.index[k])
	}
}

// liveHeap orders live sessions by one of their times (k: byExpiry, bySeen,
// byLogin) and keeps each one's position in its index[k].
type liveHeap struct {
	k     int
	items []*liveSession
}

func (h *liveHeap) key(e *liveSession) time.Time {
	switch h.k {
	case byExpiry:
		return e.expires
	case bySeen:
		return e.s.LastSeen
	default:
		return e.s.LoginAt
	}
}

func (h *liveHeap) Len() int           { return len(h.items) }
func (h *liveHeap) Less(i, j int) bool { return h.key(h.items[i]).Before(h.key(h.items[j])) }

func (h *liveHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index[h.k] = i
	h.items[j].index[h.k] = j
}

func (h *liveHeap) Push(x any) {
	e := x.(*liveSession)
	e.index[h.k] = len(h.items)
	h.items = append(h.items, e)
}

func (h *liveHeap) Pop() any {
	n := len(h.items) - 1
	e := h.items[n]
	h.items[n] = nil
	e.index[h.k] = -1
	h.items = h.items[:n]
	return e
}

// PutSession implements Store. At most MaxSessions live sessions are kept (a
// full store forgets the one that would expire first), and at most
// MaxSessions tombstones besides.
func (m *Memory) PutSession(_ context.Context, hash string, s Session, ttl time.Duration) error {
	if m.closed.Load() {
		return errClosed
	}
	if ttl <= 0 {
		m.sessions.forget(hash)
		return nil
	}
	now := m.now()
	if s.LoginAt.IsZero() {
		s.LoginAt = now
	}
	if s.LastSeen.IsZero() {
		s.LastSeen = s.LoginAt
	}
	s.Status, s.EndedAt = "", time.Time{}
	m.sessions.put(hash, s, ttl, now)
	return nil
}

// TakeSession implements Store.
func (m *Memory) TakeSession(ctx context.Context, hash string) (Session, bool, error) {
	s, ok, err := m.EndSession(ctx, hash, SessionCompleted, time.Time{})
	if !ok {
		return Session{}, false, err
	}
	return s, true, nil
}

// Session implements Store.
func (m *Memory) Session(_ context.Context, hash string) (Session, bool, error) {
	if m.closed.Load() {
		return Session{}, false, errClosed
	}
	now := m.now()
	s, ok := m.sessions.touch(hash, now, now, nil)
	return s, ok, nil
}

// TouchSession implements Store.
func (m *Memory) TouchSession(_ context.Context, hash string, at time.Time, every time.Duration) (Session, bool, error) {
	if m.closed.Load() {
		return Session{}, false, errClosed
	}
	now := m.now()
	if at.IsZero() {
		at = now
	}
	s, ok := m.sessions.touch(hash, now, at, &every)
	return s, ok, nil
}

// EndSession implements Store.
func (m *Memory) EndSession(_ context.Context, hash, status string, at time.Time) (Session, bool, error) {
	if m.closed.Load() {
		return Session{}, false, errClosed
	}
	if err := CheckSessionStatus(status); err != nil {
		return Session{}, false, fmt.Errorf("end session: %w", err)
	}
	now := m.now()
	if at.IsZero() {
		at = now
	}
	s, ok := m.sessions.end(hash, status, at, now)
	return s, ok, nil
}

// ExpiredSessions implements Store: the heaps by LastSeen and by LoginAt give
// the due sessions without a scan, all of them in one call.
func (m *Memory) ExpiredSessions(_ context.Context, at time.Time, idle, absolute time.Duration) ([]EndedSession, error) {
	if m.closed.Load() {
		return nil, errClosed
	}
	now := m.now()
	if at.IsZero() {
		at = now
	}
	return m.sessions.expired(now, at, idle, absolute), nil
}

// AccountSessions implements Store.
func (m *Memory) AccountSessions(_ context.Context, account string) ([]string, error) {
	if m.closed.Load() {
		return nil, errClosed
	}
	return m.sessions.accountSessions(account, m.now()), nil
}
