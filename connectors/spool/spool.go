// Package spool is a connector's durable queue on local disk: events are
// appended to segment files, one fsync per batch, before the pipeline counts them
// accepted; the delivery goroutine reads them back in order and acknowledges
// what its sink took, and segments wholly acknowledged are removed. After a
// restart the events not acknowledged are read again (at-least-once: a sink
// dedups by event id).
//
// Layout of a spool directory:
//
//	00000000000000000001.seg   segments, numbered in append order
//	ack                        the position read up to and acknowledged
//	dead-letter.jsonl          events given up, one JSON object per line
//	dead-letter.1.jsonl        the previous dead-letter file (see DeadLetterBytes)
//
// A segment is a sequence of records:
//
//	uint32 length of body (little endian)
//	uint32 CRC-32C of body
//	body:  int64 unix nanoseconds of the append, then the event's JSON
//
// A record cut short or whose checksum does not match (a crash during a write)
// ends its segment: Open truncates the segment there and counts the loss in
// Stats.Corrupt; a dead-letter line without its newline is cut off the same
// way. The ack file holds the segment number and offset of the first record
// not acknowledged, with a checksum; it is written without fsync, as a lost
// or torn acknowledgement only means redelivery.
//
// What a power cut keeps: a file's contents are durable once it is fsynced,
// its name once its directory is. So an Append returns only after its
// segment is fsynced, and a new segment or dead-letter file is not written to
// before the directory is fsynced (at Open, at each new segment, at each
// dead-letter rotation); a new spool directory is synced into its parent.
// TestPowerCut holds the spool to this on a file system that loses what was
// not synced.
//
// Disk use is bounded by Options.MaxBytes (the bytes of all segments): when a
// batch does not fit, the events that do not fit, the newest, are not written
// and Append reports how many it took, so that the caller counts the rest as
// dropped. Append never waits for room.
package spool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/internal/filelock"
)

// Defaults of Options.
const (
	DefaultMaxBytes        int64 = 1 << 30 // 1 GiB
	DefaultSegmentBytes    int64 = 16 << 20
	DefaultMaxAge                = 24 * time.Hour
	DefaultDeadLetterBytes int64 = 64 << 20
)

// memCap is the most events kept in memory, next to their copy on disk, for a
// reader that keeps up: it reads them without decoding the disk copy. While
// the reader's deliveries fail (Failing), none are kept.
const memCap = 1 << 16

// headerLen is the length of a record's length and checksum.
const headerLen = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options configures a Spool.
type Options struct {
	// Dir is the spool's directory, created when missing; one directory per
	// connector. Required.
	Dir string
	// MaxBytes bounds the bytes of all segments; events that do not fit are
	// refused (Append takes fewer). Default: 1 GiB.
	MaxBytes int64
	// SegmentBytes is the size after which a new segment is started; at
	// most an eighth of MaxBytes (and at least 4 KiB). Default: 16 MiB.
	SegmentBytes int64
	// MaxAge is how long an event may stay undelivered before the pipeline
	// dead-letters it. The spool only carries it. Default: 24h.
	MaxAge time.Duration
	// DeadLetterBytes bounds the dead-letter file: when a write would take
	// it past this size, dead-letter.jsonl becomes dead-letter.1.jsonl (the
	// previous one is removed, its events counted in
	// Stats.DeadLetterDiscarded) and a new file is begun, so that dead
	// letters use at most about twice this. Default: 64 MiB.
	DeadLetterBytes int64
}

// Pos is a position in the spool: a segment number and a byte offset in it.
type Pos struct {
	Seg uint64
	Off int64
}

func (p Pos) less(q Pos) bool { return p.Seg < q.Seg || (p.Seg == q.Seg && p.Off < q.Off) }

// Batch is events read from the spool, in append order.
type Batch struct {
	Events []event.Event
	// Appended is when each event was appended.
	Appended []time.Time
	// End is the position after the batch's last record, for Ack.
	End Pos
}

// Stats are a spool's counters.
type Stats struct {
	// Pending counts the events appended and not acknowledged.
	Pending int64
	// Bytes is the size of all segments.
	Bytes int64
	// Corrupt counts the bytes cut off torn or damaged records at Open.
	Corrupt int64
	// DeadLettered counts the events written to the dead-letter file.
	DeadLettered uint64
	// DeadLetterDiscarded counts the dead letters removed with an old
	// dead-letter file (DeadLetterBytes), since Open.
	DeadLetterDiscarded uint64
	// InMemory counts the events kept in memory next to their disk copy, for
	// a reader that keeps up.
	InMemory int
}

type item struct {
	ev  event.Event
	at  time.Time
	end Pos
}

// Spool is one connector's disk queue. Append may run concurrently with Next,
// Ack and DeadLetter; Next and Ack are for one reader.
type Spool struct {
	release func() // gives back the claim on the directory (filelock)
	key     string
	refs    int        // Opens not yet Closed; guarded by openMu and mu
	reader  sync.Mutex // held by the one reader (LockReader)

	dir      string
	maxBytes int64
	segBytes int64
	maxAge   time.Duration
	deadMax  int64

	fs fileSystem

	wmu sync.Mutex // serialises writes to the segment being appended to
	wf  file
	buf []byte

	mu       sync.Mutex
	sizes    map[uint64]int64 // committed size of every segment
	wseg     uint64           // the segment appended to
	total    int64            // sum of sizes
	read     Pos              // the next record to read
	ack      Pos              // the first record not acknowledged
	pending  int64
	corrupt  int64
	dead     uint64
	mem      []item // the records after read, when memOK
	memArr   []item // the array mem is in, whole (len = cap), reused from its start
	memOK    bool   // mem holds every record from read to the committed end
	failing  bool   // the reader's deliveries fail: keep nothing in memory
	rf       file
	rseg     uint64 // segment rf reads; 0 when none is open
	rbuf     []byte
	closed   bool
	notify   chan struct{}
	ackFile  file
	deadFile file
	deadSize int64  // bytes of dead-letter.jsonl
	deadN    uint64 // dead letters in dead-letter.jsonl
	oldN     uint64 // dead letters in dead-letter.1.jsonl
	gone     uint64 // dead letters removed with an old file
}

// Open opens the spool in o.Dir, creating it, and recovers what an earlier
// process left: torn records are cut off, and reading starts at the first
// record not acknowledged.
func Open(o Options) (*Spool, error) { return openFS(o, osFS{}) }

// openFS is Open on the file system fsys.
func openFS(o Options, fsys fileSystem) (*Spool, error) {
	if o.Dir == "" {
		return nil, errors.New("spool: dir: required")
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.DeadLetterBytes <= 0 {
		o.DeadLetterBytes = DefaultDeadLetterBytes
	}
	// Room is freed a whole segment at a time: keep segments small next to
	// the limit, so that an acknowledged segment never fills it.
	o.SegmentBytes = min(o.SegmentBytes, max(o.MaxBytes/8, 4096))
	if err := mkdirAll(fsys, o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: creating %s: %w", o.Dir, err)
	}
	key, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	openMu.Lock()
	defer openMu.Unlock()
	if s := open[key]; s != nil {
		// Open already in this process (a config reload starts the new
		// pipeline before the old one stops): share it, with the new limits.
		s.mu.Lock()
		s.refs++
		s.maxBytes, s.segBytes, s.maxAge, s.deadMax = o.MaxBytes, o.SegmentBytes, o.MaxAge, o.DeadLetterBytes
		s.mu.Unlock()
		return s, nil
	}
	// One process writes a spool: a second would interleave its segments.
	release := func() {}
	if _, disk := fsys.(osFS); disk {
		r, err := filelock.Claim(filepath.Join(o.Dir, "spool"))
		if err != nil {
			return nil, fmt.Errorf("spool %s: %w (give each Caddy process its own spool dir)", o.Dir, err)
		}
		release = r
	}
	s := &Spool{
		release:  release,
		key:      key,
		refs:     1,
		fs:       fsys,
		dir:      o.Dir,
		maxBytes: o.MaxBytes,
		segBytes: o.SegmentBytes,
		maxAge:   o.MaxAge,
		deadMax:  o.DeadLetterBytes,
		sizes:    make(map[uint64]int64),
		notify:   make(chan struct{}, 1),
	}
	if err := s.recover(); err != nil {
		s.closeFiles()
		release()
		return nil, err
	}
	open[key] = s
	return s, nil
}

// open holds the spools open in this process, by absolute directory: two
// pipelines of one process share a spool rather than corrupt it.
var (
	openMu sync.Mutex
	open   = map[string]*Spool{}
)

// Shared reports whether more than one Open of this process holds the spool.
func (s *Spool) Shared() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refs > 1
}

// LockReader makes the caller the spool's one reader, waiting for the previous
// one's UnlockReader, and rewinds to the first event not acknowledged (what the
// previous reader read and did not acknowledge comes again).
func (s *Spool) LockReader() {
	s.reader.Lock()
	s.Rewind()
}

// UnlockReader ends the caller's turn as reader.
func (s *Spool) UnlockReader() { s.reader.Unlock() }

// MaxAge returns the configured Options.MaxAge (or its default).
func (s *Spool) MaxAge() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxAge
}

// Dir returns the spool's directory.
func (s *Spool) Dir() string { return s.dir }

func (s *Spool) segPath(n uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d.seg", n))
}

// recover scans the directory: it reads the ack file, removes the segments
// wholly acknowledged, truncates every segment at its first bad record, counts
// the pending events and opens the last segment for appending.
func (s *Spool) recover() error {
	ents, err := s.fs.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: reading %s: %w", s.dir, err)
	}
	var segs []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || e.IsDir() {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err != nil || n == 0 {
			continue
		}
		segs = append(segs, n)
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i] < segs[j] })

	s.ackFile, err = s.fs.OpenFile(filepath.Join(s.dir, "ack"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("spool: opening the ack file: %w", err)
	}
	ack, ackOK := readAck(s.ackFile)
	if !ackOK && len(segs) > 0 {
		ack = Pos{Seg: segs[0]}
	}
	for _, n := range segs {
		if ackOK && n < ack.Seg {
			if err := s.fs.Remove(s.segPath(n)); err != nil {
				return fmt.Errorf("spool: removing acknowledged segment: %w", err)
			}
			continue
		}
		size, count, err := s.scan(n, ack)
		if err != nil {
			return err
		}
		s.sizes[n] = size
		s.total += size
		s.pending += count
		s.wseg = n
	}
	if len(s.sizes) == 0 {
		s.wseg = max(ack.Seg, 1)
		s.sizes[s.wseg] = 0
		if ack.Seg != s.wseg {
			ack = Pos{Seg: s.wseg}
		}
	}
	if _, ok := s.sizes[ack.Seg]; !ok || ack.Off > s.sizes[ack.Seg] {
		// An ack past what survived: start at the oldest segment left.
		ack = Pos{Seg: s.oldest()}
	}
	s.ack, s.read = ack, ack
	s.wf, err = s.fs.OpenFile(s.segPath(s.wseg), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: opening segment: %w", err)
	}
	if s.deadN, s.deadSize, err = s.countLines(s.DeadLetterPath()); err != nil {
		return fmt.Errorf("spool: reading the dead-letter file: %w", err)
	}
	if s.oldN, _, err = s.countLines(s.oldDeadPath()); err != nil {
		return fmt.Errorf("spool: reading the old dead-letter file: %w", err)
	}
	if err := s.openDead(); err != nil {
		return err
	}
	// The files just created (the ack file, the first segment, the
	// dead-letter file) are synced with their events; their names are
	// durable only once the directory is.
	if err := s.fs.SyncDir(s.dir); err != nil {
		return fmt.Errorf("spool: syncing %s: %w", s.dir, err)
	}
	s.memOK = s.read == s.end()
	return nil
}

func (s *Spool) oldest() uint64 {
	first := s.wseg
	for n := range s.sizes {
		first = min(first, n)
	}
	return first
}

// end returns the committed end of the spool.
func (s *Spool) end() Pos { return Pos{Seg: s.wseg, Off: s.sizes[s.wseg]} }

// scan checks segment n record by record, truncates it at the first bad one,
// and returns its good size and the number of records at or after ack.
func (s *Spool) scan(n uint64, ack Pos) (int64, int64, error) {
	path := s.segPath(n)
	data, err := s.fs.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("spool: reading segment: %w", err)
	}
	var off int64
	var count int64
	for {
		body, ok := record(data[off:])
		if !ok {
			break
		}
		if !(Pos{n, off}).less(ack) {
			count++
		}
		off += headerLen + int64(len(body))
	}
	if off < int64(len(data)) {
		s.corrupt += int64(len(data)) - off
		if err := s.fs.Truncate(path, off); err != nil {
			return 0, 0, fmt.Errorf("spool: cutting a torn record off a segment: %w", err)
		}
	}
	return off, count, nil
}

// record returns the body of the record at the start of b, if whole and intact.
func record(b []byte) ([]byte, bool) {
	if len(b) < headerLen {
		return nil, false
	}
	n := binary.LittleEndian.Uint32(b)
	if n < 8 || uint64(n) > uint64(len(b)-headerLen) {
		return nil, false
	}
	body := b[headerLen : headerLen+int(n)]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, false
	}
	return body, true
}

func readAck(f file) (Pos, bool) {
	var b [20]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return Pos{}, false
	}
	if crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return Pos{}, false
	}
	return Pos{Seg: binary.LittleEndian.Uint64(b[:]), Off: int64(binary.LittleEndian.Uint64(b[8:]))}, true
}

// Notify returns a channel that receives after every Append that wrote events.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// Append writes batch, in order, and syncs it to disk. It returns how many of
// the first events it took: fewer than len(batch) when MaxBytes would be passed
// (the rest are not written), zero with an error when the disk failed.
// It keeps no reference to batch: the caller may reuse it.
func (s *Spool) Append(batch []event.Event) (int, error) {
	if len(batch) == 0 {
		return 0, nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, errors.New("spool: closed")
	}
	rotate := s.sizes[s.wseg] >= s.segBytes ||
		(s.sizes[s.wseg] >= min(1<<20, s.segBytes/2) && s.ack == s.end())
	s.mu.Unlock()

	if rotate {
		if err := s.rotate(); err != nil {
			return 0, err
		}
	}
	s.mu.Lock()
	room := s.maxBytes - s.total
	s.mu.Unlock()
	now := time.Now()
	buf := s.buf[:0]
	ends := make([]int64, 0, len(batch))
	taken := 0
	for i := range batch {
		start := len(buf)
		buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(now.UnixNano()))
		buf = batch[i].AppendJSON(buf)
		if int64(len(buf)) > room {
			buf = buf[:start]
			break
		}
		body := buf[start+headerLen:]
		binary.LittleEndian.PutUint32(buf[start:], uint32(len(body)))
		binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(body, castagnoli))
		ends = append(ends, int64(len(buf)))
		taken++
	}
	s.buf = buf
	if taken == 0 {
		return 0, nil
	}
	if _, err := s.wf.Write(buf); err != nil {
		// Cut back what was written so that no torn record stays mid-segment.
		s.mu.Lock()
		size := s.sizes[s.wseg]
		s.mu.Unlock()
		_ = s.wf.Truncate(size)
		return 0, fmt.Errorf("spool: writing: %w", err)
	}
	if err := s.wf.Sync(); err != nil {
		return 0, fmt.Errorf("spool: syncing: %w", err)
	}

	s.mu.Lock()
	base := s.sizes[s.wseg]
	if s.memOK && len(s.mem)+taken <= memCap {
		if len(s.mem) == 0 {
			s.mem = s.memArr[:0]
		} else if cap(s.mem)-len(s.mem) < taken && len(s.mem)+taken <= cap(s.memArr) {
			// Move what is left to the array's start rather than grow another,
			// and let go of the events after it.
			end := cap(s.memArr) - cap(s.mem) + len(s.mem)
			n := copy(s.memArr, s.mem)
			clear(s.memArr[n:end])
			s.mem = s.memArr[:n]
		}
		was := cap(s.mem)
		for i := 0; i < taken; i++ {
			s.mem = append(s.mem, item{ev: batch[i], at: now, end: Pos{s.wseg, base + ends[i]}})
		}
		if cap(s.mem) != was {
			s.memArr = s.mem[:cap(s.mem)] // a new array, mem at its start
		}
	} else {
		s.memOK = false
	}
	s.sizes[s.wseg] = base + int64(len(buf))
	s.total += int64(len(buf))
	s.pending += int64(taken)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return taken, nil
}

// rotate starts a new segment. The caller holds wmu.
func (s *Spool) rotate() error {
	s.mu.Lock()
	next := s.wseg + 1
	s.mu.Unlock()
	f, err := s.fs.OpenFile(s.segPath(next), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: starting a segment: %w", err)
	}
	// The segment's name must be durable before the events synced into it
	// are acknowledged: fsyncing a file does not sync its directory entry.
	if err := s.fs.SyncDir(s.dir); err != nil {
		f.Close()
		return fmt.Errorf("spool: syncing %s: %w", s.dir, err)
	}
	if err := s.wf.Close(); err != nil {
		f.Close()
		return fmt.Errorf("spool: closing a segment: %w", err)
	}
	s.wf = f
	s.mu.Lock()
	s.wseg = next
	s.sizes[next] = 0
	s.removeAcked()
	s.mu.Unlock()
	return nil
}

// Next returns up to limit events after the last ones returned, without waiting;
// an empty batch when there are none. After an error from Next the same events
// are tried again by the next call.
func (s *Spool) Next(limit int) (Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b Batch
	if s.memOK || len(s.mem) > 0 {
		n := min(limit, len(s.mem))
		if n > 0 {
			b.Events = make([]event.Event, n)
			b.Appended = make([]time.Time, n)
			for i, it := range s.mem[:n] {
				b.Events[i], b.Appended[i] = it.ev, it.at
			}
			b.End = s.mem[n-1].end
			s.read = b.End
			s.mem = s.mem[n:]
			if len(s.mem) == 0 {
				// Let the events go, and the next Append start the array again.
				clear(s.memArr[:cap(s.memArr)-cap(s.mem)])
				s.mem = nil
				s.memOK = s.read == s.end() && !s.failing
			}
			return b, nil
		}
		if s.memOK {
			return b, nil
		}
	}
	// From disk.
	for len(b.Events) < limit {
		end := s.end()
		if s.read == end {
			s.memOK = len(s.mem) == 0 && !s.failing
			break
		}
		size := s.sizes[s.read.Seg]
		if s.read.Off >= size {
			if s.read.Seg >= s.wseg {
				break
			}
			s.read = Pos{Seg: s.read.Seg + 1}
			continue
		}
		if s.rseg != s.read.Seg {
			if s.rf != nil {
				s.rf.Close()
				s.rf = nil
			}
			f, err := s.fs.OpenFile(s.segPath(s.read.Seg), os.O_RDONLY, 0)
			if err != nil {
				return Batch{}, fmt.Errorf("spool: opening segment: %w", err)
			}
			s.rf, s.rseg = f, s.read.Seg
		}
		chunk := min(size-s.read.Off, max(1<<20, int64(cap(s.rbuf))))
		if int64(cap(s.rbuf)) < chunk {
			s.rbuf = make([]byte, chunk)
		}
		buf := s.rbuf[:chunk]
		if _, err := s.rf.ReadAt(buf, s.read.Off); err != nil && !errors.Is(err, io.EOF) {
			return Batch{}, fmt.Errorf("spool: reading segment: %w", err)
		}
		off := 0
		progressed := false
		for len(b.Events) < limit {
			body, ok := record(buf[off:])
			if !ok {
				break
			}
			var ev event.Event
			if err := json.Unmarshal(body[8:], &ev); err != nil {
				return Batch{}, fmt.Errorf("spool: decoding an event: %w", err)
			}
			b.Events = append(b.Events, ev)
			b.Appended = append(b.Appended, time.Unix(0, int64(binary.LittleEndian.Uint64(body))))
			off += headerLen + len(body)
			progressed = true
		}
		if !progressed {
			n := int64(binary.LittleEndian.Uint32(buf))
			if chunk == size-s.read.Off || headerLen+n > size-s.read.Off {
				// Damaged within the committed part (it was checked at Open or
				// written whole since): skip the rest of the segment.
				s.corrupt += chunk
				s.read.Off = size
				continue
			}
			// A record larger than the chunk: read it whole.
			s.rbuf = make([]byte, headerLen+n)
			continue
		}
		s.read.Off += int64(off)
		b.End = s.read
	}
	return b, nil
}

// Rewind makes Next return again the events after the last acknowledged ones.
func (s *Spool) Rewind() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = s.ack
	s.dropMem()
}

// Failing tells the spool whether its reader's deliveries are failing. While
// they are, it keeps no events in memory: a sink that is down would have it
// hold up to memCap events live on the heap for nothing, which every GC cycle
// of the process marks (measured: ~4 % of the gateway's login throughput with
// one connector down, bench/connectors.sh). Next reads them from disk once
// deliveries succeed again.
func (s *Spool) Failing(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on == s.failing {
		return
	}
	s.failing = on
	if on {
		s.dropMem()
	}
}

// dropMem lets go of the events kept in memory: Next reads them from disk.
func (s *Spool) dropMem() {
	clear(s.memArr)
	s.mem, s.memOK = nil, false
}

// Ack records that the n events up to end were delivered or dead-lettered, and
// removes the segments wholly acknowledged.
func (s *Spool) Ack(end Pos, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ack.less(end) {
		return nil
	}
	s.ack = end
	s.pending -= int64(n)
	s.removeAcked()
	var b [20]byte
	binary.LittleEndian.PutUint64(b[:], s.ack.Seg)
	binary.LittleEndian.PutUint64(b[8:], uint64(s.ack.Off))
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	if _, err := s.ackFile.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("spool: writing the ack file: %w", err)
	}
	return nil
}

// removeAcked deletes the segments before the acknowledged position (and the
// acknowledged one when it is wholly read and not appended to). Holds mu.
func (s *Spool) removeAcked() {
	for s.ack.Seg < s.wseg && s.ack.Off >= s.sizes[s.ack.Seg] {
		s.ack = Pos{Seg: s.ack.Seg + 1}
	}
	for n, size := range s.sizes {
		if n < s.ack.Seg {
			if s.rseg == n && s.rf != nil {
				s.rf.Close()
				s.rf, s.rseg = nil, 0
			}
			if err := s.fs.Remove(s.segPath(n)); err == nil || errors.Is(err, os.ErrNotExist) {
				delete(s.sizes, n)
				s.total -= size
			}
		}
	}
}

// deadLetter is one line of the dead-letter file.
type deadLetter struct {
	At     time.Time       `json:"at"`
	Reason string          `json:"reason"`
	Event  json.RawMessage `json:"event"`
}

// countLines returns the lines and bytes of the file at path; a missing file
// has none. A last line without its newline (a write cut short by a crash,
// which DeadLetter never reported done) is cut off, counted in Stats.Corrupt,
// so that the next line written does not run on from it.
func (s *Spool) countLines(path string) (lines uint64, size int64, err error) {
	f, err := s.fs.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var whole int64 // bytes up to the last newline
	for {
		n, err := f.Read(buf)
		for i, c := range buf[:n] {
			if c == '\n' {
				lines++
				whole = size + int64(i) + 1
			}
		}
		size += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, err
		}
	}
	if whole < size {
		if err := s.fs.Truncate(path, whole); err != nil {
			return 0, 0, fmt.Errorf("cutting a torn line off: %w", err)
		}
		s.corrupt += size - whole
	}
	return lines, whole, nil
}

func (s *Spool) oldDeadPath() string { return filepath.Join(s.dir, "dead-letter.1.jsonl") }

func (s *Spool) openDead() (err error) {
	s.deadFile, err = s.fs.OpenFile(s.DeadLetterPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: opening the dead-letter file: %w", err)
	}
	return nil
}

// rotateDead makes the dead-letter file the old one and begins a new one.
func (s *Spool) rotateDead() error {
	if err := s.deadFile.Close(); err != nil {
		return fmt.Errorf("spool: closing the dead-letter file: %w", err)
	}
	if err := s.fs.Rename(s.DeadLetterPath(), s.oldDeadPath()); err != nil {
		s.openDead()
		return fmt.Errorf("spool: rotating the dead-letter file: %w", err)
	}
	s.gone += s.oldN
	s.oldN, s.deadN, s.deadSize = s.deadN, 0, 0
	if err := s.openDead(); err != nil {
		return err
	}
	// The rename and the new file's name must be durable before the dead
	// letters synced into it are reported done.
	if err := s.fs.SyncDir(s.dir); err != nil {
		return fmt.Errorf("spool: syncing %s: %w", s.dir, err)
	}
	return nil
}

// DeadLetter appends evs to the dead-letter file with why they were given up,
// and syncs it. A write that would take the file past DeadLetterBytes rotates
// it first.
func (s *Spool) DeadLetter(evs []event.Event, reason string) error {
	if len(evs) == 0 {
		return nil
	}
	now := time.Now().UTC()
	var buf []byte
	for i := range evs {
		line, err := json.Marshal(deadLetter{At: now, Reason: reason, Event: evs[i].AppendJSON(nil)})
		if err != nil {
			return fmt.Errorf("spool: encoding a dead letter: %w", err)
		}
		buf = append(append(buf, line...), '\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deadSize > 0 && s.deadSize+int64(len(buf)) > s.deadMax {
		if err := s.rotateDead(); err != nil {
			return err
		}
	}
	n, err := s.deadFile.Write(buf)
	s.deadSize += int64(n)
	if err != nil {
		return fmt.Errorf("spool: writing the dead-letter file: %w", err)
	}
	if err := s.deadFile.Sync(); err != nil {
		return fmt.Errorf("spool: syncing the dead-letter file: %w", err)
	}
	s.dead += uint64(len(evs))
	s.deadN += uint64(len(evs))
	return nil
}

// DeadLetterPath returns the path of the dead-letter file.
func (s *Spool) DeadLetterPath() string { return filepath.Join(s.dir, "dead-letter.jsonl") }

// Stats returns the spool's counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Pending: s.pending, Bytes: s.total, Corrupt: s.corrupt, DeadLettered: s.dead, DeadLetterDiscarded: s.gone, InMemory: len(s.mem)}
}

// Close releases this Open of the spool; the last one closes its files. What
// is not acknowledged stays for the next Open.
func (s *Spool) Close() error {
	openMu.Lock()
	defer openMu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if s.refs--; s.refs > 0 {
		return nil
	}
	if open[s.key] == s {
		delete(open, s.key)
	}
	s.closed = true
	defer s.release()
	return s.closeFiles()
}

// closeFiles closes every file of the spool.
func (s *Spool) closeFiles() error {
	var errs []error
	for _, f := range []file{s.wf, s.rf, s.ackFile, s.deadFile} {
		if f != nil {
			if err := f.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: closing: %w", err)
	}
	return nil
}
