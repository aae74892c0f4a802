package cli

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/pwned"
)

// pwnedSet is a small set in the text form: the SHA-1 of "password<i>" seen i
// times.
func pwnedSet(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		s := sha1.Sum(fmt.Appendf(nil, "password%d", i))
		fmt.Fprintf(&b, "%s:%d\r\n", strings.ToUpper(hex.EncodeToString(s[:])), i)
	}
	return b.String()
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Run(args, nil, &o, &e)
	return code, o.String(), e.String()
}

func TestPwnedBuild(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "pwnedpasswords.txt")
	os.WriteFile(in, []byte(pwnedSet(100)), 0o644)
	out := filepath.Join(dir, "pwned.bin")
	code, stdout, stderr := runCLI("pwned", "build", in, "-o", out, "--min-count", "50", "--mode", "table")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "51 hashes (of 100 lines), mode table") {
		t.Errorf("stdout %q", stdout)
	}
	if !strings.Contains(stderr, "pwned build: read 100 lines, kept 51 hashes") {
		t.Errorf("no progress on stderr: %q", stderr)
	}
	f, err := pwned.Open(out, pwned.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !f.Contains(sha1.Sum([]byte("password50"))) || f.Contains(sha1.Sum([]byte("password49"))) {
		t.Error("the file does not hold the passwords seen at least 50 times alone")
	}
	code, stdout, _ = runCLI("pwned", "info", out)
	if code != ExitOK || !strings.Contains(stdout, "51 hashes, mode table, min count 50") {
		t.Errorf("info: exit %d, %q", code, stdout)
	}
}

func TestPwnedBuildStdin(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pwned.bin")
	var o, e bytes.Buffer
	if code := runPwned([]string{"build", "-", "-o", out, "--quiet"}, strings.NewReader(pwnedSet(10)), &o, &e); code != ExitOK {
		t.Fatalf("exit %d: %s", code, e.String())
	}
	if e.Len() != 0 {
		t.Errorf("--quiet printed %q", e.String())
	}
}

func TestPwnedBuildErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "pwned.bin")
	good := filepath.Join(dir, "good.txt")
	os.WriteFile(good, []byte(pwnedSet(5)), 0o644)
	if code, _, e := runCLI("pwned", "build", good, "-o", out); code != ExitOK {
		t.Fatalf("exit %d: %s", code, e)
	}
	before, _ := os.ReadFile(out)
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte(pwnedSet(3)+"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8;3\r\n"), 0o644)
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{bad, "-o", out}, ExitAPI, []string{bad, "line 4:", "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8;3", "want 40 hex digits, a colon and a count"}},
		{[]string{empty, "-o", out}, ExitAPI, []string{empty, "holds no hash"}},
		{[]string{good, "-o", out, "--min-count", "9"}, ExitAPI, []string{"at least 9 times"}},
		{[]string{good}, ExitUsage, []string{"-o: want the output file"}},
		{[]string{"-o", out}, ExitUsage, []string{"want one input file"}},
		{[]string{good, "-o", out, "--mode", "bloom"}, ExitUsage, []string{`--mode "bloom": want fuse or table`}},
		{[]string{filepath.Join(dir, "missing.txt"), "-o", out}, ExitAPI, []string{"missing.txt", "no such file"}},
	} {
		code, _, stderr := runCLI(append([]string{"pwned", "build"}, tc.args...)...)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d (%s)", tc.args, code, tc.code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%q: stderr %q does not say %q", tc.args, stderr, w)
			}
		}
		if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
			t.Fatalf("%q: the previous output changed", tc.args)
		}
	}
	os.WriteFile(out, before[:len(before)-3], 0o644)
	code, _, stderr := runCLI("pwned", "info", out)
	if code != ExitAPI || !strings.Contains(stderr, "truncated") || !strings.Contains(stderr, "caddy loginguard pwned build") {
		t.Errorf("info of a truncated file: exit %d, %q", code, stderr)
	}
}
