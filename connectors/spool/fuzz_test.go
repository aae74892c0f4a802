package spool

import (
	"os"
	"testing"
)

// FuzzRecovery: whatever a crash or a bad disk leaves in a segment (a torn
// tail, garbage, a forged record), Open recovers without panicking, keeps the
// intact records before the damage, and the spool takes and gives back new
// events afterwards.
func FuzzRecovery(f *testing.F) {
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0x08, 0, 0, 0, 1, 2, 3, 4, '{', '}', 0, 0, 0, 0, 0, 0}, uint16(3))
	f.Add([]byte("garbage that is no record at all"), uint16(65535))
	f.Fuzz(func(t *testing.T, junk []byte, cut uint16) {
		dir := t.TempDir()
		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(events("a", 3)); err != nil {
			t.Fatal(err)
		}
		seg := s.segPath(s.wseg)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		// Keep a prefix (a torn write), then the junk.
		keep := int(cut) % (len(data) + 1)
		if err := os.WriteFile(seg, append(data[:keep:keep], junk...), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err = Open(Options{Dir: dir})
		if err != nil {
			t.Fatalf("Open after damage: %v", err)
		}
		defer s.Close()
		before := drain(t, s)
		if len(before) > 3+len(junk)/8 {
			t.Fatalf("%d events recovered from 3 and %d bytes of junk", len(before), len(junk))
		}
		if keep == len(data) && len(before) < 3 {
			t.Fatalf("intact records lost: %d of 3 kept with the whole segment before the junk", len(before))
		}
		if _, err := s.Append(events("b", 2)); err != nil {
			t.Fatalf("Append after recovery: %v", err)
		}
		if got := drain(t, s); len(got) != 2 || got[0].ID != "b-000000" {
			t.Fatalf("after recovery the spool gave back %d events (%v), want the 2 appended", len(got), got)
		}
	})
}
