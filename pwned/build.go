package pwned

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// BuildOptions are the settings of Build.
type BuildOptions struct {
	// Mode is the file's structure.
	// Default: ModeFuse.
	Mode Mode
	// MinCount keeps only the hashes seen at least this many times in
	// breaches (the number after the colon). 0 and 1 keep every hash.
	// Default: 0.
	MinCount uint64
	// TempDir holds the partition files during the build: 8 bytes per hash
	// kept (about 8 GB for the full set).
	// Default: the output file's directory.
	TempDir string
	// Progress receives a line of progress now and then (lines read, the
	// phase); nil is silent.
	// Default: nil.
	Progress io.Writer
	// ProgressEvery is the interval between progress lines.
	// Default: 5s.
	ProgressEvery time.Duration
	// Workers is the number of shards built at once.
	// Default: GOMAXPROCS.
	Workers int

	// shardBits, when not 0, replaces the computed shard bits (tests).
	shardBits uint8
}

// BuildStats says what Build read and wrote.
type BuildStats struct {
	Lines     uint64 // lines read, blank ones included
	Kept      uint64 // hashes at or over MinCount
	Distinct  uint64 // distinct hashes written
	Size      int64  // bytes of the file
	Mode      Mode
	ShardBits uint8
	Elapsed   time.Duration
}

// BytesPerHash is the file's size over the hashes it holds.
func (s BuildStats) BytesPerHash() float64 {
	if s.Distinct == 0 {
		return 0
	}
	return float64(s.Size) / float64(s.Distinct)
}

// LineError is a line of the input that is not a hash.
type LineError struct {
	Line   uint64
	Text   string // the line, cut to 100 bytes
	Reason string
}

func (e *LineError) Error() string {
	return fmt.Sprintf("line %d: %s: %q", e.Line, e.Reason, e.Text)
}

// ErrEmpty is an input with no hash in it.
var ErrEmpty = errors.New("the input holds no hash (want lines of 40 hex digits, a colon and a count)")

// partitions is the number of temporary files the hashes are spread over, by
// their top 8 bits; a shard is one or more consecutive partitions.
const partitions = 1 << maxShardBits

// Build reads the Pwned Passwords set in its text form from in (lines
// "SHA1HEX:COUNT", LF or CRLF, either case of hex, in any order; blank lines
// are skipped; a line of a hash alone counts 1) and writes the file out.
//
// Memory stays bounded whatever the input's size: the hashes go to partition
// files by their top bits, then each shard is loaded, sorted and built on its
// own. The file is written under a temporary name beside out and renamed over
// it once complete and synced, so a failed build leaves any previous out as
// it was.
func Build(ctx context.Context, in io.Reader, out string, opts BuildOptions) (BuildStats, error) {
	start := time.Now()
	if opts.Mode == 0 {
		opts.Mode = ModeFuse
	}
	if opts.Mode != ModeFuse && opts.Mode != ModeTable {
		return BuildStats{}, fmt.Errorf("mode %d: want fuse or table", opts.Mode)
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 5 * time.Second
	}
	if opts.TempDir == "" {
		opts.TempDir = filepath.Dir(out)
	}
	b := &builder{opts: opts, stats: BuildStats{Mode: opts.Mode}}
	stopProgress := b.startProgress()
	defer stopProgress()

	dir, err := os.MkdirTemp(opts.TempDir, ".pwned-build-")
	if err != nil {
		return b.stats, fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	b.phase.Store("reading")
	counts, err := b.partition(ctx, in, dir)
	if err != nil {
		return b.stats, err
	}
	if b.stats.Kept == 0 {
		if b.stats.Lines > 0 && opts.MinCount > 1 {
			return b.stats, fmt.Errorf("no hash is seen at least %d times (min count): the file would be empty", opts.MinCount)
		}
		return b.stats, ErrEmpty
	}
	b.stats.ShardBits = shardBitsFor(b.stats.Kept)
	if opts.shardBits != 0 {
		b.stats.ShardBits = min(opts.shardBits, maxShardBits)
	}
	if err := b.write(ctx, dir, counts, out); err != nil {
		return b.stats, err
	}
	b.stats.Elapsed = time.Since(start)
	b.progressf("done: %d distinct hashes, %d bytes (%.3f bytes per hash), %s",
		b.stats.Distinct, b.stats.Size, b.stats.BytesPerHash(), b.stats.Elapsed.Round(time.Millisecond))
	return b.stats, nil
}

// shardBitsFor gives shards of about a million hashes or more (the fuse
// filter's size factor falls with the number of keys), at most 256 of them.
func shardBitsFor(n uint64) uint8 {
	b := bits.Len64(n >> 20) // n / 2^20 < 2^b
	if b > 0 {
		b--
	}
	return uint8(min(b, maxShardBits))
}

type builder struct {
	opts  BuildOptions
	stats BuildStats
	// progress
	lines, bytes atomic.Uint64
	shardsDone   atomic.Uint64
	phase        atomic.Value // string
	outMu        sync.Mutex
}

func (b *builder) progressf(format string, args ...any) {
	if b.opts.Progress == nil {
		return
	}
	b.outMu.Lock()
	defer b.outMu.Unlock()
	fmt.Fprintf(b.opts.Progress, "pwned build: "+format+"\n", args...)
}

func (b *builder) startProgress() func() {
	if b.opts.Progress == nil {
		return func() {}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(b.opts.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				phase, _ := b.phase.Load().(string)
				switch phase {
				case "reading":
					b.progressf("reading: %d lines, %d MB", b.lines.Load(), b.bytes.Load()>>20)
				case "building":
					b.progressf("building: %d of %d shards", b.shardsDone.Load(), 1<<b.stats.ShardBits)
				}
			}
		}
	}()
	return func() { close(stop); <-done }
}

// hexVal maps an ASCII byte to its hex value, or 0xff.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
		t[c-'a'+'A'] = byte(c-'a') + 10
	}
	return t
}()

// parseLine reads one line (without its line feed): the hash's key, its count
// and whether it is blank.
func parseLine(line []byte) (k, count uint64, blank bool, reason string) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) == 0 {
		return 0, 0, true, ""
	}
	var sum [20]byte
	if len(line) < 40 {
		if len(line) == 32 || (len(line) > 32 && line[32] == ':') {
			return 0, 0, false, "32 hex digits: this looks like the NTLM set, want the SHA-1 set (40 hex digits)"
		}
		return 0, 0, false, "want 40 hex digits, a colon and a count"
	}
	for i := 0; i < 20; i++ {
		hi, lo := hexVal[line[2*i]], hexVal[line[2*i+1]]
		if hi|lo == 0xff || hi > 15 || lo > 15 {
			return 0, 0, false, "want 40 hex digits, a colon and a count"
		}
		sum[i] = hi<<4 | lo
	}
	rest := line[40:]
	switch {
	case len(rest) == 0:
		return key(&sum), 1, false, ""
	case rest[0] != ':':
		return 0, 0, false, "want 40 hex digits, a colon and a count"
	}
	c, err := strconv.ParseUint(string(trimSpace(rest[1:])), 10, 64)
	if err != nil {
		return 0, 0, false, "the count after the colon is not a whole number"
	}
	return key(&sum), c, false, ""
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// partition reads the input into one file per top byte of the key and
// returns how many keys each holds.
func (b *builder) partition(ctx context.Context, in io.Reader, dir string) ([]uint64, error) {
	files := make([]*os.File, partitions)
	ws := make([]*bufio.Writer, partitions)
	counts := make([]uint64, partitions)
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	for i := range files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("p%03d", i)))
		if err != nil {
			return nil, fmt.Errorf("partition file: %w", err)
		}
		files[i] = f
		ws[i] = bufio.NewWriterSize(f, 32<<10)
	}
	br := bufio.NewReaderSize(in, 1<<20)
	var buf [8]byte
	var lineNo uint64
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, &LineError{Line: lineNo + 1, Text: cut(line), Reason: "a line over 1 MB"}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading the input after line %d: %w", lineNo, err)
		}
		if len(line) > 0 {
			lineNo++
			b.bytes.Add(uint64(len(line)))
			if lineNo&0xffff == 0 {
				b.lines.Store(lineNo)
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
			}
			text := line
			if text[len(text)-1] == '\n' {
				text = text[:len(text)-1]
			}
			k, c, blank, reason := parseLine(text)
			switch {
			case reason != "":
				return nil, &LineError{Line: lineNo, Text: cut(text), Reason: reason}
			case blank, c < b.opts.MinCount:
			default:
				p := k >> (64 - maxShardBits)
				binary.LittleEndian.PutUint64(buf[:], k)
				if _, err := ws[p].Write(buf[:]); err != nil {
					return nil, fmt.Errorf("partition file: %w", err)
				}
				counts[p]++
				b.stats.Kept++
			}
		}
		if err != nil { // io.EOF
			break
		}
	}
	b.lines.Store(lineNo)
	b.stats.Lines = lineNo
	for i, w := range ws {
		if err := w.Flush(); err != nil {
			return nil, fmt.Errorf("partition file: %w", err)
		}
		if err := files[i].Close(); err != nil {
			return nil, fmt.Errorf("partition file: %w", err)
		}
		files[i] = nil
	}
	b.progressf("read %d lines, kept %d hashes", lineNo, b.stats.Kept)
	return counts, nil
}

func cut(b []byte) string {
	if len(b) > 100 {
		return string(b[:100]) + "…"
	}
	return string(b)
}

// shardData is one built shard.
type shardData struct {
	entry shardEntry
	data  [][]byte // written in order
	err   error
}

// write builds the shards and writes the file.
func (b *builder) write(ctx context.Context, dir string, counts []uint64, out string) (err error) {
	sb := b.stats.ShardBits
	nShards := 1 << sb
	per := partitions / nShards
	b.phase.Store("building")
	b.progressf("building %d shards (%s) with %d workers", nShards, b.opts.Mode, b.opts.Workers)

	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	crc := crc32.New(castagnoli)
	w := io.MultiWriter(bw, crc)
	if _, err := bw.Write(make([]byte, headerSize)); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	offset := uint64(headerSize)
	entries := make([]shardEntry, nShards)

	// Shards are built by the workers and written in order.
	results := make([]chan shardData, nShards)
	for i := range results {
		results[i] = make(chan shardData, 1)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	gate := make(chan struct{}, b.opts.Workers) // bounds the shards built but not yet written
	ctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); wg.Wait() }()
	for range b.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fb fuseBuilder
			var keys []uint64
			for i := range next {
				var sd shardData
				keys, sd = b.buildShard(ctx, &fb, dir, i, per, counts, keys)
				results[i] <- sd
			}
		}()
	}
	go func() {
		defer close(next)
		for i := 0; i < nShards; i++ {
			select {
			case gate <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for i := 0; i < nShards; i++ {
		var sd shardData
		select {
		case sd = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-gate
		if sd.err != nil {
			return sd.err
		}
		sd.entry.offset = offset
		entries[i] = sd.entry
		for _, d := range sd.data {
			if _, err := w.Write(d); err != nil {
				return fmt.Errorf("output: %w", err)
			}
			offset += uint64(len(d))
		}
		b.stats.Distinct += uint64(sd.entry.keys)
		b.shardsDone.Add(1)
	}
	table := make([]byte, entrySize*nShards)
	for i := range entries {
		entries[i].put(table[i*entrySize:])
	}
	if _, err := w.Write(table); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	size := offset + uint64(len(table))
	h := header{version: formatVersion, mode: b.opts.Mode, shardBits: sb, count: b.stats.Distinct,
		minCount: b.opts.MinCount, size: size, dataCRC: crc.Sum32()}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if _, err := f.WriteAt(h.marshal(), 0); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		d.Sync()
		d.Close()
	}
	b.stats.Size = int64(size)
	return nil
}

// buildShard loads the partitions of shard i, sorts and deduplicates them and
// builds the shard's data. keys is a buffer to reuse.
func (b *builder) buildShard(ctx context.Context, fb *fuseBuilder, dir string, i, per int, counts []uint64, keys []uint64) ([]uint64, shardData) {
	if ctx.Err() != nil {
		return keys, shardData{err: ctx.Err()}
	}
	n := uint64(0)
	for p := i * per; p < (i+1)*per; p++ {
		n += counts[p]
	}
	if uint64(cap(keys)) < n {
		keys = make([]uint64, 0, n)
	}
	keys = keys[:0]
	for p := i * per; p < (i+1)*per; p++ {
		var err error
		keys, err = readPartition(filepath.Join(dir, fmt.Sprintf("p%03d", p)), keys)
		if err != nil {
			return keys, shardData{err: err}
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if len(keys) > 1<<32-1 {
		return keys, shardData{err: fmt.Errorf("shard %d holds %d hashes, over 2^32", i, len(keys))}
	}
	e := shardEntry{keys: uint32(len(keys))}
	switch b.opts.Mode {
	case ModeFuse:
		p, seed, arr, err := fb.build(keys, uint64(i)+1)
		if err != nil {
			return keys, shardData{err: fmt.Errorf("shard %d: %w", i, err)}
		}
		e.seed, e.a, e.b, e.c = seed, p.segLen, p.segCountLength, p.arrayLen
		return keys, shardData{entry: e, data: [][]byte{arr}}
	default:
		bb := tableBucketBits(len(keys), b.stats.ShardBits)
		e.a = uint32(bb)
		starts, rems := buildTable(keys, b.stats.ShardBits, bb)
		return keys, shardData{entry: e, data: [][]byte{starts, rems}}
	}
}

func readPartition(path string, keys []uint64) ([]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return keys, fmt.Errorf("partition file: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var buf [8]byte
	for {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return keys, nil
			}
			return keys, fmt.Errorf("partition file %s: %w", path, err)
		}
		keys = append(keys, binary.LittleEndian.Uint64(buf[:]))
	}
}

// tableBucketBits gives buckets of 16 to 32 hashes.
func tableBucketBits(n int, shardBits uint8) uint {
	bb := 0
	if n >= 32 {
		bb = bits.Len(uint(n)) - 1 - 4
	}
	return uint(min(bb, 32-int(shardBits), 28))
}

// tableSplit gives a key's bucket and 32-bit remainder in a table shard.
func tableSplit(k uint64, shardBits uint8, bb uint) (uint64, uint32) {
	rest := k << shardBits
	var bucket uint64
	if bb > 0 {
		bucket = rest >> (64 - bb)
	}
	return bucket, uint32(rest << bb >> 32)
}

// buildTable lays out sorted keys as bucket starts and remainders.
func buildTable(keys []uint64, shardBits uint8, bb uint) (starts, rems []byte) {
	nb := 1 << bb
	starts = make([]byte, 4*(nb+1))
	rems = make([]byte, 4*len(keys))
	bucket := 0
	for j, k := range keys {
		bk, r := tableSplit(k, shardBits, bb)
		for bucket <= int(bk) {
			binary.LittleEndian.PutUint32(starts[4*bucket:], uint32(j))
			bucket++
		}
		binary.LittleEndian.PutUint32(rems[4*j:], r)
	}
	for ; bucket <= nb; bucket++ {
		binary.LittleEndian.PutUint32(starts[4*bucket:], uint32(len(keys)))
	}
	return starts, rems
}
