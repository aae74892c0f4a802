// Package file is the JSON-lines file connector: it appends every event to a
// file as one JSON object per line, one write per batch.
package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

// DefaultMode is the permission of a file the sink creates when Options.Mode is zero.
const DefaultMode fs.FileMode = 0o600

// Options configures a Sink.
type Options struct {
	// Path of the file; it and its missing parent directories are created.
	// Required.
	Path string
	// Mode is the permission of the file when the sink creates it; created
	// parent directories get the same bits plus search (x) where readable.
	// Default: 0600.
	Mode os.FileMode
	// Fsync makes every batch reach the disk before Deliver returns.
	// Default: false (the operating system flushes when it likes).
	Fsync bool
}

// Sink appends events to a JSON-lines file. It is safe for concurrent use.
type Sink struct {
	path  string
	fsync bool

	mu     sync.Mutex
	f      *os.File
	buf    []byte
	closed bool
}

// New opens (or creates) the file at o.Path for appending.
func New(o Options) (*Sink, error) {
	if o.Path == "" {
		return nil, errors.New("file sink: path is empty")
	}
	mode := o.Mode.Perm()
	if mode == 0 {
		mode = DefaultMode
	}
	dirMode := mode | (mode&0o444)>>2
	if err := os.MkdirAll(filepath.Dir(o.Path), dirMode); err != nil {
		return nil, fmt.Errorf("file sink: creating the directory of %s: %w", o.Path, err)
	}
	f, err := os.OpenFile(o.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, mode)
	if err != nil {
		return nil, fmt.Errorf("file sink: opening %s: %w", o.Path, err)
	}
	return &Sink{path: o.Path, fsync: o.Fsync, f: f}, nil
}

// Path returns the path of the file.
func (s *Sink) Path() string { return s.path }

// Deliver appends batch to the file, one JSON object per line, in a single
// write (and fsync when configured). A write that fails part way is cut back so
// that the file never holds a partial line.
func (s *Sink) Deliver(ctx context.Context, batch []event.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(batch) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("file sink %s: closed", s.path)
	}
	// JSON strings escape every control character (and U+2028/2029), so a
	// line is an event.
	buf := s.buf[:0]
	for i := range batch {
		buf = batch[i].AppendJSON(buf)
		buf = append(buf, '\n')
	}
	s.buf = buf
	n, err := s.f.Write(buf)
	if err != nil {
		if n > 0 {
			s.cutPartial(int64(n))
		}
		return fmt.Errorf("file sink %s: writing %d events: %w", s.path, len(batch), err)
	}
	if s.fsync {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("file sink %s: syncing: %w", s.path, err)
		}
	}
	// Do not keep a huge buffer alive after a rare huge batch.
	if cap(s.buf) > 4<<20 {
		s.buf = nil
	}
	return nil
}

// cutPartial removes the n bytes of a failed write from the end of the file,
// best effort (the sink is the file's only writer).
func (s *Sink) cutPartial(n int64) {
	fi, err := s.f.Stat()
	if err != nil || fi.Size() < n {
		return
	}
	_ = s.f.Truncate(fi.Size() - n)
}

// Close closes the file; what Deliver wrote is already in it. Later calls do
// nothing.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("file sink %s: closing: %w", s.path, err)
	}
	return nil
}

// Interface guard.
var _ connectors.Connector = (*Sink)(nil)
