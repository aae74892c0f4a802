package spool

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkAppend appends batches as a connector's writer does (one write and
// one fsync per batch, a new segment every 16 MiB) and reports the time per
// Append ("append-ns/op"; ns/op also counts the floor) and "x-floor": that
// time divided by the time of writing and fsyncing the same bytes to a plain
// file after each Append, in the same run. The floor is the disk's cost;
// what is above it is the spool's.
//
//	go test -run '^$' -bench Append -benchmem ./connectors/spool/
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 500} {
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) { benchAppend(b, n) })
	}
}

func benchAppend(b *testing.B, n int) {
	dir := b.TempDir()
	s, err := Open(Options{Dir: filepath.Join(dir, "spool")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	evs := events("bench", n)
	// The floor: the same records written and fsynced to a plain file, no
	// spool, each right after an Append (so that both meet the same disk).
	var buf []byte
	for i := range evs {
		start := len(buf)
		buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(time.Now().UnixNano()))
		buf = evs[i].AppendJSON(buf)
		body := buf[start+headerLen:]
		binary.LittleEndian.PutUint32(buf[start:], uint32(len(body)))
		binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(body, castagnoli))
	}
	f, err := os.OpenFile(filepath.Join(dir, "floor"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var spool, floor time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if took, err := s.Append(evs); err != nil || took != n {
			b.Fatalf("Append = %d, %v", took, err)
		}
		mid := time.Now()
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		spool += mid.Sub(start)
		floor += time.Since(mid)
	}
	b.StopTimer()
	b.ReportMetric(float64(spool.Nanoseconds())/float64(b.N), "append-ns/op")
	b.ReportMetric(float64(spool)/float64(floor), "x-floor")
}
