// Package filelock claims a file for one process: an exclusive flock on
// "<file>.lock", which holds the claiming process's pid. Claims of one process
// on one file share the lock (a config reload opens a file again before it
// closes it), so only another process is refused.
package filelock

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

// ErrHeld is wrapped by the error of Claim when another process holds the file.
var ErrHeld = errors.New("held by another process")

type claim struct {
	f    *os.File
	refs int
}

var (
	mu     sync.Mutex
	claims = map[string]*claim{} // by absolute path
)

// Claim claims path for this process; release gives the claim back. When
// another process holds it, the error wraps ErrHeld and names the holder's pid
// when it is known.
func Claim(path string) (release func(), err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	if c := claims[abs]; c != nil {
		c.refs++
		return func() { unclaim(abs) }, nil
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(abs+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("locking %s: %w", abs, err)
		}
		holder := "another process"
		if b, rerr := os.ReadFile(abs + ".lock"); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = "another process (pid " + strconv.Itoa(pid) + ")"
			}
		}
		return nil, fmt.Errorf("%s is being written by %s: %w", abs, holder, ErrHeld)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	claims[abs] = &claim{f: f, refs: 1}
	return func() { unclaim(abs) }, nil
}

func unclaim(abs string) {
	mu.Lock()
	defer mu.Unlock()
	c := claims[abs]
	if c == nil {
		return
	}
	if c.refs--; c.refs > 0 {
		return
	}
	delete(claims, abs)
	_ = syscall.Flock(int(c.f.Fd()), syscall.LOCK_UN)
	c.f.Close()
}
