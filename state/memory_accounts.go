package state

import (
	"container/heap"
	"slices"
	"sync"
	"time"
)

// defaultSlotTTL is the life of a slot when Policy.SlotTTL is not positive.
const defaultSlotTTL = time.Minute

// memAccount is the state of one account in a Memory store.
type memAccount struct {
	name string
	// failures are the times of the counted failures, oldest first; never more
	// than MaxFailures of them are kept.
	failures []time.Time
	// window is the Policy.Window of the last call that carried a policy; a window
	// that is not positive keeps failures until a success, a reset or a lock ends.
	window time.Duration
	slots  []memSlot

	locked bool
	// until is when the lock ends; zero while locked means permanent.
	until time.Time
	// level is the number of automatic locks remembered (the backoff level).
	level int
	// levelUntil is when level is forgotten; only meaningful while not locked.
	levelUntil time.Time
	// lockMemory is the Policy.LockMemory of the last automatic lock.
	lockMemory time.Duration
	// admin: the lock is an admin's, which known prefixes do not pass.
	admin bool
	// ended is the end of a lock that ran out, until the table files it in
	// its list of ended locks (settle, remove).
	ended time.Time

	// pairs are the (account, prefix) pairs that hold failures or a lock, at
	// most MaxPrefixCounters of them.
	pairs []memPair
	// known are the known prefixes, at most MaxKnownPrefixes of them.
	known []memKnown

	// prev and next link the account into its table's list of unlocked accounts,
	// most recently active first; nil while the account is locked.
	prev, next *memAccount
	// heapIndex is the account's place in its table's heap of locked accounts, or
	// -1 while it is not locked.
	heapIndex int
}

type memSlot struct {
	id      string
	expires time.Time
	// prefix is the attempt's prefix; "" when it had none or pairs were off.
	prefix string
}

// memPair is the state of one (account, prefix) pair.
type memPair struct {
	prefix string
	// failures are the times of the pair's counted failures, oldest first; never
	// more than the pair limit of them are kept.
	failures []time.Time
	locked   bool
	// until is when the lock ends; zero while locked means permanent.
	until time.Time
}

// memKnown is a known prefix.
type memKnown struct {
	prefix string
	until  time.Time
}

// refresh forgets what time has ended: a lock that ran out (and with it the failure
// count), a backoff level past its memory, failures that left the window, slots
// that expired.
func (a *memAccount) refresh(now time.Time) {
	if a.locked && !a.until.IsZero() && !now.Before(a.until) {
		a.ended = a.until
		a.locked = false
		a.admin = false
		a.failures = a.failures[:0]
		for i := range a.pairs {
			a.pairs[i].failures = a.pairs[i].failures[:0]
		}
		a.levelUntil = a.until.Add(a.lockMemory)
		a.until = time.Time{}
	}
	if !a.locked && a.level > 0 && !now.Before(a.levelUntil) {
		a.level = 0
		a.levelUntil = time.Time{}
	}
	a.failures = age(a.failures, now, a.window)
	if len(a.pairs) > 0 {
		keep := a.pairs[:0]
		for _, pr := range a.pairs {
			if pr.locked && !pr.until.IsZero() && !now.Before(pr.until) {
				pr.locked = false
				pr.until = time.Time{}
				pr.failures = pr.failures[:0]
			}
			pr.failures = age(pr.failures, now, a.window)
			if pr.locked || len(pr.failures) > 0 {
				keep = append(keep, pr)
			}
		}
		clear(a.pairs[len(keep):])
		a.pairs = keep
	}
	if len(a.known) > 0 {
		keep := a.known[:0]
		for _, k := range a.known {
			if now.Before(k.until) {
				keep = append(keep, k)
			}
		}
		clear(a.known[len(keep):])
		a.known = keep
	}
	live := a.slots[:0]
	for _, s := range a.slots {
		if now.Before(s.expires) {
			live = append(live, s)
		}
	}
	clear(a.slots[len(live):])
	a.slots = live
}

// age drops the failures that left a window; a window that is not positive keeps
// them all.
func age(failures []time.Time, now time.Time, window time.Duration) []time.Time {
	if window <= 0 {
		return failures
	}
	n := 0
	for n < len(failures) && now.Sub(failures[n]) >= window {
		n++
	}
	if n == 0 {
		return failures
	}
	return failures[:copy(failures, failures[n:])]
}

// empty reports whether the account holds nothing worth remembering.
func (a *memAccount) empty() bool {
	return len(a.failures) == 0 && len(a.slots) == 0 && !a.locked && a.level == 0 &&
		len(a.pairs) == 0 && len(a.known) == 0
}

// addFailure records a counted failure at now, keeping at most max failures.
func (a *memAccount) addFailure(now time.Time, max int) {
	a.failures = addFailure(a.failures, now, max)
}

func addFailure(failures []time.Time, now time.Time, max int) []time.Time {
	if n := len(failures) - (max - 1); n > 0 {
		failures = failures[:copy(failures, failures[n:])]
	}
	return append(failures, now)
}

// pair returns the pair of prefix, or nil.
func (a *memAccount) pair(prefix string) *memPair {
	for i := range a.pairs {
		if a.pairs[i].prefix == prefix {
			return &a.pairs[i]
		}
	}
	return nil
}

// addPair returns the pair of prefix, adding it when the account has none; past
// MaxPrefixCounters the new pair takes the place of the unlocked pair whose last
// failure is oldest or, when every pair is locked, of the pair whose lock ends
// first.
func (a *memAccount) addPair(prefix string) *memPair {
	if pr := a.pair(prefix); pr != nil {
		return pr
	}
	if len(a.pairs) < MaxPrefixCounters {
		a.pairs = append(a.pairs, memPair{prefix: prefix})
		return &a.pairs[len(a.pairs)-1]
	}
	victim := 0
	for i := 1; i < len(a.pairs); i++ {
		if pairBefore(&a.pairs[i], &a.pairs[victim]) {
			victim = i
		}
	}
	pr := &a.pairs[victim]
	*pr = memPair{prefix: prefix, failures: pr.failures[:0]}
	return pr
}

// pairBefore reports whether x goes before y when a pair must make room.
func pairBefore(x, y *memPair) bool {
	if x.locked != y.locked {
		return !x.locked
	}
	if !x.locked {
		return lastOf(x.failures).Before(lastOf(y.failures))
	}
	if x.until.IsZero() {
		return false
	}
	return y.until.IsZero() || x.until.Before(y.until)
}

func lastOf(ts []time.Time) time.Time {
	if len(ts) == 0 {
		return time.Time{}
	}
	return ts[len(ts)-1]
}

// inFlightFrom counts the slots taken by attempts from prefix.
func (a *memAccount) inFlightFrom(prefix string) int {
	n := 0
	for _, s := range a.slots {
		if s.prefix == prefix {
			n++
		}
	}
	return n
}

// isKnown reports whether prefix is a known prefix; call refresh first.
func (a *memAccount) isKnown(prefix string) bool {
	for _, k := range a.known {
		if k.prefix == prefix {
			return true
		}
	}
	return false
}

// addKnown makes prefix known until until; past MaxKnownPrefixes it drops the
// prefix that would expire first.
func (a *memAccount) addKnown(prefix string, until time.Time) {
	for i := range a.known {
		if a.known[i].prefix == prefix {
			a.known[i].until = until
			return
		}
	}
	if len(a.known) < MaxKnownPrefixes {
		a.known = append(a.known, memKnown{prefix: prefix, until: until})
		return
	}
	first := 0
	for i := 1; i < len(a.known); i++ {
		if a.known[i].until.Before(a.known[first].until) {
			first = i
		}
	}
	a.known[first] = memKnown{prefix: prefix, until: until}
}

// release drops the slot id, if the account holds it.
func (a *memAccount) release(id string) {
	for i, s := range a.slots {
		if s.id == id {
			last := len(a.slots) - 1
			a.slots[i] = a.slots[last]
			a.slots[last] = memSlot{}
			a.slots = a.slots[:last]
			return
		}
	}
}

// status describes the account; call refresh first.
func (a *memAccount) status() AccountStatus {
	st := AccountStatus{
		Account:     a.name,
		Failures:    len(a.failures),
		InFlight:    len(a.slots),
		Locked:      a.locked,
		Permanent:   a.locked && a.until.IsZero(),
		LockedUntil: a.until,
		LockLevel:   a.level,
		AdminLock:   a.locked && a.admin,
	}
	for _, pr := range a.pairs {
		st.Prefixes = append(st.Prefixes, PrefixStatus{
			Prefix:      pr.prefix,
			Failures:    len(pr.failures),
			InFlight:    a.inFlightFrom(pr.prefix),
			Locked:      pr.locked,
			Permanent:   pr.locked && pr.until.IsZero(),
			LockedUntil: pr.until,
		})
	}
	for _, k := range a.known {
		st.KnownPrefixes = append(st.KnownPrefixes, KnownPrefix{Prefix: k.prefix, Until: k.until})
	}
	SortStatus(&st)
	return st
}

// accountTable is a bounded set of accounts under one mutex. Unlocked accounts sit
// in a list ordered by last activity, locked ones in a heap ordered by the end of
// their lock (permanent locks last), so that making room evicts the least recently
// active unlocked account in O(1) and never a locked one.
type accountTable struct {
	mu     sync.Mutex
	max    int
	byName map[string]*memAccount
	// root is the sentinel of the circular list of unlocked accounts: root.next is
	// the most recently active, root.prev the least.
	root   memAccount
	locked lockHeap
	// ended are the ends of locks that ran out, not yet taken by EndedLocks,
	// at most max of them (the oldest go first).
	ended []EndedLock
	// free holds a few dropped accounts for reuse, so that the common life of an
	// account (an attempt, a success, gone) allocates nothing.
	free []*memAccount
}

// maxFree bounds accountTable.free.
const maxFree = 256

func newAccountTable(max int) *accountTable {
	t := &accountTable{max: max, byName: make(map[string]*memAccount)}
	t.root.next, t.root.prev = &t.root, &t.root
	return t
}

// get returns the account, refreshed to now, or nil when the table does not hold it.
func (t *accountTable) get(name string, now time.Time) *memAccount {
	a := t.byName[name]
	if a != nil {
		a.refresh(now)
	}
	return a
}

// create adds an account that the table does not hold, making room when the table
// is full. It returns nil when the table is full of locked accounts.
func (t *accountTable) create(name string, now time.Time) *memAccount {
	t.purge(now)
	for len(t.byName) >= t.max {
		if oldest := t.root.prev; oldest != &t.root {
			t.remove(oldest)
			continue
		}
		if len(t.locked) > 0 {
			if top := t.locked[0]; !top.until.IsZero() && !now.Before(top.until) {
				top.refresh(now) // so that remove files the end of its lock
				t.remove(top)
				continue
			}
		}
		return nil
	}
	var a *memAccount
	if n := len(t.free); n > 0 {
		a = t.free[n-1]
		t.free[n-1] = nil
		t.free = t.free[:n-1]
	} else {
		a = &memAccount{heapIndex: -1}
	}
	a.name = name
	t.byName[name] = a
	t.pushFront(a)
	return a
}

// endLocks ends the locks that ran out by now (they sit at the top of the heap).
func (t *accountTable) endLocks(now time.Time) {
	for len(t.locked) > 0 {
		top := t.locked[0]
		if top.until.IsZero() || now.Before(top.until) {
			break
		}
		top.refresh(now)
		t.settle(top)
	}
}

// purgeSteps bounds the work that purge does on each new account.
const purgeSteps = 2

// purge drops, a few at a time, accounts whose lock ended and least recently
// active accounts that hold nothing any more.
func (t *accountTable) purge(now time.Time) {
	for range purgeSteps {
		if len(t.locked) == 0 {
			break
		}
		top := t.locked[0]
		if top.until.IsZero() || now.Before(top.until) {
			break
		}
		top.refresh(now)
		t.settle(top)
	}
	for range purgeSteps {
		oldest := t.root.prev
		if oldest == &t.root {
			break
		}
		oldest.refresh(now)
		if !oldest.empty() {
			break
		}
		t.remove(oldest)
	}
}

// settle files an account after a change: an empty one is dropped, a locked one
// goes to (or is fixed in) the heap, an unlocked one to the front of the list.
func (t *accountTable) settle(a *memAccount) {
	t.fileEnded(a)
	switch {
	case a.empty():
		t.remove(a)
	case a.locked:
		t.unlink(a)
		if a.heapIndex < 0 {
			heap.Push(&t.locked, a)
		} else {
			heap.Fix(&t.locked, a.heapIndex)
		}
	default:
		if a.heapIndex >= 0 {
			heap.Remove(&t.locked, a.heapIndex)
		}
		t.unlink(a)
		t.pushFront(a)
	}
}

// fileEnded moves the end of a's lock that ran out, if any, to the table's list.
func (t *accountTable) fileEnded(a *memAccount) {
	if a.ended.IsZero() {
		return
	}
	if len(t.ended) >= t.max {
		t.ended = slices.Delete(t.ended, 0, 1)
	}
	t.ended = append(t.ended, EndedLock{Account: a.name, Until: a.ended})
	a.ended = time.Time{}
}

// remove drops an account from the table; the caller must not use it afterwards.
func (t *accountTable) remove(a *memAccount) {
	t.fileEnded(a)
	if t.byName[a.name] == a {
		delete(t.byName, a.name)
	}
	if a.heapIndex >= 0 {
		heap.Remove(&t.locked, a.heapIndex)
	}
	t.unlink(a)
	if len(t.free) < maxFree {
		clear(a.slots)
		*a = memAccount{failures: a.failures[:0], slots: a.slots[:0], heapIndex: -1}
		// pairs and known hold strings: they are not kept for reuse.
		t.free = append(t.free, a)
	}
}

// clear drops every account.
func (t *accountTable) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, a := range t.byName {
		a.prev, a.next = nil, nil
	}
	t.byName = make(map[string]*memAccount)
	t.root.next, t.root.prev = &t.root, &t.root
	t.locked = nil
	t.ended = nil
	t.free = nil
}

func (t *accountTable) pushFront(a *memAccount) {
	a.prev = &t.root
	a.next = t.root.next
	t.root.next.prev = a
	t.root.next = a
}

func (t *accountTable) unlink(a *memAccount) {
	if a.next == nil {
		return
	}
	a.prev.next = a.next
	a.next.prev = a.prev
	a.prev, a.next = nil, nil
}

// lockHeap orders locked accounts by the end of their lock, permanent locks last.
type lockHeap []*memAccount

func (h lockHeap) Len() int { return len(h) }

func (h lockHeap) Less(i, j int) bool {
	ui, uj := h[i].until, h[j].until
	if ui.IsZero() {
		return false
	}
	return uj.IsZero() || ui.Before(uj)
}

func (h lockHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex = i
	h[j].heapIndex = j
}

func (h *lockHeap) Push(x any) {
	a := x.(*memAccount)
	a.heapIndex = len(*h)
	*h = append(*h, a)
}

func (h *lockHeap) Pop() any {
	old := *h
	n := len(old) - 1
	a := old[n]
	old[n] = nil
	a.heapIndex = -1
	*h = old[:n]
	return a
}
