package spool

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestCrashHelper is the process TestKilledMidWrite kills: it appends batches
// to the spool in LOGINGUARD_SPOOL_CRASH_DIR and prints how many events are
// durable after each Append returned.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv("LOGINGUARD_SPOOL_CRASH_DIR")
	if dir == "" {
		t.Skip("helper process of TestKilledMidWrite")
	}
	s, err := Open(Options{Dir: dir, SegmentBytes: 256 << 10})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for b := 0; ; b++ {
		evs := events(fmt.Sprintf("c%05d", b), 50)
		if _, err := s.Append(evs); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("durable", (b+1)*50)
	}
}

// TestKilledMidWrite kills a process that appends as fast as it can (SIGKILL,
// so likely in the middle of a write): after reopening, every event whose
// Append had returned is there, in order, and whatever the process was
// writing is either whole or cut off.
func TestKilledMidWrite(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LOGINGUARD_SPOOL_CRASH_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read the helper's output all the while, so that it never waits on the
	// pipe and is killed while it writes.
	var durable atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "durable "); ok {
				v, _ := strconv.Atoi(n)
				durable.Store(int64(v))
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for durable.Load() < 20000 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	cmd.Wait()
	if durable.Load() == 0 {
		t.Fatal("the helper made nothing durable")
	}

	s := openT(t, Options{Dir: dir, SegmentBytes: 256 << 10})
	defer s.Close()
	got := drain(t, s)
	n := int(durable.Load())
	if len(got) < n {
		t.Fatalf("after the crash %d events, but %d were durable", len(got), n)
	}
	if len(got) > n+50 {
		t.Fatalf("%d events after %d durable: more than the batch being written", len(got), n)
	}
	for i, ev := range got {
		if want := fmt.Sprintf("c%05d-%06d", i/50, i%50); ev.ID != want {
			t.Fatalf("event %d is %s, want %s", i, ev.ID, want)
		}
	}
	t.Logf("killed after %d durable events; %d read back; %d torn bytes cut", n, len(got), s.Stats().Corrupt)
}
