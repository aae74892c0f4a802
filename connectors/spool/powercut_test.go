package spool

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/loginguard/loginguard/event"
)

// powerRun is what a workload had done when the power failed.
type powerRun struct {
	acked     []event.Event // the events of every Append that returned, in order
	inflight  []event.Event // the batch of the Append the power failed in
	readAcked int           // acked[:readAcked] were delivered: the reader called Ack
	dead      []event.Event // the events of every DeadLetter that returned
	deadTry   []event.Event // the events of the DeadLetter the power failed in
	deadKept  int           // how many of the last dead letters the spool counts in its files
}

// powerOptions make segments of 4 KiB (about 12 records) and dead-letter
// files of 1.5 KiB (about 4 lines), so that a short workload rotates both
// often, and removes segments and old dead-letter files.
func powerOptions(dir string) Options {
	return Options{Dir: dir, SegmentBytes: 4096, DeadLetterBytes: 1536}
}

// powerWorkload opens a spool on c and appends, reads and acknowledges, and
// dead-letters at random (rng) until the power fails or steps are done; then
// the power fails if it has not. Every error must come from the power.
func powerWorkload(t *testing.T, c *cutFS, dir string, rng *rand.Rand, steps int) (r powerRun) {
	t.Helper()
	s, err := openFS(powerOptions(dir), c)
	if err != nil {
		if !c.down {
			t.Fatalf("Open: %v", err)
		}
		return r
	}
	defer func() {
		s.mu.Lock()
		r.deadKept = int(s.oldN + s.deadN)
		s.mu.Unlock()
		c.powerCut()
		s.Close() // releases the directory for the next Open of the process
	}()
	failed := func(what string, err error) bool {
		if err == nil {
			if c.down {
				t.Fatalf("%s succeeded with the power off", what)
			}
			return false
		}
		if !c.down {
			t.Fatalf("%s: %v", what, err)
		}
		return true
	}
	batches := 0
	for range steps {
		switch k := rng.IntN(10); {
		case k < 5:
			batch := events(fmt.Sprintf("w%04d", batches), 1+rng.IntN(8))
			batches++
			n, err := s.Append(batch)
			if failed("Append", err) {
				r.inflight = batch
				return r
			}
			if n != len(batch) {
				t.Fatalf("Append took %d of %d", n, len(batch))
			}
			r.acked = append(r.acked, batch...)
		default:
			b, err := s.Next(1 + rng.IntN(10))
			if failed("Next", err) {
				return r
			}
			if len(b.Events) == 0 {
				continue
			}
			if k >= 8 {
				err := s.DeadLetter(b.Events, "given up")
				if failed("DeadLetter", err) {
					r.deadTry = b.Events
					return r
				}
				r.dead = append(r.dead, b.Events...)
			}
			// Delivered: from the call on, these may be gone, whether Ack
			// returns or the power fails in it.
			r.readAcked += len(b.Events)
			if failed("Ack", s.Ack(b.End, len(b.Events))) {
				return r
			}
		}
	}
	return r
}

// TestPowerCut: the power fails at every mutating file operation in turn of
// a workload that appends, reads, acknowledges and dead-letters (segments and
// dead-letter files rotating), and what survives of each file and directory
// is what was synced plus any prefix of the rest. After the restart the
// spool opens, cuts what was torn, and holds every event whose Append had
// returned and was not acknowledged, intact and in order (acknowledged ones
// may come again; of the batch the power failed in, a prefix may survive);
// the dead-letter files hold every dead letter the spool counted in them,
// intact, and nothing unparsable; and the spool takes, gives back and
// dead-letters new events, and opens again with nothing torn.
func TestPowerCut(t *testing.T) {
	cuts := 0
	for workload := range uint64(3) {
		for cut := 1; powerCutAt(t, workload, cut); cut++ {
			cuts++
		}
	}
	if cuts < 300 {
		t.Fatalf("only %d power cuts tried", cuts)
	}
	t.Logf("%d power cuts, each surviving correctly", cuts)
}

// powerCutAt runs the workload with the power failing at its mutating file
// operation number cut, and checks what survives. It reports false when the
// workload ended before.
func powerCutAt(t *testing.T, workload uint64, cut int) bool {
	c := newCutFS(workload<<32 | uint64(cut))
	c.cutAt = cut
	dir := fmt.Sprintf("/power/w%d-cut%d/spool", workload, cut)
	defer func() {
		if t.Failed() {
			t.Logf("workload %d, power cut at operation %d; what the file system saw:", workload, cut)
			for _, line := range c.trace {
				t.Log(line)
			}
		}
	}()
	r := powerWorkload(t, c, dir, rand.New(rand.NewPCG(workload, 1)), 80)
	if c.ops < cut {
		return false
	}
	c.restart()
	checkSurvivors(t, c, dir, r)
	return true
}

func checkSurvivors(t *testing.T, c *cutFS, dir string, r powerRun) {
	s, err := openFS(powerOptions(dir), c)
	if err != nil {
		t.Fatalf("Open after the power cut: %v", err)
	}
	defer s.Close()
	// Dead letters: the last deadKept acknowledged ones are in the files,
	// every line is whole (a torn one was cut at Open) and is a dead letter
	// written (acknowledged or in flight), intact, and the spool counts them.
	lines := deadLines(t, c, filepath.Join(dir, "dead-letter.1.jsonl"))
	lines = append(lines, deadLines(t, c, filepath.Join(dir, "dead-letter.jsonl"))...)
	written := map[string][]byte{}
	for _, ev := range append(append([]event.Event(nil), r.dead...), r.deadTry...) {
		written[ev.ID] = ev.AppendJSON(nil)
	}
	found := map[string]bool{}
	for _, ev := range lines {
		w, ok := written[ev.ID]
		if !ok {
			t.Fatalf("dead-letter file holds %s, never dead-lettered", ev.ID)
		}
		if g := ev.AppendJSON(nil); !bytes.Equal(g, w) {
			t.Fatalf("dead letter came back as %s, want %s", g, w)
		}
		found[ev.ID] = true
	}
	for _, ev := range r.dead[len(r.dead)-r.deadKept:] {
		if !found[ev.ID] {
			t.Fatalf("dead letter %s lost: the spool counted %d dead letters in its files, of %d written; found %v",
				ev.ID, r.deadKept, len(r.dead), ids(lines))
		}
	}
	if n := s.oldN + s.deadN; n != uint64(len(lines)) {
		t.Fatalf("the spool counts %d dead letters in its files, which hold %d", n, len(lines))
	}

	got := drain(t, s)

	// got is acked[j:] for some j ≤ readAcked, then a prefix of inflight.
	j := len(r.acked)
	if len(got) > 0 {
		for i, ev := range r.acked {
			if ev.ID == got[0].ID {
				j = i
				break
			}
		}
	}
	if j > r.readAcked {
		t.Fatalf("lost: %s, whose Append had returned and which was not delivered, did not come back (%d appended, %d delivered; %d came back, from %v)",
			r.acked[r.readAcked].ID, len(r.acked), r.readAcked, len(got), ids(got[:min(1, len(got))]))
	}
	want := append(append([]event.Event(nil), r.acked[j:]...), r.inflight...)
	if len(got) < len(r.acked)-j {
		t.Fatalf("%d events came back, want the %d from %s on (%d appended, %d delivered)", len(got), len(r.acked)-j, r.acked[j].ID, len(r.acked), r.readAcked)
	}
	if len(got) > len(want) {
		t.Fatalf("%d events came back, at most %d were written", len(got), len(want))
	}
	for i, ev := range got {
		if !bytes.Equal(ev.AppendJSON(nil), want[i].AppendJSON(nil)) {
			t.Fatalf("event %d came back as %s, want %s", i, ev.AppendJSON(nil), want[i].AppendJSON(nil))
		}
	}

	// The spool works on: what is appended now comes back, once.
	more := events("after", 5)
	if n, err := s.Append(more); err != nil || n != len(more) {
		t.Fatalf("Append after the cut = %d, %v", n, err)
	}
	sameIDs(t, drain(t, s), more)
	late := events("late", 1)
	if err := s.DeadLetter(late, "given up"); err != nil {
		t.Fatalf("DeadLetter after the cut: %v", err)
	}

	// The dead letter just written ends the current file, whole.
	if cur := deadLines(t, c, filepath.Join(dir, "dead-letter.jsonl")); len(cur) == 0 || cur[len(cur)-1].ID != late[0].ID {
		t.Fatalf("the dead letter written after the cut is not last in the file: %v", ids(cur))
	}

	// And it opens again cleanly: nothing torn left, nothing pending.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = openFS(powerOptions(dir), c)
	if err != nil {
		t.Fatalf("Open again: %v", err)
	}
	defer s.Close()
	if st := s.Stats(); st.Corrupt != 0 || st.Pending != 0 {
		t.Fatalf("opened again after the recovery: %+v, want nothing corrupt or pending", st)
	}
}

// deadLines returns the events of the dead-letter file at path, each line
// checked whole.
func deadLines(t *testing.T, c *cutFS, path string) []event.Event {
	t.Helper()
	b, err := c.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var dl struct {
			Reason string      `json:"reason"`
			Event  event.Event `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &dl); err != nil || dl.Reason != "given up" || dl.Event.ID == "" {
			t.Fatalf("%s: line %q: %v", path, sc.Bytes(), err)
		}
		out = append(out, dl.Event)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s ends in a torn line after Open", path)
	}
	return out
}
