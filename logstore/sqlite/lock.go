package sqlite

import (
	"errors"
	"fmt"
	"strings"

	"github.com/loginguard/loginguard/internal/filelock"
)

// One process writes a SQLite log file: two processes appending to one file
// through their own in-memory batches and caches would lose events. Open claims
// the file (an exclusive lock on "<file>.lock" holding the writer's pid, shared
// by the Stores of one process) until the last Store of this process on it is
// closed; a second process gets an error naming the file and the holder.

// lockWriter claims path for this process; release gives the claim back.
func lockWriter(path string) (release func(), err error) {
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return func() {}, nil
	}
	release, err = filelock.Claim(path)
	if errors.Is(err, filelock.ErrHeld) {
		msg := strings.TrimSuffix(err.Error(), ": "+filelock.ErrHeld.Error())
		return nil, fmt.Errorf("sqlite store: %s: one process writes a SQLite login log; give this one another file (store sqlite <path>, or LOGINGUARD_DB in the example) or use PostgreSQL (store postgres) for several instances", msg)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite store: %s: %w", path, err)
	}
	return release, nil
}
