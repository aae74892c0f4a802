package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cutFS is a file system in memory that can lose power, as a machine with a
// page cache does. Reads see every write at once (the page cache); the disk
// holds a file's contents as of its last Sync, and a directory's names
// (created, renamed, removed files) as of its last SyncDir. At a power cut,
// each file and directory keeps what was synced and, of what was not, a
// prefix of its changes in the order they were made, the last write of it
// possibly torn: per file, chosen at random among nothing, all, or a random
// prefix. A file whose name was not synced into its directory is gone,
// whatever was synced of its contents.
//
// The power fails at the mutating operation number cutAt (a write, sync,
// truncation, creation, removal, rename or directory sync; that operation
// does not happen), or at powerCut. From then on every operation fails, as
// in a machine that is off, until restart, which boots the machine on what
// the disk held; files open before fail for good.
type cutFS struct {
	mu    sync.Mutex
	rng   *rand.Rand
	root  *node
	gen   int      // the boot; files opened in an earlier one fail
	ops   int      // mutating operations since the start
	cutAt int      // the mutating operation at which the power fails; 0: never
	down  bool     // the power failed and restart was not called
	cut   bool     // the power failed at least once
	trace []string // the mutating operations and what the cuts kept, to read when a test fails
	disk  *node
}

// node is a file or a directory.
type node struct {
	dir bool

	data   []byte   // a file's contents as read (the page cache)
	synced []byte   // a file's contents on the disk
	log    []fileOp // a file's changes since its last Sync, in order

	names   map[string]*node // a directory's entries as looked up
	durable map[string]*node // a directory's entries on the disk
	dlog    []dirOp          // a directory's changes since its last SyncDir
}

// fileOp is a write of data at off, or a truncation to size.
type fileOp struct {
	off  int64
	data []byte
	trnc bool
	size int64
}

// dirOp links n as name (n nil: unlinks name), or renames name to to.
type dirOp struct {
	name, to string
	n        *node
}

var errPowerLost = syscall.EIO

func newCutFS(seed uint64) *cutFS {
	root := &node{dir: true, names: map[string]*node{}, durable: map[string]*node{}}
	return &cutFS{rng: rand.New(rand.NewPCG(seed, 0x5eed)), root: root}
}

// step counts a mutating operation and cuts the power at cutAt. The caller
// holds mu; false means the operation must not happen.
func (c *cutFS) step(op, name string) bool {
	if c.down {
		return false
	}
	c.ops++
	c.trace = append(c.trace, fmt.Sprintf("%d %s %s", c.ops, op, name))
	if c.ops == c.cutAt {
		c.powerCutLocked()
		return false
	}
	return true
}

// powerCut cuts the power now.
func (c *cutFS) powerCut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.down {
		c.powerCutLocked()
	}
}

func (c *cutFS) powerCutLocked() {
	c.down, c.cut = true, true
	c.trace = append(c.trace, fmt.Sprintf("the power fails at operation %d", c.ops))
	c.disk = c.survive(c.root, map[*node]*node{}, "/")
}

// restart boots on what the disk held at the cut.
func (c *cutFS) restart() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.root, c.disk = c.disk, nil
	c.down = false
	c.gen++
}

// keep returns how many of n unsynced changes survive.
func (c *cutFS) keep(n int) int {
	switch c.rng.IntN(3) {
	case 0:
		return 0
	case 1:
		return n
	}
	return c.rng.IntN(n + 1)
}

// survive returns what the disk holds of n after a power cut.
func (c *cutFS) survive(n *node, seen map[*node]*node, path string) *node {
	if s := seen[n]; s != nil {
		return s
	}
	if !n.dir {
		img := slices.Clone(n.synced)
		k := c.keep(len(n.log))
		for _, op := range n.log[:k] {
			img = op.apply(img)
		}
		torn := ""
		if k < len(n.log) && !n.log[k].trnc && c.rng.IntN(2) == 0 {
			op := n.log[k]
			op.data = op.data[:c.rng.IntN(len(op.data)+1)]
			img = op.apply(img)
			torn = fmt.Sprintf(" and %d bytes of the next", len(op.data))
		}
		c.trace = append(c.trace, fmt.Sprintf("cut: %s keeps %d bytes synced, %d of %d changes after%s: %d bytes",
			path, len(n.synced), k, len(n.log), torn, len(img)))
		s := &node{data: img, synced: slices.Clone(img)}
		seen[n] = s
		return s
	}
	names := clone(n.durable)
	k := c.keep(len(n.dlog))
	for _, op := range n.dlog[:k] {
		op.apply(names)
	}
	c.trace = append(c.trace, fmt.Sprintf("cut: %s keeps %d of %d name changes after its sync", path, k, len(n.dlog)))
	s := &node{dir: true, names: map[string]*node{}}
	seen[n] = s
	for name, child := range names {
		s.names[name] = c.survive(child, seen, filepath.Join(path, name))
	}
	s.durable = clone(s.names)
	return s
}

func clone(m map[string]*node) map[string]*node {
	out := make(map[string]*node, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (op fileOp) apply(b []byte) []byte {
	if op.trnc {
		return resize(b, op.size)
	}
	if end := op.off + int64(len(op.data)); end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[op.off:], op.data)
	return b
}

func resize(b []byte, size int64) []byte {
	if size <= int64(len(b)) {
		return b[:size]
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

func (op dirOp) apply(names map[string]*node) {
	switch {
	case op.to != "":
		names[op.to] = names[op.name]
		delete(names, op.name)
	case op.n != nil:
		names[op.name] = op.n
	default:
		delete(names, op.name)
	}
}

// change records and applies a directory change.
func (d *node) change(op dirOp) {
	d.dlog = append(d.dlog, op)
	op.apply(d.names)
}

// write records and applies a change of a file's contents.
func (n *node) write(op fileOp) {
	n.log = append(n.log, fileOp{off: op.off, data: slices.Clone(op.data), trnc: op.trnc, size: op.size})
	n.data = op.apply(n.data)
}

// lookup returns the parent directory of the clean absolute path name, its
// last element and the node it names (nil when none). The caller holds mu.
func (c *cutFS) lookup(name string) (parent *node, base string, n *node, err error) {
	if !filepath.IsAbs(name) {
		return nil, "", nil, errors.New("cutFS: relative path " + name)
	}
	name = filepath.Clean(name)
	if name == "/" {
		return nil, "", c.root, nil
	}
	parts := strings.Split(name[1:], "/")
	d := c.root
	for _, p := range parts[:len(parts)-1] {
		next := d.names[p]
		if next == nil {
			return nil, "", nil, fs.ErrNotExist
		}
		if !next.dir {
			return nil, "", nil, syscall.ENOTDIR
		}
		d = next
	}
	base = parts[len(parts)-1]
	return d, base, d.names[base], nil
}

func pathErr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

func (c *cutFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, pathErr("open", name, errPowerLost)
	}
	if flag&^(os.O_RDONLY|os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_APPEND) != 0 {
		return nil, pathErr("open", name, errors.New("cutFS: flag not supported"))
	}
	d, base, n, err := c.lookup(name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	if n == nil {
		if flag&os.O_CREATE == 0 {
			return nil, pathErr("open", name, fs.ErrNotExist)
		}
		if !c.step("create", name) {
			return nil, pathErr("open", name, errPowerLost)
		}
		n = &node{}
		d.change(dirOp{name: base, n: n})
	}
	if n.dir && flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	return &cutFile{fs: c, gen: c.gen, n: n, name: name, flag: flag}, nil
}

func (c *cutFS) ReadFile(name string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, pathErr("open", name, errPowerLost)
	}
	_, _, n, err := c.lookup(name)
	if err == nil && n == nil {
		err = fs.ErrNotExist
	}
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	if n.dir {
		return nil, pathErr("read", name, syscall.EISDIR)
	}
	return slices.Clone(n.data), nil
}

func (c *cutFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, pathErr("open", dir, errPowerLost)
	}
	_, _, d, err := c.lookup(dir)
	if err == nil && d == nil {
		err = fs.ErrNotExist
	}
	if err == nil && !d.dir {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, pathErr("open", dir, err)
	}
	var out []fs.DirEntry
	for name, n := range d.names {
		out = append(out, fs.FileInfoToDirEntry(info{name, n}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (c *cutFS) Stat(name string) (fs.FileInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, pathErr("stat", name, errPowerLost)
	}
	_, _, n, err := c.lookup(name)
	if err == nil && n == nil {
		err = fs.ErrNotExist
	}
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return info{filepath.Base(name), n}, nil
}

func (c *cutFS) Mkdir(dir string, perm fs.FileMode) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return pathErr("mkdir", dir, errPowerLost)
	}
	d, base, n, err := c.lookup(dir)
	if err == nil && n != nil {
		err = fs.ErrExist
	}
	if err != nil {
		return pathErr("mkdir", dir, err)
	}
	if !c.step("mkdir", dir) {
		return pathErr("mkdir", dir, errPowerLost)
	}
	d.change(dirOp{name: base, n: &node{dir: true, names: map[string]*node{}, durable: map[string]*node{}}})
	return nil
}

func (c *cutFS) Truncate(name string, size int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return pathErr("truncate", name, errPowerLost)
	}
	_, _, n, err := c.lookup(name)
	if err == nil && n == nil {
		err = fs.ErrNotExist
	}
	if err == nil && n.dir {
		err = syscall.EISDIR
	}
	if err != nil {
		return pathErr("truncate", name, err)
	}
	if !c.step("truncate", name) {
		return pathErr("truncate", name, errPowerLost)
	}
	n.write(fileOp{trnc: true, size: size})
	return nil
}

func (c *cutFS) Remove(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return pathErr("remove", name, errPowerLost)
	}
	d, base, n, err := c.lookup(name)
	if err == nil && n == nil {
		err = fs.ErrNotExist
	}
	if err == nil && n.dir && len(n.names) > 0 {
		err = syscall.ENOTEMPTY
	}
	if err != nil {
		return pathErr("remove", name, err)
	}
	if !c.step("remove", name) {
		return pathErr("remove", name, errPowerLost)
	}
	d.change(dirOp{name: base})
	return nil
}

func (c *cutFS) Rename(from, to string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: errPowerLost}
	}
	d, base, n, err := c.lookup(from)
	if err == nil && n == nil {
		err = fs.ErrNotExist
	}
	var d2 *node
	var base2 string
	if err == nil {
		d2, base2, _, err = c.lookup(to)
	}
	if err == nil && d2 != d {
		err = errors.New("cutFS: rename across directories not supported")
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	if !c.step("rename", from+" → "+to) {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: errPowerLost}
	}
	d.change(dirOp{name: base, to: base2})
	return nil
}

func (c *cutFS) SyncDir(dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return pathErr("sync", dir, errPowerLost)
	}
	_, _, d, err := c.lookup(dir)
	if err == nil && d == nil {
		err = fs.ErrNotExist
	}
	if err == nil && !d.dir {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return pathErr("open", dir, err)
	}
	if !c.step("syncdir", dir) {
		return pathErr("sync", dir, errPowerLost)
	}
	d.durable, d.dlog = clone(d.names), nil
	return nil
}

// info is a node's fs.FileInfo.
type info struct {
	name string
	n    *node
}

func (i info) Name() string       { return i.name }
func (i info) Size() int64        { return int64(len(i.n.data)) }
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return i.n.dir }
func (i info) Sys() any           { return nil }
func (i info) Mode() fs.FileMode {
	if i.n.dir {
		return fs.ModeDir | 0o700
	}
	return 0o600
}

// cutFile is an open file of a cutFS.
type cutFile struct {
	fs     *cutFS
	gen    int
	n      *node
	name   string
	flag   int
	off    int64 // of Read and Write without O_APPEND
	closed bool
}

// What an operation on a file needs of the mode it was opened with.
const (
	needNothing = iota
	needRead
	needWrite
)

// usable returns the error of an operation on f, if any. The caller holds mu.
func (f *cutFile) usable(op string, need int) error {
	switch {
	case f.closed:
		return pathErr(op, f.name, os.ErrClosed)
	case f.fs.down || f.gen != f.fs.gen:
		return pathErr(op, f.name, errPowerLost)
	case need == needWrite && f.flag&(os.O_WRONLY|os.O_RDWR) == 0,
		need == needRead && f.flag&os.O_WRONLY != 0:
		return pathErr(op, f.name, syscall.EBADF)
	}
	return nil
}

func (f *cutFile) Read(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.usable("read", needRead); err != nil {
		return 0, err
	}
	if f.n.dir {
		return 0, pathErr("read", f.name, syscall.EISDIR)
	}
	if f.off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[f.off:])
	f.off += int64(n)
	return n, nil
}

func (f *cutFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.usable("read", needRead); err != nil {
		return 0, err
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *cutFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.usable("write", needWrite); err != nil {
		return 0, err
	}
	if !f.fs.step("write", fmt.Sprintf("%s %d bytes", f.name, len(p))) {
		return 0, pathErr("write", f.name, errPowerLost)
	}
	off := f.off
	if f.flag&os.O_APPEND != 0 {
		off = int64(len(f.n.data))
	}
	f.n.write(fileOp{off: off, data: p})
	f.off = off + int64(len(p))
	return len(p), nil
}

func (f *cutFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.flag&os.O_APPEND != 0 {
		return 0, errors.New("os: invalid use of WriteAt on file opened with O_APPEND")
	}
	if err := f.usable("write", needWrite); err != nil {
		return 0, err
	}
	if !f.fs.step("writeAt", fmt.Sprintf("%s %d bytes at %d", f.name, len(p), off)) {
		return 0, pathErr("write", f.name, errPowerLost)
	}
	f.n.write(fileOp{off: off, data: p})
	return len(p), nil
}

func (f *cutFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.usable("sync", needNothing); err != nil {
		return err
	}
	if !f.fs.step("sync", f.name) {
		return pathErr("sync", f.name, errPowerLost)
	}
	f.n.synced, f.n.log = slices.Clone(f.n.data), nil
	return nil
}

func (f *cutFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.usable("truncate", needWrite); err != nil {
		return err
	}
	if !f.fs.step("ftruncate", fmt.Sprintf("%s to %d", f.name, size)) {
		return pathErr("truncate", f.name, errPowerLost)
	}
	f.n.write(fileOp{trnc: true, size: size})
	return nil
}

// Close always succeeds once: the handle of a process that lost its machine
// is gone all the same.
func (f *cutFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, os.ErrClosed)
	}
	f.closed = true
	return nil
}

// cutFS and cutFile are what the spool needs.
var (
	_ fileSystem = (*cutFS)(nil)
	_ file       = (*cutFile)(nil)
)

// TestCutFSAnswersLikeTheDisk runs one script of file operations on the disk
// and on a cutFS with the power on: every answer (bytes, counts, the kind of
// error) must be the same, so that the spool meets in the power-cut tests the
// file system it meets in production.
func TestCutFSAnswersLikeTheDisk(t *testing.T) {
	disk := fsTranscript(t, osFS{}, t.TempDir())
	fake := fsTranscript(t, newCutFS(1), "/cut")
	if len(disk) != len(fake) {
		t.Fatalf("the disk answered %d times, the fake %d", len(disk), len(fake))
	}
	for i := range disk {
		if disk[i] != fake[i] {
			t.Errorf("answer %d: the disk %q, the fake %q", i, disk[i], fake[i])
		}
	}
}

// fsTranscript runs the script on fsys under root and returns its answers.
func fsTranscript(t *testing.T, fsys fileSystem, root string) []string {
	var out []string
	say := func(what string, n int, err error, data []byte) {
		kind := "ok"
		switch {
		case err == nil:
		case errors.Is(err, fs.ErrNotExist):
			kind = "not-exist"
		case errors.Is(err, fs.ErrExist):
			kind = "exist"
		case errors.Is(err, fs.ErrClosed):
			kind = "closed"
		case err == io.EOF:
			kind = "eof"
		default:
			kind = "error"
		}
		out = append(out, fmt.Sprintf("%s: %d %s %q", what, n, kind, data))
	}
	dir := filepath.Join(root, "a", "b")
	say("mkdirAll", 0, mkdirAll(fsys, dir, 0o700), nil)
	say("mkdirAll again", 0, mkdirAll(fsys, dir, 0o700), nil)
	say("mkdir existing", 0, fsys.Mkdir(dir, 0o700), nil)
	fi, err := fsys.Stat(dir)
	say("stat dir", 0, err, []byte(fmt.Sprint(fi != nil && fi.IsDir())))
	path := filepath.Join(dir, "f")
	_, err = fsys.OpenFile(path, os.O_RDONLY, 0)
	say("open missing", 0, err, nil)
	_, err = fsys.ReadFile(path)
	say("read missing", 0, err, nil)
	say("remove missing", 0, fsys.Remove(path), nil)
	say("truncate missing", 0, fsys.Truncate(path, 0), nil)
	w, err := fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	n, err := w.Write([]byte("hello"))
	say("write", n, err, nil)
	n, err = w.Write([]byte(" world"))
	say("write", n, err, nil)
	n, err = w.WriteAt([]byte("x"), 0)
	say("writeAt on append", n, err, nil)
	n, err = w.Read(make([]byte, 4))
	say("read write-only", n, err, nil)
	say("sync", 0, w.Sync(), nil)
	b, err := fsys.ReadFile(path)
	say("readFile", len(b), err, b)
	r, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 5)
	n, err = r.ReadAt(p, 6)
	say("readAt", n, err, p[:n])
	n, err = r.ReadAt(p, 8)
	say("readAt past the end", n, err, p[:n])
	n, err = r.ReadAt(p, 40)
	say("readAt beyond", n, err, p[:n])
	for range 4 {
		n, err = r.Read(p)
		say("read", n, err, p[:n])
	}
	n, err = r.Write([]byte("no"))
	say("write read-only", n, err, nil)
	say("truncate read-only", 0, r.Truncate(1), nil)
	say("truncate path", 0, fsys.Truncate(path, 7), nil)
	b, err = fsys.ReadFile(path)
	say("readFile", len(b), err, b)
	say("truncate handle", 0, w.Truncate(3), nil)
	n, err = w.Write([]byte("p!"))
	say("append after truncate", n, err, nil)
	b, err = fsys.ReadFile(path)
	say("readFile", len(b), err, b)
	say("close", 0, w.Close(), nil)
	say("close again", 0, w.Close(), nil)
	n, err = w.Write([]byte("late"))
	say("write closed", n, err, nil)
	say("close reader", 0, r.Close(), nil)

	g, err := fsys.OpenFile(filepath.Join(dir, "g"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	n, err = g.WriteAt([]byte("ack"), 4)
	say("writeAt with a hole", n, err, nil)
	n, err = g.ReadAt(p[:4], 0)
	say("readAt the hole", n, err, p[:n])
	n, err = g.WriteAt([]byte("AC"), 4)
	say("overwrite", n, err, nil)
	b, err = fsys.ReadFile(filepath.Join(dir, "g"))
	say("readFile", len(b), err, b)
	say("close", 0, g.Close(), nil)

	say("rename", 0, fsys.Rename(path, filepath.Join(dir, "g")), nil)
	_, err = fsys.ReadFile(path)
	say("read renamed", 0, err, nil)
	b, err = fsys.ReadFile(filepath.Join(dir, "g"))
	say("read replaced", len(b), err, b)
	say("rename missing", 0, fsys.Rename(path, filepath.Join(dir, "h")), nil)
	say("syncDir", 0, fsys.SyncDir(dir), nil)
	ents, err := fsys.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, fmt.Sprint(e.Name(), e.IsDir()))
	}
	say("readDir", len(ents), err, []byte(strings.Join(names, ",")))
	ents, err = fsys.ReadDir(filepath.Join(root, "a"))
	names = names[:0]
	for _, e := range ents {
		names = append(names, fmt.Sprint(e.Name(), e.IsDir()))
	}
	say("readDir", len(ents), err, []byte(strings.Join(names, ",")))
	say("remove", 0, fsys.Remove(filepath.Join(dir, "g")), nil)
	_, err = fsys.OpenFile(filepath.Join(root, "nodir", "f"), os.O_WRONLY|os.O_CREATE, 0o600)
	say("create in a missing directory", 0, err, nil)
	return out
}

// TestCutFSPowerCut: what the fake keeps at a power cut, over many cuts. A
// file created after its directory's last sync is sometimes gone, though its
// contents were synced; a synced file keeps its synced contents and, of the
// writes after, nothing, all, or a prefix (sometimes torn mid-write); the
// files open before the cut fail after it.
func TestCutFSPowerCut(t *testing.T) {
	kept := map[string]bool{}
	gone := 0
	for seed := range uint64(200) {
		c := newCutFS(seed)
		if err := c.Mkdir("/d", 0o700); err != nil {
			t.Fatal(err)
		}
		if err := c.SyncDir("/"); err != nil {
			t.Fatal(err)
		}
		named, err := c.OpenFile("/d/named", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SyncDir("/d"); err != nil {
			t.Fatal(err)
		}
		unnamed, err := c.OpenFile("/d/unnamed", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []file{named, unnamed} {
			if _, err := f.Write([]byte("synced.")); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		named.Write([]byte("one."))
		named.Write([]byte("two."))
		c.powerCut()
		if _, err := named.Write([]byte("off")); err == nil {
			t.Fatal("a write succeeded with the power off")
		}
		if _, err := c.ReadFile("/d/named"); err == nil {
			t.Fatal("a read succeeded with the power off")
		}
		c.restart()
		if err := named.Sync(); err == nil {
			t.Fatal("a file open before the cut synced after it")
		}
		if b, err := c.ReadFile("/d/unnamed"); errors.Is(err, fs.ErrNotExist) {
			gone++
		} else if string(b) != "synced." {
			t.Fatalf("a file created after its directory's sync holds %q, %v", b, err)
		}
		b, err := c.ReadFile("/d/named")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix("synced.one.two.", string(b)) || len(b) < len("synced.") {
			t.Fatalf("after the cut the file holds %q", b)
		}
		kept[string(b)] = true
	}
	for _, want := range []string{"synced.", "synced.one.", "synced.one.two."} {
		if !kept[want] {
			t.Errorf("no cut left %q (kept: %v)", want, kept)
		}
	}
	if len(kept) < 6 {
		t.Errorf("torn writes never kept: %v", kept)
	}
	if gone < 40 || gone > 160 {
		t.Errorf("a file created after its directory's sync was gone after %d cuts of 200", gone)
	}
}
