package pwned

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options are the settings of Open.
type Options struct {
	// PollInterval is how often the file is looked at (its inode, size and
	// modification time) to reload it when it was replaced. 0 never looks:
	// call Reload.
	// Default: 0.
	PollInterval time.Duration
	// Logger receives a line for each reload and each failed reload.
	// Default: slog.Default().
	Logger *slog.Logger
}

// Filter is an open pwned passwords file, memory-mapped. It is safe for
// concurrent use, across Reload too.
//
// A reload maps the new file beside the old one, checks it whole (header,
// length, checksum), then swaps it in; a file that fails the checks is not
// used and the old one stays. Each lookup holds a reference to the mapping it
// reads, and a mapping is unmapped only when the swap has happened and the
// last lookup holding it has let go, so no lookup ever reads unmapped memory
// or a file that was not checked.
//
// Replace the file by renaming a complete one over it (as the build command
// does). A file rewritten in place changes under the mapping itself: the poll
// notices (same inode, new size or time) and lookups fail with ErrStale until
// a reload of the completed file succeeds; a lookup that touches a page the
// rewrite has cut off fails with ErrStale instead of crashing the process.
type Filter struct {
	path   string
	log    *slog.Logger
	cur    atomic.Pointer[mapping]
	mu     sync.Mutex // serialises Reload and Close
	closed bool
	stop   chan struct{}
	done   chan struct{}

	reloads, reloadErrors, faults, stale atomic.Uint64
}

// Errors of lookups. Both mean "unknown": a caller that fails open lets the
// password through and counts the error.
var (
	ErrClosed = errors.New("pwned: the filter is closed")
	ErrStale  = errors.New("pwned: the file changed under its mapping (rewritten in place); waiting for a complete file")
)

// mapping is one mapped, checked file.
type mapping struct {
	data   []byte
	h      header
	shards []shard
	id     fileID
	refs   atomic.Int64 // the Filter's own reference, plus one per lookup in flight
	stale  atomic.Bool
}

// shard is one shard's view of the mapping.
type shard struct {
	seed  uint64
	p     fuseParams
	arr   []byte // fuse: the fingerprints
	bb    uint   // table: bucket bits
	start []byte // table: bucket starts
	rems  []byte // table: remainders
}

// liveMappings counts the files mapped by every Filter of the process.
var liveMappings atomic.Int64

// fileID tells one version of a file from another.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

func statID(fi os.FileInfo) fileID {
	id := fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), st.Ino
	}
	return id
}

// Open maps the file at path and checks it. An error of the file's contents
// is a *FormatError that names the file and says to rebuild it.
func Open(path string, opts Options) (*Filter, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m, err := load(path)
	if err != nil {
		return nil, err
	}
	f := &Filter{path: path, log: opts.Logger}
	f.cur.Store(m)
	if opts.PollInterval > 0 {
		f.stop = make(chan struct{})
		f.done = make(chan struct{})
		go f.watch(opts.PollInterval)
	}
	return f, nil
}

// load maps and checks the file.
func load(path string) (*mapping, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pwned passwords file: %w", err)
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("pwned passwords file: %w", err)
	}
	if fi.Size() < headerSize {
		d := make([]byte, fi.Size())
		n, _ := fd.ReadAt(d, 0)
		_, err := parseHeader(path, d[:n])
		return nil, err
	}
	if int64(int(fi.Size())) != fi.Size() {
		return nil, &FormatError{Path: path, Reason: "too large to map"}
	}
	data, err := syscall.Mmap(int(fd.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("pwned passwords file %s: mmap: %w", path, err)
	}
	m := &mapping{data: data, id: statID(fi)}
	if err := m.check(path); err != nil {
		syscall.Munmap(data)
		return nil, err
	}
	m.refs.Store(1)
	liveMappings.Add(1)
	return m, nil
}

// check reads the header, the checksum and the shard table, guarding
// against a file cut short while it is read.
func (m *mapping) check(path string) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); !ok {
				panic(r)
			}
			err = &FormatError{Path: path, Reason: "truncated while being read"}
		}
	}()
	h, err := parseHeader(path, m.data)
	if err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return &FormatError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	if crc32.Checksum(m.data[headerSize:], castagnoli) != h.dataCRC {
		return bad("damaged (checksum mismatch)")
	}
	n := 1 << h.shardBits
	tableOff := len(m.data) - n*entrySize
	if tableOff < headerSize {
		return bad("too short for its shard table")
	}
	m.h = h
	m.shards = make([]shard, n)
	var total uint64
	for i := range m.shards {
		e := getEntry(m.data[tableOff+i*entrySize:])
		total += uint64(e.keys)
		s := &m.shards[i]
		switch h.mode {
		case ModeFuse:
			s.seed = e.seed
			s.p = fuseParams{segLen: e.a, segCountLength: e.b, arrayLen: e.c}
			if e.a == 0 || e.a&(e.a-1) != 0 || uint64(e.b)+2*uint64(e.a) > uint64(e.c) ||
				e.offset+uint64(e.c) > uint64(tableOff) {
				return bad("shard %d's entry is inconsistent", i)
			}
			s.arr = m.data[e.offset : e.offset+uint64(e.c)]
		case ModeTable:
			s.bb = uint(e.a)
			nb := uint64(1)<<s.bb + 1
			end := e.offset + 4*nb + 4*uint64(e.keys)
			if s.bb > 28 || end > uint64(tableOff) {
				return bad("shard %d's entry is inconsistent", i)
			}
			s.start = m.data[e.offset : e.offset+4*nb]
			s.rems = m.data[e.offset+4*nb : end]
			if binary.LittleEndian.Uint32(s.start[4*(nb-1):]) != e.keys {
				return bad("shard %d's entry is inconsistent", i)
			}
		}
	}
	if total != h.count {
		return bad("the shards hold %d hashes, the header says %d", total, h.count)
	}
	return nil
}

func (m *mapping) release() {
	if m.refs.Add(-1) == 0 {
		syscall.Munmap(m.data)
		m.data, m.shards = nil, nil
		liveMappings.Add(-1)
	}
}

// acquire returns the current mapping with a reference held, or nil when the
// filter is closed.
func (f *Filter) acquire() *mapping {
	for {
		m := f.cur.Load()
		if m == nil {
			return nil
		}
		r := m.refs.Load()
		// r == 0: m was swapped out and its last user is unmapping it; the
		// next Load sees its successor.
		if r > 0 && m.refs.CompareAndSwap(r, r+1) {
			return m
		}
	}
}

// contains looks k up in m.
func (m *mapping) contains(k uint64) bool {
	s := &m.shards[k>>(64-uint(m.h.shardBits))&uint64(len(m.shards)-1)]
	if m.h.mode == ModeFuse {
		return fuseContains(s.p, s.seed, s.arr, k)
	}
	bucket, r := tableSplit(k, m.h.shardBits, s.bb)
	lo := int(binary.LittleEndian.Uint32(s.start[4*bucket:]))
	hi := int(binary.LittleEndian.Uint32(s.start[4*bucket+4:]))
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		v := binary.LittleEndian.Uint32(s.rems[4*mid:])
		switch {
		case v == r:
			return true
		case v < r:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return false
}

// Lookup reports whether the SHA-1 sum is in the set. err is ErrClosed or
// ErrStale (then found is false).
func (f *Filter) Lookup(sum [20]byte) (found bool, err error) {
	m := f.acquire()
	if m == nil {
		return false, ErrClosed
	}
	defer m.release()
	if m.stale.Load() {
		f.stale.Add(1)
		return false, ErrStale
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); !ok {
				panic(r)
			}
			m.stale.Store(true)
			f.faults.Add(1)
			found, err = false, ErrStale
		}
	}()
	return m.contains(key(&sum)), nil
}

// Contains reports whether the SHA-1 sum is in the set; false when the
// lookup fails (see Lookup).
func (f *Filter) Contains(sum [20]byte) bool {
	found, _ := f.Lookup(sum)
	return found
}

// Check implements Checker. Count is 0: the file keeps no counts.
func (f *Filter) Check(_ context.Context, sum [20]byte) (Result, error) {
	found, err := f.Lookup(sum)
	return Result{Breached: found}, err
}

// Reload maps the file at the filter's path again, checks it and swaps it in.
// On error the filter keeps the mapping it had.
func (f *Filter) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	m, err := load(f.path)
	if err != nil {
		f.reloadErrors.Add(1)
		return err
	}
	old := f.cur.Swap(m)
	old.release()
	f.reloads.Add(1)
	f.log.Info("pwned passwords file reloaded", "path", f.path, "hashes", m.h.count, "mode", m.h.mode.String())
	return nil
}

// watch polls the file and reloads it when it changed.
func (f *Filter) watch(every time.Duration) {
	defer close(f.done)
	t := time.NewTicker(every)
	defer t.Stop()
	var failed fileID // the version whose reload failed, to log it once
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		fi, err := os.Stat(f.path)
		if err != nil {
			continue // gone for now (between an unlink and a rename): keep the old one
		}
		id := statID(fi)
		m := f.acquire()
		if m == nil {
			return
		}
		cur := m.id
		if id != cur && id.dev == cur.dev && id.ino == cur.ino {
			m.stale.Store(true) // rewritten in place under the mapping
		}
		m.release()
		if id == cur {
			continue
		}
		if err := f.Reload(); err != nil {
			if id != failed {
				f.log.Warn("pwned passwords file changed but cannot be used; keeping the previous one", "path", f.path, "error", err)
			}
			failed = id
		}
	}
}

// Close stops the poll and unmaps the file once no lookup uses it. Lookups
// after Close fail with ErrClosed.
func (f *Filter) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	m := f.cur.Swap(nil)
	f.mu.Unlock()
	if f.stop != nil {
		close(f.stop)
		<-f.done
	}
	if m != nil {
		m.release()
	}
	return nil
}

// FilterStats describes the file in use and the filter's counters.
type FilterStats struct {
	Path      string
	Mode      Mode
	Hashes    uint64 // distinct hashes in the file
	MinCount  uint64
	Size      int64
	ShardBits uint8
	// Reloads and ReloadErrors count Reload's outcomes (by the poll too).
	Reloads, ReloadErrors uint64
	// Stale counts lookups refused with ErrStale; Faults the lookups that
	// touched a page cut off by a rewrite in place.
	Stale, Faults uint64
}

// Stats returns the file's figures and the counters.
func (f *Filter) Stats() FilterStats {
	s := FilterStats{Path: f.path, Reloads: f.reloads.Load(), ReloadErrors: f.reloadErrors.Load(),
		Stale: f.stale.Load(), Faults: f.faults.Load()}
	if m := f.acquire(); m != nil {
		s.Mode, s.Hashes, s.MinCount, s.Size, s.ShardBits = m.h.mode, m.h.count, m.h.minCount, int64(m.h.size), m.h.shardBits
		m.release()
	}
	return s
}
