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
	// MaxSessions is the most sessions remembered at once; default 100000.
	MaxSessions int
}

// Memory is the embedded Store: plain maps in this process, for a single instance.
// NewMemory makes one; the zero value is not usable.
//
// Memory is bounded. Accounts that hold nothing (no failures in the window, no
// slots, no lock, no remembered backoff level) are dropped when an operation leaves
// them so or, lazily, a few at a time as new accounts arrive; expired sessions are
// dropped as new sessions arrive. When MaxAccounts accounts are tracked, a new
// account evicts the least recently active account that is not locked, so a flood
// of made-up names can make the store forget failures but never lifts a lock. When
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
	sessions *sessionTable
	blocks   blockTable
	nextSlot atomic.Uint64
	closed   atomic.Bool
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
		sessions: newSessionTable(o.MaxSessions),
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
func (m *Memory) Admit(_ context.Context, account string, p Policy) (Admission, error) {
	if m.closed.Load() {
		return Admission{}, errClosed
	}
	t := m.accounts
	t.mu.Lock()
	defer t.mu.Unlock()
	now := m.now()

	var adm Admission
	a := t.byName[account]
	if a != nil {
		a.window = p.Window
		a.refresh(now)
		adm.Failures, adm.InFlight = len(a.failures), len(a.slots)
		if a.locked || adm.Failures+adm.InFlight >= maxFailures(p) {
			adm.Locked, adm.LockedUntil = a.locked, a.until
			t.settle(a)
			return adm, nil
		}
	} else if a = t.create(account, now); a == nil {
		// Every tracked account is locked: let the attempt through untracked.
		return Admission{Allowed: true, Slot: m.newSlot()}, nil
	}
	a.window = p.Window
	adm.Allowed, adm.Slot = true, m.newSlot()
	a.slots = append(a.slots, memSlot{id: adm.Slot, expires: now.Add(slotTTL(p))})
	t.settle(a)
	return adm, nil
}

// Finish implements Store.
func (m *Memory) Finish(_ context.Context, account, slot string, o Outcome, p Policy) (Result, error) {
	if m.closed.Load() {
		return Result{}, errClosed
	}
	t := m.accounts
	t.mu.Lock()
	defer t.mu.Unlock()
	now := m.now()

	a := t.byName[account]
	if a == nil {
		if o != CountedFailure {
			return Result{}, nil
		}
		if a = t.create(account, now); a == nil {
			return Result{}, nil // every tracked account is locked
		}
	}
	a.window = p.Window
	a.refresh(now)
	a.release(slot)

	var r Result
	switch o {
	case Success:
		a.failures = a.failures[:0]
	case CountedFailure:
		limit := maxFailures(p)
		a.addFailure(now, limit)
		if !a.locked && len(a.failures) >= limit {
			a.level++
			a.locked = true
			a.lockMemory = p.LockMemory
			a.levelUntil = time.Time{}
			a.until = time.Time{}
			if p.LockDuration > 0 {
				a.until = now.Add(lockDuration(p, a.level))
			}
			r.NewlyLocked = true
		}
	}
	r.Failures, r.Locked, r.LockedUntil = len(a.failures), a.locked, a.until
	t.settle(a)
	return r, nil
}

// PutSession implements Store. A ttl that is not positive only forgets an earlier
// session behind hash.
func (m *Memory) PutSession(_ context.Context, hash string, s Session, ttl time.Duration) error {
	if m.closed.Load() {
		return errClosed
	}
	if ttl <= 0 {
		m.sessions.forget(hash)
		return nil
	}
	now := m.now()
	m.sessions.put(hash, s, now.Add(ttl), now)
	return nil
}

// TakeSession implements Store.
func (m *Memory) TakeSession(_ context.Context, hash string) (Session, bool, error) {
	if m.closed.Load() {
		return Session{}, false, errClosed
	}
	s, ok := m.sessions.take(hash, m.now())
	return s, ok, nil
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
	a.until = time.Time{}
	if d > 0 {
		a.until = now.Add(d)
	}
	t.settle(a)
	return nil
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
	a.until = time.Time{}
	a.failures = a.failures[:0]
	a.level = 0
	a.levelUntil = time.Time{}
	t.settle(a)
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
	// Expired locks sit at the top of the heap: file them away first.
	for len(t.locked) > 0 {
		top := t.locked[0]
		if top.until.IsZero() || now.Before(top.until) {
			break
		}
		top.refresh(now)
		t.settle(top)
	}
	out := make([]AccountStatus, 0, len(t.locked))
	for _, a := range t.locked {
		a.refresh(now) // drops old failures and slots; the lock stays
		out = append(out, a.status())
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b AccountStatus) int { return strings.Compare(a.Account, b.Account) })
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
	return nil
}

// Interface guard.
var _ Store = (*Memory)(nil)
