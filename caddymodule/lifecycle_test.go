package caddymodule

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/state"
)

// slowStore is a log store whose DeleteBefore takes a while and counts how many
// run at once; nothing else of it is used.
type slowStore struct {
	logstore.Store
	delay               time.Duration
	calls, active, most atomic.Int32
	canceled            atomic.Int32
}

func (s *slowStore) DeleteBefore(ctx context.Context, _ time.Time, _ int) (int64, error) {
	s.calls.Add(1)
	n := s.active.Add(1)
	defer s.active.Add(-1)
	for {
		m := s.most.Load()
		if n <= m || s.most.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		s.canceled.Add(1)
		return 0, ctx.Err()
	}
	return 0, nil
}

// TestRetentionAcrossReload: a reload starts the new app before it stops the
// old one; their retention runs on one store never overlap, and Stop cancels a
// run in progress and waits for every background job.
func TestRetentionAcrossReload(t *testing.T) {
	st := &slowStore{delay: 300 * time.Millisecond}
	mk := func() *App {
		return &App{
			logStore: st, logStoreKey: "logstore:test-retention-" + t.Name(), Retention: caddy.Duration(time.Hour),
			logger: slog.New(slog.DiscardHandler), store: state.NewMemory(state.MemoryOptions{}),
		}
	}
	old, next := mk(), mk()
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	if err := next.Start(); err != nil { // the reload: new before old stops
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for st.calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := next.Stop(); err != nil {
		t.Fatal(err)
	}
	if st.calls.Load() < 2 {
		t.Fatalf("%d retention runs, want one per app", st.calls.Load())
	}
	if m := st.most.Load(); m != 1 {
		t.Errorf("%d retention runs at once on one store, want 1", m)
	}
	if a := st.active.Load(); a != 0 {
		t.Errorf("%d retention runs still active after Stop returned", a)
	}
}

// TestStopCancelsRetention: Stop does not wait out a long retention run: it
// cancels it.
func TestStopCancelsRetention(t *testing.T) {
	st := &slowStore{delay: time.Minute}
	a := &App{
		logStore: st, logStoreKey: "logstore:test-cancel", Retention: caddy.Duration(time.Hour),
		logger: slog.New(slog.DiscardHandler), store: state.NewMemory(state.MemoryOptions{}),
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); st.calls.Load() < 1 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if st.canceled.Load() != 1 || st.active.Load() != 0 {
		t.Errorf("canceled %d, active %d after Stop; want the run canceled and over", st.canceled.Load(), st.active.Load())
	}
}
