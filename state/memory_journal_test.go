package state_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/state/statetest"
)

// TestMemoryJournalConformance: a Memory store with a journal behaves as the
// Store contract says.
func TestMemoryJournalConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T, opts state.Options) state.Store {
		m, err := state.OpenMemory(state.MemoryOptions{Options: opts}, filepath.Join(t.TempDir(), "state.journal"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := m.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return m
	})
}

// TestMemoryJournalRestart: locks (automatic and an admin's) and IP blocks in
// force survive a restart, clean or not; unlocked, unblocked and run-out ones do
// not; a last line cut by a crash is ignored. (That another process is refused
// is internal/filelock's, tested through the SQLite store.)
func TestMemoryJournalRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "loginguard", "state.journal")
	clock := statetest.NewClock(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	opts := state.MemoryOptions{Options: state.Options{Now: clock.Now}}
	m, err := state.OpenMemory(opts, path)
	if err != nil {
		t.Fatal(err)
	}
	p := state.Policy{MaxFailures: 2, Window: time.Hour, LockDuration: time.Hour, SlotTTL: time.Minute}
	for range 2 { // bob locks himself out for an hour
		adm, _ := m.Admit(ctx, state.Attempt{Account: "bob"}, p)
		if _, err := m.Finish(ctx, state.Attempt{Account: "bob"}, adm.Slot, state.CountedFailure, p); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.Lock(ctx, "ops", 0))             // an admin's, permanent
	must(m.Lock(ctx, "brief", time.Minute)) // runs out while down
	must(m.Lock(ctx, "carol", time.Hour))   // lifted again
	_, err = m.Unlock(ctx, "carol")
	must(err)
	must(m.Block(ctx, "203.0.113.0/24", time.Hour))
	must(m.Block(ctx, "198.51.100.7", 0))
	must(m.Block(ctx, "192.0.2.0/24", time.Hour))
	_, err = m.Unblock(ctx, "192.0.2.0/24")
	must(err)

	// A SIGKILL: nothing is closed or flushed, the process's locks go with it;
	// a half-written last line remains.
	if err := state.DropJournalForTest(m); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	must(err)
	_, err = f.WriteString(`{"a":"half`)
	must(err)
	f.Close()

	clock.Advance(2 * time.Minute)
	for round := range 2 { // the restart after the kill, then a clean one
		r, err := state.OpenMemory(opts, path)
		if err != nil {
			t.Fatalf("restart %d: %v", round, err)
		}
		locked, _ := r.LockedAccounts(ctx)
		var names []string
		for _, s := range locked {
			names = append(names, s.Account)
		}
		if strings.Join(names, ",") != "bob,ops" {
			t.Errorf("restart %d: locked %v, want bob and ops", round, names)
		}
		if adm, _ := r.Admit(ctx, state.Attempt{Account: "bob"}, p); !adm.Locked {
			t.Errorf("restart %d: bob admitted after the restart", round)
		}
		if st, _ := r.Status(ctx, "ops"); !st.AdminLock || !st.Permanent {
			t.Errorf("restart %d: ops %+v, want an admin's permanent lock", round, st)
		}
		blocks, _ := r.BlockedIPs(ctx)
		var cidrs []string
		for _, b := range blocks {
			cidrs = append(cidrs, b.CIDR)
		}
		if strings.Join(cidrs, ",") != "198.51.100.7/32,203.0.113.0/24" {
			t.Errorf("restart %d: blocked %v", round, cidrs)
		}
		must(r.Close())
	}
	clock.Advance(time.Hour) // bob's lock and the /24 block run out
	r, err := state.OpenMemory(opts, path)
	must(err)
	defer r.Close()
	if locked, _ := r.LockedAccounts(ctx); len(locked) != 1 || locked[0].Account != "ops" {
		t.Errorf("after the hour: locked %+v, want ops only", locked)
	}
}
