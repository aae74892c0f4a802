package pwned

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// randomSums returns n random SHA-1 sums from the seed.
func randomSums(n int, seed uint64) [][20]byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	out := make([][20]byte, n)
	for i := range out {
		for j := 0; j < 20; j += 4 {
			v := r.Uint32()
			out[i][j], out[i][j+1], out[i][j+2], out[i][j+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		}
	}
	return out
}

// dataset writes sums in the set's text form; count gives each line's count.
// Odd lines are lower case with LF, even ones upper case with CRLF.
func dataset(sums [][20]byte, count func(i int) int) []byte {
	var b bytes.Buffer
	for i, s := range sums {
		h := hex.EncodeToString(s[:])
		eol := "\n"
		if i%2 == 0 {
			h, eol = strings.ToUpper(h), "\r\n"
		}
		fmt.Fprintf(&b, "%s:%d%s", h, count(i), eol)
	}
	return b.Bytes()
}

func one(int) int { return 1 }

func buildFile(t testing.TB, data []byte, opts BuildOptions) (string, BuildStats) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "pwned.bin")
	st, err := Build(context.Background(), bytes.NewReader(data), out, opts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return out, st
}

func openFile(t testing.TB, path string) *Filter {
	t.Helper()
	f, err := Open(path, quiet)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestBuildAndLookup(t *testing.T) {
	for _, tc := range []struct {
		mode      Mode
		n         int
		shardBits uint8
		maxFP     float64
		maxBPH    float64
	}{
		{ModeFuse, 3000, 0, 0.006, 2.5}, // small sets cost more per hash
		{ModeFuse, 300_000, 0, 0.005, 1.2},
		{ModeFuse, 200_000, 3, 0.005, 1.3}, // 8 shards
		{ModeTable, 3000, 0, 0.0001, 8},
		{ModeTable, 200_000, 3, 0.0001, 4.5},
	} {
		t.Run(fmt.Sprintf("%s/%d/%d", tc.mode, tc.n, tc.shardBits), func(t *testing.T) {
			sums := randomSums(tc.n, uint64(tc.n))
			data := dataset(sums, one)
			// A duplicate line and blank lines are fine.
			data = append(data, dataset(sums[:1], one)...)
			data = append(data, "\r\n\n"...)
			path, st := buildFile(t, data, BuildOptions{Mode: tc.mode, shardBits: tc.shardBits})
			if st.Distinct != uint64(tc.n) || st.Lines != uint64(tc.n+3) {
				t.Errorf("stats %+v, want %d distinct of %d lines", st, tc.n, tc.n+3)
			}
			f := openFile(t, path)
			for i, s := range sums {
				if !f.Contains(s) {
					t.Fatalf("hash %d (%x) not found", i, s)
				}
			}
			others := randomSums(100_000, 999)
			fp := 0
			for _, s := range others {
				if f.Contains(s) {
					fp++
				}
			}
			rate := float64(fp) / float64(len(others))
			bph := st.BytesPerHash()
			t.Logf("%s, %d hashes: %.3f bytes per hash, false positives %.4f%% (%d of %d)", tc.mode, tc.n, bph, 100*rate, fp, len(others))
			if rate > tc.maxFP {
				t.Errorf("false-positive rate %.4f, want at most %.4f", rate, tc.maxFP)
			}
			if bph > tc.maxBPH {
				t.Errorf("%.3f bytes per hash, want at most %.3f", bph, tc.maxBPH)
			}
			fs := f.Stats()
			if fs.Hashes != uint64(tc.n) || fs.Mode != tc.mode || fs.ShardBits != tc.shardBits {
				t.Errorf("Stats %+v", fs)
			}
		})
	}
}

func TestMinCount(t *testing.T) {
	sums := randomSums(2000, 7)
	data := dataset(sums, func(i int) int { return i % 10 }) // counts 0..9
	for _, mode := range []Mode{ModeFuse, ModeTable} {
		path, st := buildFile(t, data, BuildOptions{MinCount: 5, Mode: mode})
		if st.Distinct != 1000 {
			t.Errorf("%s: %d hashes kept, want 1000 (counts 5 to 9)", mode, st.Distinct)
		}
		f := openFile(t, path)
		if got := f.Stats().MinCount; got != 5 {
			t.Errorf("MinCount %d, want 5", got)
		}
		missed := 0
		for i, s := range sums {
			if i%10 >= 5 && !f.Contains(s) {
				t.Fatalf("%s: hash seen %d times not found", mode, i%10)
			}
			if i%10 < 5 && f.Contains(s) {
				missed++
			}
		}
		// Below the threshold only false positives match: for 1000 hashes,
		// the fuse filter's 1/256 gives about 4.
		if missed > 20 {
			t.Errorf("%s: %d of 1000 hashes under min count match", mode, missed)
		}
	}
}

func TestMalformedLine(t *testing.T) {
	good := dataset(randomSums(3, 1), one)
	for _, tc := range []struct {
		name, line, reason string
	}{
		{"short", "ABCDEF:3", "want 40 hex digits"},
		{"not hex", strings.Repeat("G", 40) + ":1", "want 40 hex digits"},
		{"no colon", strings.Repeat("A", 40) + " 1", "want 40 hex digits"},
		{"bad count", strings.Repeat("A", 40) + ":x1", "count after the colon"},
		{"ntlm", strings.Repeat("A", 32) + ":12", "NTLM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := append(append([]byte{}, good...), tc.line+"\r\n"...)
			out := filepath.Join(t.TempDir(), "pwned.bin")
			_, err := Build(context.Background(), bytes.NewReader(data), out, BuildOptions{})
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v, want a *LineError", err)
			}
			msg := err.Error()
			if le.Line != 4 || !strings.Contains(msg, "line 4:") || !strings.Contains(msg, tc.line) || !strings.Contains(msg, tc.reason) {
				t.Errorf("error %q, want line 4, the line and %q", msg, tc.reason)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("output exists after a failed build: %v", err)
			}
			leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*"))
			if len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
}

func TestEmptyInput(t *testing.T) {
	for name, data := range map[string]string{"empty": "", "blank lines": "\r\n\n\n"} {
		out := filepath.Join(t.TempDir(), "pwned.bin")
		_, err := Build(context.Background(), strings.NewReader(data), out, BuildOptions{})
		if !errors.Is(err, ErrEmpty) {
			t.Errorf("%s: error %v, want ErrEmpty", name, err)
		}
	}
	out := filepath.Join(t.TempDir(), "pwned.bin")
	_, err := Build(context.Background(), bytes.NewReader(dataset(randomSums(5, 2), one)), out, BuildOptions{MinCount: 2})
	if err == nil || !strings.Contains(err.Error(), "at least 2 times") {
		t.Errorf("all under min count: error %v, want one naming the min count", err)
	}
}

// A failed build leaves the previous file whole.
func TestFailedBuildKeepsPrevious(t *testing.T) {
	sums := randomSums(1000, 3)
	path, _ := buildFile(t, dataset(sums, one), BuildOptions{})
	before, _ := os.ReadFile(path)
	bad := append(dataset(randomSums(5000, 4), one), "oops\n"...)
	if _, err := Build(context.Background(), bytes.NewReader(bad), path, BuildOptions{}); err == nil {
		t.Fatal("a malformed input built")
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("the previous file changed")
	}
	f := openFile(t, path)
	if !f.Contains(sums[0]) {
		t.Fatal("the previous file does not answer")
	}
}

func TestOpenRefusesBadFiles(t *testing.T) {
	path, _ := buildFile(t, dataset(randomSums(5000, 5), one), BuildOptions{})
	good, _ := os.ReadFile(path)
	write := func(t *testing.T, d []byte) string {
		p := filepath.Join(t.TempDir(), "bad.bin")
		if err := os.WriteFile(p, d, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	otherVersion := bytes.Clone(good)
	otherVersion[8]++
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"empty", "truncated", nil},
		{"header cut", "truncated", good[:40]},
		{"data cut", "truncated", good[:len(good)-100]},
		{"last byte cut", "truncated", good[:len(good)-1]},
		{"another version", "format version 2, this build reads version 1", otherVersion},
		{"damaged", "checksum", flipped},
		{"not ours", "not a pwned passwords file", []byte(strings.Repeat("0123456789ABCDEF:12\n", 10))},
		{"appended", "the header says", append(bytes.Clone(good), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.data)
			_, err := Open(p, Options{})
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want a *FormatError", err)
			}
			msg := err.Error()
			for _, w := range []string{p, tc.want, "caddy loginguard pwned build"} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
}

// progressHook calls fn with each progress line.
type progressHook func(line string)

func (h progressHook) Write(p []byte) (int, error) { h(string(p)); return len(p), nil }

// A build that fails while writing the file (here its partition files vanish)
// leaves the previous file whole and no temporary file behind.
func TestBuildFailsWhileWriting(t *testing.T) {
	sums := randomSums(1000, 3)
	path, _ := buildFile(t, dataset(sums, one), BuildOptions{})
	before, _ := os.ReadFile(path)
	tmpDir := t.TempDir()
	opts := BuildOptions{TempDir: tmpDir, Workers: 1, Progress: progressHook(func(line string) {
		if strings.Contains(line, "building") {
			dirs, _ := filepath.Glob(filepath.Join(tmpDir, ".pwned-build-*"))
			for _, d := range dirs {
				os.RemoveAll(d)
			}
		}
	})}
	_, err := Build(context.Background(), bytes.NewReader(dataset(randomSums(5000, 4), one)), path, opts)
	if err == nil || !strings.Contains(err.Error(), "partition file") {
		t.Fatalf("error %v, want one of a partition file", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("the previous file changed")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".pwned.bin.tmp-*")); len(left) > 0 {
		t.Errorf("temporary output left: %v", left)
	}
}
