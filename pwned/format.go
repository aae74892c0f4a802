package pwned

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// The file's layout (version 1), all integers little-endian:
//
//	offset  size  field
//	0       8     magic "LGPWNED\n"
//	8       2     format version (1)
//	10      1     mode: 1 fuse (binary fuse filter, 8-bit fingerprints),
//	              2 table (sorted 32-bit remainders, bucketed)
//	11      1     shard bits: the shards are the values of the hash's top bits
//	12      4     reserved, zero
//	16      8     count: distinct hashes stored
//	24      8     min count the file was built with
//	32      8     file size in bytes
//	40      4     CRC-32C of every byte after the header
//	44      16    reserved, zero
//	60      4     CRC-32C of bytes 0 to 59
//	64            each shard's data, in shard order
//	size - 32×S   the shard table: one 32-byte entry per shard (S = 2^shard bits)
//
// The table comes last so that the builder writes the file, and its checksum,
// in one pass.
//
// A shard table entry (fuse): data offset u64, seed u64, keys u32, segment
// length u32, segment count × segment length u32, array length u32. Its data
// is the array of fingerprints (array length bytes).
//
// A shard table entry (table): data offset u64, zero u64, keys u32, bucket
// bits u32, zero u32, zero u32. Its data is 2^bucket bits + 1 little-endian
// u32 bucket starts, then keys little-endian u32 remainders, sorted within
// each bucket.
//
// The key of a hash is its first 8 bytes read big-endian: the shard is the
// key's top shard-bits bits. SHA-1 spreads evenly, so the shards are of a size.

const (
	magic         = "LGPWNED\n"
	formatVersion = 1
	headerSize    = 64
	entrySize     = 32
	maxShardBits  = 8
)

// Mode is the structure of a file.
type Mode uint8

const (
	// ModeFuse is a binary fuse filter: about 1.13 bytes per hash (more for
	// sets under a few million) and a false-positive rate of 1/256 (0.39 %).
	ModeFuse Mode = 1
	// ModeTable is a sorted table of 32-bit remainders of the hashes, bucketed
	// by prefix: about 4.25 bytes per hash and a false-positive rate under
	// 1 in 100 million.
	ModeTable Mode = 2
)

func (m Mode) String() string {
	switch m {
	case ModeFuse:
		return "fuse"
	case ModeTable:
		return "table"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode reads "fuse" or "table".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "fuse", "":
		return ModeFuse, nil
	case "table":
		return ModeTable, nil
	}
	return 0, fmt.Errorf("mode %q: want fuse or table", s)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the decoded fixed header.
type header struct {
	version   uint16
	mode      Mode
	shardBits uint8
	count     uint64
	minCount  uint64
	size      uint64
	dataCRC   uint32
}

func (h *header) marshal() []byte {
	b := make([]byte, headerSize)
	copy(b, magic)
	binary.LittleEndian.PutUint16(b[8:], h.version)
	b[10] = byte(h.mode)
	b[11] = h.shardBits
	binary.LittleEndian.PutUint64(b[16:], h.count)
	binary.LittleEndian.PutUint64(b[24:], h.minCount)
	binary.LittleEndian.PutUint64(b[32:], h.size)
	binary.LittleEndian.PutUint32(b[40:], h.dataCRC)
	binary.LittleEndian.PutUint32(b[60:], crc32.Checksum(b[:60], castagnoli))
	return b
}

// shardEntry is one entry of the shard table.
type shardEntry struct {
	offset uint64
	seed   uint64
	keys   uint32
	a, b   uint32 // fuse: segment length, segment count × length; table: bucket bits, 0
	c      uint32 // fuse: array length
}

func (e *shardEntry) put(b []byte) {
	binary.LittleEndian.PutUint64(b[0:], e.offset)
	binary.LittleEndian.PutUint64(b[8:], e.seed)
	binary.LittleEndian.PutUint32(b[16:], e.keys)
	binary.LittleEndian.PutUint32(b[20:], e.a)
	binary.LittleEndian.PutUint32(b[24:], e.b)
	binary.LittleEndian.PutUint32(b[28:], e.c)
}

func getEntry(b []byte) shardEntry {
	return shardEntry{
		offset: binary.LittleEndian.Uint64(b[0:]),
		seed:   binary.LittleEndian.Uint64(b[8:]),
		keys:   binary.LittleEndian.Uint32(b[16:]),
		a:      binary.LittleEndian.Uint32(b[20:]),
		b:      binary.LittleEndian.Uint32(b[24:]),
		c:      binary.LittleEndian.Uint32(b[28:]),
	}
}

// key is the part of a SHA-1 the files index.
func key(sum *[20]byte) uint64 { return binary.BigEndian.Uint64(sum[:8]) }

// FormatError is a file that cannot be used: not a pwned file, of another
// format version, truncated or damaged.
type FormatError struct {
	Path   string
	Reason string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("pwned passwords file %s: %s; rebuild it with `caddy loginguard pwned build`", e.Path, e.Reason)
}

// parseHeader checks the header and the file's length.
func parseHeader(path string, d []byte) (header, error) {
	bad := func(format string, args ...any) (header, error) {
		return header{}, &FormatError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	if len(d) < headerSize {
		if len(d) >= len(magic) && string(d[:len(magic)]) != magic {
			return bad("not a pwned passwords file (no LGPWNED header)")
		}
		return bad("truncated: %d bytes, shorter than the header", len(d))
	}
	if string(d[:len(magic)]) != magic {
		return bad("not a pwned passwords file (no LGPWNED header)")
	}
	h := header{
		version:   binary.LittleEndian.Uint16(d[8:]),
		mode:      Mode(d[10]),
		shardBits: d[11],
		count:     binary.LittleEndian.Uint64(d[16:]),
		minCount:  binary.LittleEndian.Uint64(d[24:]),
		size:      binary.LittleEndian.Uint64(d[32:]),
		dataCRC:   binary.LittleEndian.Uint32(d[40:]),
	}
	if h.version != formatVersion {
		return bad("format version %d, this build reads version %d", h.version, formatVersion)
	}
	if crc32.Checksum(d[:60], castagnoli) != binary.LittleEndian.Uint32(d[60:]) {
		return bad("the header is damaged (checksum mismatch)")
	}
	if h.mode != ModeFuse && h.mode != ModeTable {
		return bad("unknown mode %d", h.mode)
	}
	if h.shardBits > maxShardBits {
		return bad("%d shard bits, at most %d", h.shardBits, maxShardBits)
	}
	if uint64(len(d)) != h.size {
		if uint64(len(d)) < h.size {
			return bad("truncated: %d bytes of %d", len(d), h.size)
		}
		return bad("%d bytes, the header says %d", len(d), h.size)
	}
	return h, nil
}
