package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/loginguard/loginguard/internal/filelock"
)

// A Memory store with a journal keeps its account locks and IP blocks across a
// restart: every lock, unlock, block and unblock is appended to the journal and
// synced to disk before the call returns, so a lock a client was answered about
// survives even a SIGKILL. OpenMemory replays the journal and rewrites it with
// what is still in force. Failure counts, slots, sessions, aliases, known
// prefixes and the locks of (account, prefix) pairs are not kept: a restart
// starts them afresh. A lock that ran out while the process was down is not
// announced by EndedLocks.
//
// One process writes a journal: OpenMemory claims it (internal/filelock) and
// fails when another process holds it.
//
// The journal is JSON lines, one change each:
//
//	{"a":"<account>","u":<end, Unix ms; 0 permanent>,"admin":true,"l":<backoff level>}   a lock
//	{"a":"<account>","x":true}                                                        an unlock
//	{"b":"<cidr>","u":<end, Unix ms; 0 until unblocked>}                              a block
//	{"b":"<cidr>","x":true}                                                           an unblock

// journalRecord is one line of the journal.
type journalRecord struct {
	Account string `json:"a,omitempty"`
	CIDR    string `json:"b,omitempty"`
	Until   int64  `json:"u,omitempty"`
	Admin   bool   `json:"admin,omitempty"`
	Level   int    `json:"l,omitempty"`
	Lift    bool   `json:"x,omitempty"`
}

// journal appends records to a file, each synced before append returns.
type journal struct {
	mu      sync.Mutex
	f       *os.File
	release func() // gives back the claim on the file
	err     error  // the first write error; later appends report it too
}

// OpenMemory returns a Memory store that keeps its locks and blocks in the
// journal at path (created with its directory), restored from it.
func OpenMemory(o MemoryOptions, path string) (*Memory, error) {
	m := NewMemory(o)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("memory state journal: %w", err)
	}
	release, err := filelock.Claim(path)
	if errors.Is(err, filelock.ErrHeld) {
		return nil, fmt.Errorf("memory state journal %s is in use by another process: give each process its own (state memory { journal <path> }) or share Redis", path)
	}
	if err != nil {
		return nil, fmt.Errorf("memory state journal: %w", err)
	}
	records, err := readJournal(path)
	if err != nil {
		release()
		return nil, err
	}
	m.replay(records)
	if err := m.compact(path); err != nil {
		release()
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		release()
		return nil, fmt.Errorf("memory state journal: %w", err)
	}
	m.journal = &journal{f: f, release: release}
	return m, nil
}

// readJournal reads every record of the journal at path; a last line cut by a
// crash is ignored.
func readJournal(path string) ([]journalRecord, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("memory state journal: %w", err)
	}
	defer f.Close()
	var out []journalRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r journalRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("memory state journal %s: %w", path, err)
	}
	return out, nil
}

// replay applies the records, the last of each account and range winning, and
// keeps what is still in force.
func (m *Memory) replay(records []journalRecord) {
	now := m.now()
	locks := map[string]journalRecord{}
	blocks := map[string]journalRecord{}
	var order []string
	for _, r := range records {
		switch {
		case r.Account != "":
			if _, seen := locks[r.Account]; !seen {
				order = append(order, r.Account)
			}
			locks[r.Account] = r
		case r.CIDR != "":
			blocks[r.CIDR] = r
		}
	}
	t := m.accounts
	t.mu.Lock()
	for _, name := range order {
		r := locks[name]
		if r.Lift || (r.Until != 0 && !now.Before(time.UnixMilli(r.Until))) {
			continue
		}
		a := t.get(name, now)
		if a == nil {
			if a = t.create(name, now); a == nil {
				break // full of locked accounts
			}
		}
		a.locked, a.admin, a.level = true, r.Admin, r.Level
		a.until = time.Time{}
		if r.Until != 0 {
			a.until = time.UnixMilli(r.Until)
		}
		t.settle(a)
	}
	t.mu.Unlock()
	for cidr, r := range blocks {
		if r.Lift || (r.Until != 0 && !now.Before(time.UnixMilli(r.Until))) {
			continue
		}
		p, err := ParseIPRange(cidr)
		if err != nil {
			continue
		}
		m.blocks.mu.Lock()
		if m.blocks.until == nil {
			m.blocks.until = map[netip.Prefix]time.Time{}
		}
		var u time.Time
		if r.Until != 0 {
			u = time.UnixMilli(r.Until)
		}
		m.blocks.until[p] = u
		m.blocks.mu.Unlock()
	}
}

// compact rewrites the journal at path with the locks and blocks in force.
func (m *Memory) compact(path string) error {
	var b []byte
	t := m.accounts
	t.mu.Lock()
	for _, a := range t.byName {
		if a.locked {
			b = appendRecord(b, lockRecord(a))
		}
	}
	t.mu.Unlock()
	m.blocks.mu.Lock()
	for p, u := range m.blocks.until {
		r := journalRecord{CIDR: p.String()}
		if !u.IsZero() {
			r.Until = u.UnixMilli()
		}
		b = appendRecord(b, r)
	}
	m.blocks.mu.Unlock()
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("memory state journal: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("memory state journal: rewriting %s: %w", path, err)
	}
	return nil
}

func lockRecord(a *memAccount) journalRecord {
	r := journalRecord{Account: a.name, Admin: a.admin, Level: a.level}
	if !a.until.IsZero() {
		r.Until = a.until.UnixMilli()
	}
	return r
}

func appendRecord(b []byte, r journalRecord) []byte {
	line, _ := json.Marshal(r)
	return append(append(b, line...), '\n')
}

// record appends r to the journal, if the store has one, and syncs it.
func (m *Memory) record(r journalRecord) error {
	j := m.journal
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if _, err := j.f.Write(appendRecord(nil, r)); err != nil {
		j.err = fmt.Errorf("memory state journal: %w", err)
		return j.err
	}
	if err := j.f.Sync(); err != nil {
		j.err = fmt.Errorf("memory state journal: %w", err)
		return j.err
	}
	return nil
}

// closeJournal closes the journal and gives up its lock.
func (m *Memory) closeJournal() error {
	j := m.journal
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.f.Close()
	j.release()
	return err
}
