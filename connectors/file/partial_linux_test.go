//go:build linux

package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/loginguard/loginguard/event"
)

// TestPartialWriteIsCut makes a batch's write fail part way, with a file size
// limit on the process (Go ignores SIGXFSZ, so the write returns EFBIG), and
// checks that the file is cut back to whole lines.
func TestPartialWriteIsCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s, err := New(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first := []event.Event{{ID: "first", Source: event.SourcePortal, EventType: event.LoginSuccess}}
	if err := s.Deliver(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]event.Event, 20)
	for i := range big {
		big[i] = event.Event{ID: "big", Source: event.SourcePortal, Message: event.Str(strings.Repeat("y", 100))}
	}

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	limit := syscall.Rlimit{Cur: uint64(fi.Size()) + 1000, Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Fatal(err)
	}
	err = s.Deliver(context.Background(), big)
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Deliver past the size limit: %v, want a write error naming the file", err)
	}
	if got := readLines(t, path); len(got) != 1 || got[0].ID != "first" {
		t.Fatalf("after the failed write the file holds %d events, want only the first", len(got))
	}
	// The retried batch then lands whole.
	if err := s.Deliver(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	if got := readLines(t, path); len(got) != 21 {
		t.Fatalf("after the retry the file holds %d events, want 21", len(got))
	}
}
