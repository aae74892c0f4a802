package state

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults of MemoryOptions.
const (
	DefaultMaxAccounts = 100000
	DefaultMaxSessions = 100000
)

// MemoryOptions configure a Memory store.
type MemoryOptions struct {
	Options
	// MaxAccounts is the most accounts tracked at once; default 100000.
	MaxAccounts int
	// MaxSessions is the most live sessions remembered at once, and the most
	// tombstones of ended sessions; default 100000.
	MaxSessions int
}

// Memory is the embedded Store: plain maps in this process, for a single instance.
// NewMemory makes one; the zero value is not usable.
//
// Memory is bounded. Accounts that hold nothing (no failures in the window, no
// slots, no lock, no remembered backoff level, no pair, no known prefix) are
// dropped when an operation leaves them so or, lazily, a few at a time as new
// accounts arrive; expired sessions are dropped as new sessions arrive. When
// MaxAccounts accounts are tracked, a new account evicts the least recently active
// account that is not locked, so a flood of made-up names can make the store
// forget failures, pair locks and known prefixes but never lifts an account lock. When
// every tracked account is locked, a new account is not tracked: Admit still allows
// its attempt, Finish does not count its failure and Lock returns an error. A full
// session table drops the session that would expire first.
//
// A Policy's zero values are taken as: MaxFailures below 1 as 1; a Window that is
// not positive keeps failures until a success, a reset or the end of a lock; a
// SlotTTL that is not positive as one minute.
//
// Every method is one step under a mutex and never blocks on anything else, so the
// contexts are not consulted. (Accounts share one mutex: spreading them over 16
// mutexes by hash made no measurable difference on two cores, and one table keeps
// the eviction order exact.)
type Memory struct {
	now      func() time.Time
	accounts *accountTable
	sessions *liveSessions
	aliases  *sessionTable // Session.Account is the account of a spelling
	blocks   blockTable
	nextSlot atomic.Uint64
	closed   atomic.Bool
	journal  *journal // keeps locks and blocks across a restart (OpenMemory); nil: none
}

// errClosed is returned by a Memory store's methods after Close.
var errClosed = errors.New("memory state store is closed")

// NewMemory returns an empty Memory store.
func NewMemory(o MemoryOptions) *Memory {
	if o.MaxAccounts <= 0 {
		o.MaxAccounts = DefaultMaxAccounts
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	return &Memory{
		now:      o.Clock(),
		accounts: newAccountTable(o.MaxAccounts),
		sessions: newLiveSessions(o.MaxSessions),
		aliases:  newSessionTable(o.MaxSessions),
	}
}

// Len reports how many accounts and sessions the store holds, including entries
// that have run out but were not dropped yet.
func (m *Memory) Len() (accounts, sessions int) {
	m.accounts.mu.Lock()
	accounts = len(m.accounts.byName)
	m.accounts.mu.Unlock()
	return accounts, m.sessions.len()
}

func (m *Memory) newSlot() string {
	return strconv.FormatUint(m.nextSlot.Add(1), 36)
}

func maxFailures(p Policy) int { return max(p.MaxFailures, 1) }

func slotTTL(p Policy) time.Duration {
	if p.SlotTTL <= 0 {
		return defaultSlotTTL
	}
	return p.SlotTTL
}

// lockDuration is how long automatic lock number level (from 1) lasts.
func lockDuration(p Policy, level int) time.Duration {
	d := p.LockDuration
	if !p.Backoff {
		return d
	}
	for i := 1; i < level; i++ {
		if p.MaxLockDuration > 0 && d >= p.MaxLockDuration {
			break
		}
		if d > math.MaxInt64/2 {
			return math.MaxInt64
		}
		d *= 2
		if p.MaxLockDuration > 0 && d > p.MaxLockDuration {
			d = p.MaxLockDuration
		}
	}
	return d
}

// Admit implements Store.
func (m *Memory) Admit(_ context.Context, at Attempt, p Policy) (Admission, error) {
	if m.closed.Load() {
		return Admission{}, errClosed
	}
	prefix, err := CanonicalPrefix(at.Prefix)
	if err != nil {
		return Admission{}, fmt.Errorf("admit: %w", err)
	}
	pairLimit := 0
	if prefix != "" {
		pairLimit = PrefixLimit(p)
	}
	t := m.accounts
	t.mu.Lock()
	defer t.mu.Unlock()
	now := m.now()

	var adm Admission
	a := t.byName[at.Account]
	if a != nil {
		a.window = p.Window
		a.refresh(now)
		adm.Failures, adm.InFlight = len(a.failures), len(a.slots)
		known := p.KnownPrefixTTL > 0 && pairLimit > 0 && a.isKnown(prefix)
		adm.KnownPrefix = known
		var pr *memPair
		if pairLimit > 0 {
			if pr = a.pair(prefix); pr != nil {
				adm.PrefixFailures = len(pr.failures)
			}
			adm.PrefixInFlight = a.inFlightFrom(prefix)
		}
		refused := true
		switch {
		case a.locked && (a.admin || !known):
			adm.Locked, adm.LockedUntil = true, a.until
		case pr != nil && pr.locked:
			adm.Locked, adm.PrefixLocked, adm.LockedUntil = true, true, pr.until
		case !known && adm.Failures+adm.InFlight >= maxFailures(p):
		case pairLimit > 0 && adm.PrefixFailures+adm.PrefixInFlight >= pairLimit:
		default:
			refused = false
		}
		if refused {
			t.settle(a)
			return adm, nil
		}
	} else if a = t.create(at.Account, now); a == nil {
		// Every tracked account is locked: let the attempt through untracked.
		return Admission{Allowed: true, Slot: m.newSlot()}, nil
	}
	a.window = p.Window
	adm.Allowed, adm.Slot = true, m.newSlot()
	slot := memSlot{id: adm.Slot, expires: now.Add(slotTTL(p))}
	if pairLimit > 0 {
		slot.prefix = prefix
	}
	a.slots = append(a.slots, slot)
	t.settle(a)
	return adm, nil
}

// Finish implements Store.
func (m *Memory) Finish(_ context.Context, at Attempt, slot string, o Outcome, p Policy) (Result, error) {
	if m.closed.Load() {
		return Result{}, errClosed
	}
	prefix, err := CanonicalPrefix(at.Prefix)
	if err != nil {
		return Result{}, fmt.Errorf("finish: %w", err)
	}
	pairLimit := 0
	if prefix != "" {
		pairLimit = PrefixLimit(p)
	}
	learn := o == Success && prefix != "" && p.KnownPrefixTTL > 0
	t := m.accounts
	t.mu.Lock()
	defer t.mu.Unlock()
	now := m.now()

	a := t.byName[at.Account]
	if a == nil {
		if o != CountedFailure && !learn {
			return Result{}, nil
		}
		if a = t.create(at.Account, now); a == nil {
			return Result{}, nil // every tracked account is locked
		}
	}
	a.window = p.Window
	a.refresh(now)
	a.release(slot)

	var r Result
	var pr *memPair
	if pairLimit > 0 {
		pr = a.pair(prefix)
	}
	switch o {
	case Success:
		a.failures = a.failures[:0]
		if pr != nil {
			pr.failures = pr.failures[:0]
		}
		if learn {
			a.addKnown(prefix, now.Add(p.KnownPrefixTTL))
		}
	case CountedFailure:
		limit := maxFailures(p)
		a.addFailure(now, limit)
		if !a.locked && len(a.failures) >= limit {
			a.level++
			a.locked = true
			a.admin = false
			a.lockMemory = p.LockMemory
			a.levelUntil = time.Time{}
			a.until = time.Time{}
			if p.LockDuration > 0 {
				a.until = now.Add(lockDuration(p, a.level))
			}
			r.NewlyLocked = true
			// A journal error shows on the next admin call (record keeps it).
			_ = m.record(lockRecord(a))
		}
		if pairLimit > 0 {
			pr = a.addPair(prefix)
			pr.failures = addFailure(pr.failures, now, pairLimit)
			if !pr.locked && len(pr.failures) >= pairLimit {
				pr.locked = true
				pr.until = time.Time{}
				if p.LockDuration > 0 {
					pr.until = now.Add(p.LockDuration)
				}
				r.PrefixNewlyLocked = true
			}
		}
	}
	r.Failures, r.Locked, r.LockedUntil = len(a.failures), a.locked, a.until
	if pr != nil {
		r.PrefixFailures, r.PrefixLocked, r.PrefixLockedUntil = len(pr.failures), pr.locked, pr.until
		if !pr.locked && len(pr.failures) == 0 {
			a.refresh(now) // drops the emptied pair
		}
	}
	t.settle(a)
	return r, nil
}

// PutAlias implements Store. At most MaxSessions aliases are kept; a full table
// forgets the one that would expire first.
func (m *Memory) PutAlias(_ context.Context, name, account string, ttl time.Duration) error {
	if m.closed.Load() {
		return errClosed
	}
	if ttl <= 0 {
		m.aliases.forget(name)
		return nil
	}
	now := m.now()
	m.aliases.put(name, Session{Account: account}, now.Add(ttl), now)
	return nil
}

// Alias implements Store.
func (m *Memory) Alias(_ context.Context, name string) (string, bool, error) {
	if m.closed.Load() {
		return "", false, errClosed
	}
	s, ok := m.aliases.get(name, m.now())
	return s.Account, ok, nil
}

// Lock implements Store. It fails only when every tracked account is locked and
// account is not one of them.
func (m *Memory) Lock(_ context.Context, account string, d time.Duration) error {
	if m.closed.Load() {
		return errClosed
	}
	t := m.accounts
	t.mu.Lock()
	defer t.mu.Unlock()
	now := m.now()

	a := t.get(account, now)
	if a == nil {
		if a = t.create(account, now); a == nil {
			return fmt.Errorf("lock account: memory state store is full of locked accounts (%d)", t.max)
		}
	}
	a.locked = true
	a.admin = true
	a.until = time.Time{}
	if d > 0 {
		a.until = now.Add(d)
	}
	t.settle(a)
	return m.record(lockRecord(a))
}

// Unlock implements Store.
func (m *Memory) Unlock(_ context.Context, account string) (bool, error) {
	if m.closed.Load() {
		return false, errClosed
	}
	t := m.accounts
	t.mu.Lock()
	defer t.mu.Unlock()

	a := t.get(account, m.now())
	if a == nil {
		return false, nil
	}
	was := a.locked
	a.locked = false
	a.admin = false
	a.until = time.Time{}
	a.failures = a.failures[:0]
	a.level = 0
	a.levelUntil = time.Time{}
	clear(a.pairs)
	a.pairs = a.pairs[:0]
	t.settle(a)
	if was {
		return was, m.record(journalRecord{Account: account, Lift: true})
	}
	return was, nil
}

// Reset implements Store.
func (m *Memory) Reset(_ context.Context, account string) error {
	if m.closed.Load() {
		return errClosed
	}
	t := m.accounts
	t.mu.Lock()
	defer t.mu.Unlock()

	if a := t.get(account, m.now()); a != nil {
		a.failures = a.failures[:0]
		for i := range a.pairs {
			a.pairs[i].failures = a.pairs[i].failures[:0]
		}
		a.refresh(m.now()) // drops the pairs left with nothing
		t.settle(a)
	}
	return nil
}

// Status implements Store.
func (m *Memory) Status(_ context.Context, account string) (AccountStatus, error) {
	if m.closed.Load() {
		return AccountStatus{}, errClosed
	}
	t := m.accounts
	t.mu.Lock()
	defer t.mu.Unlock()

	a := t.get(account, m.now())
	if a == nil {
		return AccountStatus{Account: account}, nil
	}
	st := a.status()
	t.settle(a)
	return st, nil
}

// LockedAccounts implements Store.
func (m *Memory) LockedAccounts(context.Context) ([]AccountStatus, error) {
	if m.closed.Load() {
		return nil, errClosed
	}
	t := m.accounts
	t.mu.Lock()
	now := m.now()
	t.endLocks(now)
	out := make([]AccountStatus, 0, len(t.locked))
	for _, a := range t.locked {
		a.refresh(now) // drops old failures and slots; the lock stays
		out = append(out, a.status())
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b AccountStatus) int { return strings.Compare(a.Account, b.Account) })
	return out, nil
}

// EndedLocks implements Store.
func (m *Memory) EndedLocks(context.Context) ([]EndedLock, error) {
	if m.closed.Load() {
		return nil, errClosed
	}
	t := m.accounts
	t.mu.Lock()
	t.endLocks(m.now())
	out := t.ended
	t.ended = nil
	t.mu.Unlock()
	slices.SortStableFunc(out, func(a, b EndedLock) int { return a.Until.Compare(b.Until) })
	return out, nil
}

// Close implements Store: it drops everything the store holds, and later calls
// fail. Closing twice is harmless.
func (m *Memory) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	m.accounts.clear()
	m.sessions.clear()
	m.blocks.clear()
	return m.closeJournal()
}

// Interface guard.
var _ Store = (*Memory)(nil)
