package state

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// blockTable holds the IP blocks of a Memory store: an admin-only table, not
// bounded (every entry was made by an admin), expired blocks dropped on each
// change.
type blockTable struct {
	mu sync.Mutex
	// until is the end of each block; zero for a permanent one.
	until map[netip.Prefix]time.Time
}

func (t *blockTable) dropExpired(now time.Time) {
	for p, u := range t.until {
		if !u.IsZero() && !now.Before(u) {
			delete(t.until, p)
		}
	}
}

// Block implements Store.
func (m *Memory) Block(_ context.Context, cidr string, d time.Duration) error {
	if m.closed.Load() {
		return errClosed
	}
	p, err := ParseIPRange(cidr)
	if err != nil {
		return err
	}
	now := m.now()
	t := &m.blocks
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropExpired(now)
	if t.until == nil {
		t.until = make(map[netip.Prefix]time.Time)
	}
	var u time.Time
	r := journalRecord{CIDR: p.String()}
	if d > 0 {
		u = now.Add(d)
		r.Until = u.UnixMilli()
	}
	t.until[p] = u
	return m.record(r)
}

// Unblock implements Store.
func (m *Memory) Unblock(_ context.Context, cidr string) (bool, error) {
	if m.closed.Load() {
		return false, errClosed
	}
	p, err := ParseIPRange(cidr)
	if err != nil {
		return false, err
	}
	now := m.now()
	t := &m.blocks
	t.mu.Lock()
	defer t.mu.Unlock()
	u, ok := t.until[p]
	delete(t.until, p)
	if ok {
		if err := m.record(journalRecord{CIDR: p.String(), Lift: true}); err != nil {
			return false, err
		}
	}
	return ok && (u.IsZero() || now.Before(u)), nil
}

// BlockedIPs implements Store.
func (m *Memory) BlockedIPs(context.Context) ([]IPBlock, error) {
	if m.closed.Load() {
		return nil, errClosed
	}
	now := m.now()
	t := &m.blocks
	t.mu.Lock()
	prefixes := make([]netip.Prefix, 0, len(t.until))
	for p, u := range t.until {
		if u.IsZero() || now.Before(u) {
			prefixes = append(prefixes, p)
		}
	}
	slices.SortFunc(prefixes, netip.Prefix.Compare)
	out := make([]IPBlock, len(prefixes))
	for i, p := range prefixes {
		u := t.until[p]
		out[i] = IPBlock{CIDR: p.String(), Permanent: u.IsZero(), Until: u}
	}
	t.mu.Unlock()
	return out, nil
}

func (t *blockTable) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.until = nil
}
