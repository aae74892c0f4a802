package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// One process writes a SQLite log file: two processes appending to one file
// through their own in-memory batches and caches would lose events. Open takes
// an exclusive flock on "<file>.lock" (holding the writer's pid) and keeps it
// until the last Store of this process on that file is closed; a second
// process gets an error naming the file and the holder.

// writerLock is this process's claim on one log file.
type writerLock struct {
	f    *os.File
	refs int
}

var (
	locksMu sync.Mutex
	locks   = map[string]*writerLock{} // by absolute path of the log file
)

// lockWriter claims path for this process; release gives the claim back.
func lockWriter(path string) (release func(), err error) {
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return func() {}, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: %s: %w", path, err)
	}
	locksMu.Lock()
	defer locksMu.Unlock()
	if l := locks[abs]; l != nil {
		l.refs++
		return func() { unlockWriter(abs) }, nil
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite store: %s: %w", path, err)
	}
	f, err := os.OpenFile(abs+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(abs + ".lock"); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = "another process (pid " + strconv.Itoa(pid) + ")"
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("sqlite store: %s is being written by %s: one process writes a SQLite login log; give this one another file (store sqlite <path>, or LOGINGUARD_DB in the example) or use PostgreSQL (store postgres) for several instances", abs, holder)
		}
		return nil, fmt.Errorf("sqlite store: locking %s: %w", abs, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	locks[abs] = &writerLock{f: f, refs: 1}
	return func() { unlockWriter(abs) }, nil
}

func unlockWriter(abs string) {
	locksMu.Lock()
	defer locksMu.Unlock()
	l := locks[abs]
	if l == nil {
		return
	}
	if l.refs--; l.refs > 0 {
		return
	}
	delete(locks, abs)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
