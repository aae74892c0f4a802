package spool

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

func events(prefix string, n int) []event.Event {
	base := time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)
	out := make([]event.Event, n)
	for i := range out {
		out[i] = event.Event{
			ID:            fmt.Sprintf("%s-%06d", prefix, i),
			Source:        event.SourceManager,
			Principal:     event.Str(fmt.Sprintf("user%d", i%7)),
			EventDate:     base.Add(time.Duration(i) * time.Millisecond),
			EventType:     event.LoginFailure,
			RemoteAddress: "198.51.100.7",
			Message:       event.Str("Bad credentials"),
		}
	}
	return out
}

func openT(t *testing.T, o Options) *Spool {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// drain reads every event left, acknowledging each batch.
func drain(t *testing.T, s *Spool) []event.Event {
	t.Helper()
	var all []event.Event
	for {
		b, err := s.Next(100)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Events) == 0 {
			return all
		}
		all = append(all, b.Events...)
		if err := s.Ack(b.End, len(b.Events)); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func sameIDs(t *testing.T, got, want []event.Event) {
	t.Helper()
	g, w := ids(got), ids(want)
	if len(g) != len(w) {
		t.Fatalf("got %d events, want %d", len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("event %d is %s, want %s", i, g[i], w[i])
		}
	}
}

func TestAppendReadAck(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	defer s.Close()
	all := events("a", 1000)
	for i := 0; i < len(all); i += 250 {
		if n, err := s.Append(all[i : i+250]); err != nil || n != 250 {
			t.Fatalf("Append = %d, %v", n, err)
		}
	}
	if st := s.Stats(); st.Pending != 1000 {
		t.Fatalf("pending %d, want 1000", st.Pending)
	}
	got := drain(t, s)
	sameIDs(t, got, all)
	if got[3].Principal == nil || *got[3].Principal != "user3" || got[3].Message == nil {
		t.Fatalf("event came back changed: %+v", got[3])
	}
	if st := s.Stats(); st.Pending != 0 {
		t.Fatalf("pending %d after acknowledging all", st.Pending)
	}
}

// TestAppendKeepsNoReference: the dispatcher reuses a batch's slice once
// Append returns, so what was appended must not change with it, whether read
// from memory or from disk.
func TestAppendKeepsNoReference(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	defer s.Close()
	want := events("k", 10)
	batch := slices.Clone(want)
	if n, err := s.Append(batch); err != nil || n != len(batch) {
		t.Fatalf("Append = %d, %v", n, err)
	}
	copy(batch, events("overwritten", 10))
	clear(batch[5:])
	got := drain(t, s)
	sameIDs(t, got, want)
	s.Rewind()
	batch = slices.Clone(want)
	if _, err := s.Append(batch); err != nil {
		t.Fatal(err)
	}
	s.Failing(true) // nothing in memory: the second copy is read from disk
	if n := s.Stats().InMemory; n != 0 {
		t.Fatalf("%d events in memory while failing", n)
	}
	clear(batch)
	sameIDs(t, drain(t, s), want)
}

// TestReopenRedelivers: what was read but not acknowledged comes back after a
// restart, what was acknowledged does not.
func TestReopenRedelivers(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir, SegmentBytes: 4096})
	all := events("r", 500)
	if _, err := s.Append(all[:300]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(all[300:]); err != nil {
		t.Fatal(err)
	}
	b, _ := s.Next(120)
	if err := s.Ack(b.End, len(b.Events)); err != nil {
		t.Fatal(err)
	}
	if b2, _ := s.Next(50); len(b2.Events) != 50 {
		t.Fatalf("second read got %d", len(b2.Events))
	} // read, not acknowledged: comes back
	s.Close()

	s = openT(t, Options{Dir: dir, SegmentBytes: 4096})
	defer s.Close()
	if st := s.Stats(); st.Pending != 380 {
		t.Fatalf("pending after reopen %d, want 380", st.Pending)
	}
	sameIDs(t, drain(t, s), all[120:])
}

// TestTornLastRecord: a crash in the middle of writing a record leaves part of
// it; reopening cuts it off and keeps every whole record.
func TestTornLastRecord(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	all := events("t", 20)
	if _, err := s.Append(all); err != nil {
		t.Fatal(err)
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	info, _ := os.Stat(segs[0])
	// Half a record more, as if the process died during the write...
	f, err := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, '{', '"', 'i'})
	f.Close()
	s = openT(t, Options{Dir: dir})
	if st := s.Stats(); st.Pending != 20 || st.Corrupt != 11 {
		t.Fatalf("after a torn record: %+v, want 20 pending and 11 bytes cut", st)
	}
	more := events("after", 3)
	if _, err := s.Append(more); err != nil {
		t.Fatal(err)
	}
	sameIDs(t, drain(t, s), append(append([]event.Event(nil), all...), more...))
	s.Close()

	// ...and a last record whose bytes are all there but damaged (a torn page).
	s = openT(t, Options{Dir: dir})
	s.Append(events("x", 2))
	s.Close()
	data, _ := os.ReadFile(segs[0])
	data[len(data)-3] ^= 0xff
	os.WriteFile(segs[0], data, 0o600)
	s = openT(t, Options{Dir: dir})
	defer s.Close()
	got := drain(t, s)
	if len(got) != 1 || got[0].ID != "x-000000" {
		t.Fatalf("after a damaged last record got %v, want [x-000000]", ids(got))
	}
	_ = info
}

// TestMaxBytes: a full spool takes the events that fit and refuses the newest;
// once delivered events are acknowledged, there is room again.
func TestMaxBytes(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir(), MaxBytes: 64 << 10, SegmentBytes: 8 << 10})
	defer s.Close()
	all := events("m", 2000)
	took, err := s.Append(all)
	if err != nil {
		t.Fatal(err)
	}
	if took == 0 || took >= len(all) {
		t.Fatalf("took %d of %d into 64 KiB", took, len(all))
	}
	if st := s.Stats(); st.Bytes > 64<<10 {
		t.Fatalf("spool holds %d bytes, over its 64 KiB", st.Bytes)
	}
	if n, _ := s.Append(all[took:]); n != 0 {
		t.Fatalf("a full spool took %d more", n)
	}
	sameIDs(t, drain(t, s), all[:took])
	// Acknowledged segments are removed (the one being written may stay).
	if n, err := s.Append(all[took:]); err != nil || n == 0 {
		t.Fatalf("after draining, Append = %d, %v", n, err)
	}
	if st := s.Stats(); st.Bytes > 64<<10 {
		t.Fatalf("spool holds %d bytes, over its 64 KiB", st.Bytes)
	}
}

// TestSegmentsRemoved: reading and acknowledging across many segments removes
// them from the disk.
func TestSegmentsRemoved(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir, SegmentBytes: 2048})
	defer s.Close()
	all := events("s", 600)
	for i := 0; i < 600; i += 20 {
		s.Append(all[i : i+20])
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 10 {
		t.Fatalf("only %d segments", len(segs))
	}
	sameIDs(t, drain(t, s), all)
	segs, _ = filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) > 1 {
		t.Fatalf("%d segments left after acknowledging everything", len(segs))
	}
}

// TestMemoryAndDiskMix: a reader that falls behind past the in-memory copy
// reads from disk, then from memory again, in order.
func TestMemoryAndDiskMix(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	defer s.Close()
	all := events("mix", memCap+5000)
	s.Append(all[:100])
	b, _ := s.Next(50) // from memory
	s.Ack(b.End, len(b.Events))
	got := b.Events
	for i := 100; i < len(all); i += 1000 {
		s.Append(all[i:min(i+1000, len(all))])
	}
	got = append(got, drain(t, s)...)
	extra := events("late", 10)
	s.Append(extra)
	got = append(got, drain(t, s)...)
	sameIDs(t, got, append(append([]event.Event(nil), all...), extra...))
}

// TestReaderBehindInMemory: a reader that keeps up but is a little behind,
// taking batches of other sizes than the appended ones (so that the events in
// memory are moved to the start of their array and the array reused), gets
// every event once, in order, as written, and nothing is left pending.
func TestReaderBehindInMemory(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	defer s.Close()
	all := events("behind", 20000)
	var got []event.Event
	appends, reads := []int{7, 300, 1, 64, 999, 250}, []int{5, 200, 33, 128, 300}
	next := 0
	for i, k := 0, 0; next < len(all); k++ {
		n := min(appends[k%len(appends)], len(all)-next)
		if took, err := s.Append(all[next : next+n]); err != nil || took != n {
			t.Fatalf("Append = %d, %v", took, err)
		}
		next += n
		// Read less than was appended now and then, so the reader stays behind.
		b, err := s.Next(reads[i%len(reads)])
		i++
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(b.End, len(b.Events)); len(b.Events) > 0 && err != nil {
			t.Fatal(err)
		}
		got = append(got, b.Events...)
	}
	got = append(got, drain(t, s)...)
	sameIDs(t, got, all)
	for i := range got {
		if got[i].Principal == nil || *got[i].Principal != *all[i].Principal || !got[i].EventDate.Equal(all[i].EventDate) {
			t.Fatalf("event %d came back changed: %+v", i, got[i])
		}
	}
	if st := s.Stats(); st.Pending != 0 {
		t.Fatalf("pending %d after reading all", st.Pending)
	}
}

// TestFailingKeepsNothingInMemory: while the reader's deliveries fail, the
// events appended are on disk only (and those held are let go); once they
// succeed again every event is read, in order, and memory is used again.
func TestFailingKeepsNothingInMemory(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	defer s.Close()
	all := events("failing", 3000)
	s.Append(all[:1000])
	if st := s.Stats(); st.InMemory != 1000 {
		t.Fatalf("in memory %d, want 1000", st.InMemory)
	}
	b, _ := s.Next(100) // the batch being retried
	got := b.Events
	s.Failing(true)
	s.Append(all[1000:2000])
	if st := s.Stats(); st.InMemory != 0 || st.Pending != 2000 {
		t.Fatalf("failing: %+v, want nothing in memory and 2000 pending", st)
	}
	s.Failing(false)
	s.Ack(b.End, len(b.Events))
	got = append(got, drain(t, s)...)
	s.Append(all[2000:])
	if st := s.Stats(); st.InMemory != 1000 {
		t.Fatalf("caught up: in memory %d, want 1000", st.InMemory)
	}
	got = append(got, drain(t, s)...)
	sameIDs(t, got, all)
}

func TestDeadLetter(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	defer s.Close()
	if err := s.DeadLetter(events("d", 3), "permanent: 400 Bad Request"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(s.DeadLetterPath())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	if n != 3 || s.Stats().DeadLettered != 3 {
		t.Fatalf("dead-letter file has %d lines, stats %d; want 3", n, s.Stats().DeadLettered)
	}
}

// TestDeadLetterBytes: the dead-letter file is rotated before a write would
// take it past DeadLetterBytes; the file before the previous one is removed
// and its events counted, also across a reopen; disk use stays within twice
// the limit.
func TestDeadLetterBytes(t *testing.T) {
	dir := t.TempDir()
	const limit = 8 << 10
	lines := func(path string) int {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Count(b, []byte("\n"))
	}
	s := openT(t, Options{Dir: dir, DeadLetterBytes: limit})
	written := 0
	for i := range 60 {
		if err := s.DeadLetter(events(fmt.Sprintf("d%02d-", i), 2), "permanent: 400 Bad Request"); err != nil {
			t.Fatal(err)
		}
		written += 2
		cur, old := fileSize(t, s.DeadLetterPath()), fileSize(t, filepath.Join(dir, "dead-letter.1.jsonl"))
		if cur > limit || cur+old > 2*limit {
			t.Fatalf("after %d dead letters: %d + %d bytes of dead letters, limit %d", written, cur, old, limit)
		}
	}
	kept := lines(s.DeadLetterPath()) + lines(filepath.Join(dir, "dead-letter.1.jsonl"))
	st := s.Stats()
	if st.DeadLetterDiscarded == 0 || kept+int(st.DeadLetterDiscarded) != written || st.DeadLettered != uint64(written) {
		t.Fatalf("%d dead letters kept, stats %+v; want some discarded and kept + discarded = %d", kept, st, written)
	}
	// The newest are kept: the last one written is the last line.
	b, _ := os.ReadFile(s.DeadLetterPath())
	if !bytes.Contains(b, []byte(events("d59-", 2)[1].ID)) {
		t.Error("the newest dead letter is not in dead-letter.jsonl")
	}
	s.Close()

	// After a reopen the files' lines are known again: the next rotation
	// counts the old file's events.
	s = openT(t, Options{Dir: dir, DeadLetterBytes: limit})
	defer s.Close()
	before := lines(filepath.Join(dir, "dead-letter.1.jsonl"))
	for i := 0; s.Stats().DeadLetterDiscarded == 0; i++ {
		if i > 100 {
			t.Fatal("no rotation after a reopen")
		}
		if err := s.DeadLetter(events(fmt.Sprintf("e%03d-", i), 2), "max age"); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Stats().DeadLetterDiscarded; got != uint64(before) {
		t.Errorf("discarded %d after a reopen, want the %d lines of the old file", got, before)
	}
}

func fileSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestLargeRecord: a record larger than the read chunk is read whole from disk.
func TestLargeRecord(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	evs := events("big", 3)
	evs[1].UserAgent = strings.Repeat("x", 3<<20)
	if n, err := s.Append(evs); err != nil || n != 3 {
		t.Fatalf("Append = %d, %v", n, err)
	}
	s.Close()
	s = openT(t, Options{Dir: dir}) // from disk, not memory
	defer s.Close()
	got := drain(t, s)
	sameIDs(t, got, evs)
	if len(got[1].UserAgent) != 3<<20 {
		t.Fatalf("large field came back with %d bytes", len(got[1].UserAgent))
	}
}

// TestSmallMaxBytesDefaultSegments: a limit below the default segment size
// still frees room once events are acknowledged, round after round.
func TestSmallMaxBytesDefaultSegments(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir(), MaxBytes: 64 << 10})
	defer s.Close()
	for round := range 5 {
		all := events(fmt.Sprintf("r%d", round), 2000)
		took, err := s.Append(all)
		if err != nil || took == 0 {
			t.Fatalf("round %d: Append = %d, %v", round, took, err)
		}
		if got := drain(t, s); len(got) != took {
			t.Fatalf("round %d: read %d of %d", round, len(got), took)
		}
		if st := s.Stats(); st.Bytes > 64<<10 {
			t.Fatalf("round %d: %d bytes", round, st.Bytes)
		}
	}
}
