// Command pwned measures the breached-passwords file (package pwned) on a
// synthetic set of random SHA-1 sums: build time and peak memory, bytes per
// hash, the false-positive rate on hashes not in the set, and lookups per
// second and median lookup time against a baseline measured in the same run,
// a binary search of the same set's keys in a sorted []uint64 held in memory.
//
//	go run ./bench/pwned -n 10000000 -mode fuse
//
// The set is generated as text (SHA1HEX:COUNT, CRLF) into Build through a
// pipe, as the downloader's file would be read: nothing large is written but
// the file itself and Build's partition files.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/loginguard/loginguard/pwned"
)

func main() {
	n := flag.Int("n", 10_000_000, "hashes in the set")
	mode := flag.String("mode", "fuse", "fuse or table")
	dir := flag.String("dir", "", "directory of the file and the partition files (default: a new temporary one)")
	probes := flag.Int("probes", 1_000_000, "hashes not in the set, for the false-positive rate; also the lookups timed")
	baseline := flag.Bool("baseline", true, "measure the sorted-slice baseline")
	flag.Parse()
	m, err := pwned.ParseMode(*mode)
	if err != nil {
		fatal(err)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "pwned-bench-")
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	out := filepath.Join(*dir, "pwned.bin")

	// Build, reading the set as text through a pipe.
	members := make([][20]byte, 0, *probes)
	every := max(*n / *probes, 1)
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(generate(pw, *n, 1, func(i int, s [20]byte) {
			if i%every == 0 && len(members) < cap(members) {
				members = append(members, s)
			}
		}))
	}()
	start := time.Now()
	st, err := pwned.Build(context.Background(), pr, out, pwned.BuildOptions{Mode: m, Progress: os.Stderr, ProgressEvery: 10 * time.Second})
	if err != nil {
		fatal(err)
	}
	buildTime := time.Since(start)
	buildRSS := vmHWM()
	fmt.Printf("set: %d random hashes, mode %s, GOMAXPROCS %d\n", *n, m, runtime.GOMAXPROCS(0))
	fmt.Printf("build: %.1f s (%.2f M lines/s), peak RSS %d MB (VmHWM, generator included)\n",
		buildTime.Seconds(), float64(*n)/buildTime.Seconds()/1e6, buildRSS>>20)
	fmt.Printf("file: %d bytes, %.3f bytes per hash\n", st.Size, st.BytesPerHash())

	f, err := pwned.Open(out, pwned.Options{})
	if err != nil {
		fatal(err)
	}
	defer f.Close()
	for _, s := range members {
		if !f.Contains(s) {
			fatal(fmt.Errorf("member %x not found", s))
		}
	}
	others := make([][20]byte, 0, *probes)
	generate(io.Discard, *probes, 2, func(_ int, s [20]byte) { others = append(others, s) })
	fp := 0
	for _, s := range others {
		if f.Contains(s) {
			fp++
		}
	}
	fmt.Printf("false positives: %d of %d hashes not in the set: %.4f %%\n", fp, len(others), 100*float64(fp)/float64(len(others)))

	// Lookups: half members, half not, in random order.
	probe := append(append([][20]byte{}, members...), others...)
	rand.Shuffle(len(probe), func(i, j int) { probe[i], probe[j] = probe[j], probe[i] })
	fr, fmed, fpar := measure(probe, f.Contains)
	fmt.Printf("file lookups: %.2f M/s one goroutine, %.2f M/s on %d goroutines, median %.0f ns\n", fr/1e6, fpar/1e6, runtime.GOMAXPROCS(0), fmed)
	if !*baseline {
		return
	}
	keys := make([]uint64, 0, *n)
	generate(io.Discard, *n, 1, func(_ int, s [20]byte) { keys = append(keys, binary.BigEndian.Uint64(s[:8])) })
	slices.Sort(keys)
	search := func(s [20]byte) bool {
		_, ok := slices.BinarySearch(keys, binary.BigEndian.Uint64(s[:8]))
		return ok
	}
	br, bmed, bpar := measure(probe, search)
	fmt.Printf("baseline (binary search of a sorted []uint64 in memory, %d MB): %.2f M/s one goroutine, %.2f M/s on %d, median %.0f ns\n",
		len(keys)*8>>20, br/1e6, bpar/1e6, runtime.GOMAXPROCS(0), bmed)
	fmt.Printf("ratio file/baseline: lookups/s %.2f (one goroutine), %.2f (all); median time %.2f; size %.3f\n",
		fr/br, fpar/bpar, fmed/bmed, st.BytesPerHash()/8)
}

// measure returns lookups per second on one goroutine, the median time of a
// lookup (in batches of 64, to keep the clock's cost out), and lookups per
// second on GOMAXPROCS goroutines.
func measure(probe [][20]byte, look func([20]byte) bool) (rate, median, parallel float64) {
	const batch = 64
	var times []float64
	sink := 0
	start := time.Now()
	for rep := 0; rep < 3; rep++ {
		for i := 0; i+batch <= len(probe); i += batch {
			t := time.Now()
			for _, s := range probe[i : i+batch] {
				if look(s) {
					sink++
				}
			}
			times = append(times, float64(time.Since(t).Nanoseconds())/batch)
		}
	}
	rate = float64(len(times)*batch) / time.Since(start).Seconds()
	slices.Sort(times)
	median = times[len(times)/2]
	g := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	start = time.Now()
	for w := 0; w < g; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 3; rep++ {
				for i := range probe {
					look(probe[(i+w*7919)%len(probe)])
				}
			}
		}()
	}
	wg.Wait()
	parallel = float64(3*g*len(probe)) / time.Since(start).Seconds()
	if sink < 0 {
		fmt.Println(sink)
	}
	return rate, median, parallel
}

// generate writes n random sums from seed as text lines, calling fn with each.
func generate(w io.Writer, n int, seed uint64, fn func(int, [20]byte)) error {
	r := rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15))
	bw := bufio.NewWriterSize(w, 1<<20)
	var line [64]byte
	var s [20]byte
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint64(s[0:], r.Uint64())
		binary.LittleEndian.PutUint64(s[8:], r.Uint64())
		binary.LittleEndian.PutUint32(s[16:], r.Uint32())
		fn(i, s)
		if w == io.Discard {
			continue
		}
		hex.Encode(line[:40], s[:])
		k := copy(line[40:], ":1\r\n")
		if _, err := bw.Write(upper(line[:40+k])); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func upper(b []byte) []byte {
	for i, c := range b {
		if 'a' <= c && c <= 'f' {
			b[i] = c - 32
		}
	}
	return b
}

// vmHWM is the process's peak resident set size.
func vmHWM() int64 {
	d, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(d), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "pwned bench:", err)
	os.Exit(1)
}
