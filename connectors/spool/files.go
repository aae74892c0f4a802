package spool

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// file is what the spool does with an open file; *os.File is one.
type file interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	Sync() error
	Truncate(size int64) error
	Close() error
}

// fileSystem is where the spool keeps its files: osFS, the disk, in
// production. It is an interface so that the power-cut tests can give the
// spool a file system that remembers what was synced and loses the rest.
//
// The durability rules the spool follows, and the tests hold it to:
// a file's writes, truncations and size survive a power cut once the file is
// synced; a file's name (its creation, a rename, a removal) survives once its
// directory is synced (SyncDir).
type fileSystem interface {
	OpenFile(name string, flag int, perm fs.FileMode) (file, error)
	ReadFile(name string) ([]byte, error)
	ReadDir(dir string) ([]fs.DirEntry, error)
	Stat(name string) (fs.FileInfo, error)
	Mkdir(dir string, perm fs.FileMode) error
	Truncate(name string, size int64) error
	Remove(name string) error
	Rename(from, to string) error
	// SyncDir makes the names in dir durable.
	SyncDir(dir string) error
}

// osFS is the disk.
type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not a nil *os.File in a non-nil file
	}
	return f, nil
}

func (osFS) ReadFile(name string) ([]byte, error)      { return os.ReadFile(name) }
func (osFS) ReadDir(dir string) ([]fs.DirEntry, error) { return os.ReadDir(dir) }
func (osFS) Stat(name string) (fs.FileInfo, error)     { return os.Stat(name) }
func (osFS) Mkdir(dir string, perm fs.FileMode) error  { return os.Mkdir(dir, perm) }
func (osFS) Truncate(name string, size int64) error    { return os.Truncate(name, size) }
func (osFS) Remove(name string) error                  { return os.Remove(name) }
func (osFS) Rename(from, to string) error              { return os.Rename(from, to) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// mkdirAll creates dir and the parents it lacks, like os.MkdirAll, and syncs
// the directory of each one it creates, so that a new spool directory is not
// lost with a power cut after its first events were synced.
func mkdirAll(fsys fileSystem, dir string, perm fs.FileMode) error {
	dir = filepath.Clean(dir)
	fi, err := fsys.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: errors.New("not a directory")}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAll(fsys, parent, perm); err != nil {
			return err
		}
	}
	if err := fsys.Mkdir(dir, perm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made by another process meanwhile
		}
		return err
	}
	return fsys.SyncDir(parent)
}
