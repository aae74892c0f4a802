package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/internal/filelock"
)

// TestOwnerHelper is the process TestSecondProcessRefused runs: it opens the
// spool in LOGINGUARD_SPOOL_OWNER_DIR, says so, and holds it until its stdin
// closes.
func TestOwnerHelper(t *testing.T) {
	dir := os.Getenv("LOGINGUARD_SPOOL_OWNER_DIR")
	if dir == "" {
		t.Skip("helper process of TestSecondProcessRefused")
	}
	s, err := Open(Options{Dir: dir})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("open")
	io.Copy(io.Discard, os.Stdin)
	s.Close()
}

// TestSecondProcessRefused: a spool open in one process cannot be opened by
// another (their appends would interleave in one segment); the error names the
// holder's pid. Once the holder is gone, the spool opens.
func TestSecondProcessRefused(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOwnerHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LOGINGUARD_SPOOL_OWNER_DIR="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	if line, _ := bufio.NewReader(out).ReadString('\n'); strings.TrimSpace(line) != "open" {
		t.Fatalf("helper: %q", line)
	}
	_, err = Open(Options{Dir: dir})
	if !errors.Is(err, filelock.ErrHeld) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("second process: %v, want held by pid %d", err, cmd.Process.Pid)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatalf("after the holder exited: %v", err)
	}
	s.Close()
}
