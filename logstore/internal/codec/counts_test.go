package codec

import (
	"bytes"
	"maps"
	"slices"
	"testing"

	"github.com/loginguard/loginguard/event"
)

// countsBytes pins the counts blob format: both stores have such blobs on
// disk, so a change here must fail.
var countsBytes = []struct {
	name   string
	d      KeyDelta
	counts map[int64]int64
	blob   []byte
}{
	{"uvarint empty", UvarintDelta, map[int64]int64{}, nil},
	{"uvarint", UvarintDelta, map[int64]int64{3: 2, 5: 1, 300: 7},
		[]byte{0x03, 0x02, 0x02, 0x01, 0xa7, 0x02, 0x07}},
	{"uvarint negative key", UvarintDelta, map[int64]int64{-1: 1, 0: 200},
		[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0x01, 0xc8, 0x01}},
	{"varint empty", VarintDelta, map[int64]int64{}, nil},
	{"varint", VarintDelta, map[int64]int64{3: 2, 5: 1, 300: 7},
		[]byte{0x06, 0x02, 0x04, 0x01, 0xce, 0x04, 0x07}},
	{"varint negative key", VarintDelta, map[int64]int64{-1: 1, 0: 200},
		[]byte{0x01, 0x01, 0x02, 0xc8, 0x01}},
}

func TestCountsFormat(t *testing.T) {
	for _, c := range countsBytes {
		if got := AppendCountMap(nil, c.d, c.counts); !bytes.Equal(got, c.blob) {
			t.Errorf("%s: AppendCountMap(%v) = % x, want % x", c.name, c.counts, got, c.blob)
		}
		got := map[int64]int64{}
		if err := AddCounts(c.blob, c.d, func(k, n int64) { got[k] = n }); err != nil || !maps.Equal(got, c.counts) {
			t.Errorf("%s: AddCounts(% x) = %v, %v; want %v", c.name, c.blob, got, err, c.counts)
		}
	}
}

func TestCountsRoundTrip(t *testing.T) {
	// Unsorted, with a repeated key (summed) and keys far apart.
	in := []Count{{42, 1}, {7, 3}, {1 << 41, 9}, {42, 4}, {-5, 2}, {0, 1}}
	want := []Count{{-5, 2}, {0, 1}, {7, 3}, {42, 5}, {1 << 41, 9}}
	for _, d := range []KeyDelta{UvarintDelta, VarintDelta} {
		blob := AppendCounts([]byte("prefix"), d, slices.Clone(in))
		if !bytes.HasPrefix(blob, []byte("prefix")) {
			t.Fatalf("delta %d: AppendCounts dropped what b held", d)
		}
		var got []Count
		if err := AddCounts(blob[len("prefix"):], d, func(k, n int64) { got = append(got, Count{k, n}) }); err != nil || !slices.Equal(got, want) {
			t.Fatalf("delta %d: round trip = %v, %v; want %v", d, got, err, want)
		}
	}
}

func TestCountsCorrupt(t *testing.T) {
	for _, d := range []KeyDelta{UvarintDelta, VarintDelta} {
		for _, blob := range [][]byte{{0x80}, {0x03}, {0x03, 0x80}} {
			if err := AddCounts(blob, d, func(k, n int64) {}); err == nil {
				t.Errorf("delta %d: AddCounts(% x) = nil, want an error", d, blob)
			}
		}
	}
}

// TestReasonsFit: every reason has a code in the 4-bit reason field, and each
// decodes to itself.
func TestReasonsFit(t *testing.T) {
	if len(event.Reasons) > reasonOther {
		t.Fatalf("%d reasons, the reason field holds %d: widen it", len(event.Reasons), reasonOther)
	}
	for _, r := range event.Reasons {
		ev := event.Event{EventType: event.LoginFailure, Source: event.SourcePortal, Reason: r}
		code, extra := Code(&ev)
		var back event.Event
		Decode(&back, code, extra)
		if back.Reason != r || extra != "" {
			t.Errorf("%s: decoded %s (extra %q)", r, back.Reason, extra)
		}
	}
}
