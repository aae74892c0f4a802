package pwned

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var quiet = Options{Logger: slog.New(slog.DiscardHandler)}

// twoSets builds two files that share the hashes common.
func twoSets(t *testing.T) (a, b string, common, onlyA, onlyB [][20]byte) {
	t.Helper()
	common = randomSums(20000, 11)
	onlyA = randomSums(2000, 12)
	onlyB = randomSums(2000, 13)
	a, _ = buildFile(t, dataset(append(append([][20]byte{}, common...), onlyA...), one), BuildOptions{shardBits: 2})
	b, _ = buildFile(t, dataset(append(append([][20]byte{}, common...), onlyB...), one), BuildOptions{Mode: ModeTable})
	return a, b, common, onlyA, onlyB
}

// replace puts a copy of src at dst by renaming, as the build command does.
func replace(t *testing.T, src, dst string) {
	t.Helper()
	d, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, d, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// Lookups running through many reloads always see a whole, checked file, and
// every replaced mapping is unmapped once its lookups are done.
func TestReloadUnderLookups(t *testing.T) {
	a, b, common, _, _ := twoSets(t)
	path := filepath.Join(t.TempDir(), "pwned.bin")
	replace(t, a, path)
	live := liveMappings.Load()
	f, err := Open(path, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var lookups, bad atomic.Int64
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; !stop.Load(); i++ {
				found, err := f.Lookup(common[i%len(common)])
				lookups.Add(1)
				if !found || err != nil {
					bad.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 40; i++ {
		src := a
		if i%2 == 0 {
			src = b
		}
		replace(t, src, path)
		if err := f.Reload(); err != nil {
			t.Fatalf("Reload %d: %v", i, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d of %d lookups of a common hash failed during reloads", bad.Load(), lookups.Load())
	}
	if st := f.Stats(); st.Reloads != 40 || st.Faults != 0 {
		t.Errorf("stats %+v, want 40 reloads, no fault", st)
	}
	if n := liveMappings.Load() - live; n != 1 {
		t.Errorf("%d mappings alive after the lookups ended, want 1", n)
	}
	f.Close()
	if n := liveMappings.Load() - live; n != 0 {
		t.Errorf("%d mappings alive after Close", n)
	}
	if _, err := f.Lookup(common[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("lookup after Close: %v, want ErrClosed", err)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The poll reloads a file renamed over the old one, and keeps the old one
// when the new one is damaged.
func TestWatchReloads(t *testing.T) {
	a, b, _, onlyA, onlyB := twoSets(t)
	path := filepath.Join(t.TempDir(), "pwned.bin")
	replace(t, a, path)
	f, err := Open(path, Options{PollInterval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !f.Contains(onlyA[0]) {
		t.Fatal("file A not answering")
	}
	replace(t, b, path)
	waitFor(t, "file B", func() bool { return f.Contains(onlyB[0]) && f.Contains(onlyB[1]) })

	d, _ := os.ReadFile(a)
	d[len(d)/2] ^= 1
	tmp := path + ".tmp"
	os.WriteFile(tmp, d, 0o644)
	os.Rename(tmp, path)
	waitFor(t, "a reload error", func() bool { return f.Stats().ReloadErrors > 0 })
	if !f.Contains(onlyB[0]) {
		t.Fatal("the damaged file replaced file B")
	}
	replace(t, a, path)
	waitFor(t, "file A again", func() bool { return f.Contains(onlyA[0]) && f.Contains(onlyA[1]) })
}

// A file rewritten in place under its mapping: lookups fail with ErrStale,
// never crash, until the complete file is reloaded.
func TestRewriteInPlace(t *testing.T) {
	a, b, common, _, onlyB := twoSets(t)
	path := filepath.Join(t.TempDir(), "pwned.bin")
	replace(t, a, path)
	f := openFile(t, path)
	if err := os.Truncate(path, 0); err != nil { // the first step of a rewrite in place
		t.Fatal(err)
	}
	found, err := f.Lookup(common[0])
	if found || !errors.Is(err, ErrStale) {
		t.Fatalf("lookup in a truncated file: %v %v, want ErrStale", found, err)
	}
	if st := f.Stats(); st.Faults != 1 {
		t.Errorf("Faults %d, want 1", st.Faults)
	}
	if err := f.Reload(); err == nil {
		t.Fatal("an empty file reloaded")
	}
	if _, err := f.Lookup(common[0]); !errors.Is(err, ErrStale) {
		t.Fatalf("lookup after a failed reload: %v, want ErrStale", err)
	}
	d, _ := os.ReadFile(b)
	if err := os.WriteFile(path, d, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if found, err := f.Lookup(onlyB[0]); !found || err != nil {
		t.Fatalf("after the reload: %v %v", found, err)
	}
}

// The poll notices a rewrite in place that keeps the size (no fault to
// notice it by) and refuses lookups until the file is whole again.
func TestWatchRewriteInPlace(t *testing.T) {
	a, b, _, onlyA, onlyB := twoSets(t)
	path := filepath.Join(t.TempDir(), "pwned.bin")
	replace(t, a, path)
	f, err := Open(path, Options{PollInterval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	da, _ := os.ReadFile(a)
	half := append([]byte{}, da...)
	clear(half[len(half)/2:]) // same size, the second half not written yet
	fd, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd.WriteAt(half, 0)
	fd.Close()
	os.Chtimes(path, time.Now(), time.Now().Add(time.Second))
	waitFor(t, "the stale mapping", func() bool {
		_, err := f.Lookup(onlyA[0])
		return errors.Is(err, ErrStale)
	})
	db, _ := os.ReadFile(b)
	os.WriteFile(path, db, 0o644)
	waitFor(t, "file B", func() bool {
		found, err := f.Lookup(onlyB[0])
		return found && err == nil
	})
}
