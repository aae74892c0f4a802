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

// TestReasonsFit: every reason has a code in the 5-bit reason field, and each
// decodes to itself, as a reason and as a wouldRefuse, with and without a
// breached password.
func TestReasonsFit(t *testing.T) {
	if len(event.Reasons) >= reasonOther {
		t.Fatalf("%d reasons, the reason field holds %d: widen it", len(event.Reasons), reasonOther-1)
	}
	for _, r := range event.Reasons {
		for _, breached := range []bool{false, true} {
			ev := event.Event{EventType: event.LoginFailure, Source: event.SourcePortal, Reason: r, WouldRefuse: r, PasswordBreached: breached}
			code, extra := Code(&ev)
			var back event.Event
			Decode(&back, code, extra)
			if back.Reason != r || back.WouldRefuse != r || back.PasswordBreached != breached || extra != "" {
				t.Errorf("%s (breached %v): decoded %s, wouldRefuse %s, breached %v (extra %q)", r, breached, back.Reason, back.WouldRefuse, back.PasswordBreached, extra)
			}
			if ReasonOf(code) != r || WouldRefuseOf(code) != r || Breached(code) != breached {
				t.Errorf("%s: code %#x reads back %s, %s, %v", r, code, ReasonOf(code), WouldRefuseOf(code), Breached(code))
			}
		}
	}
}

// TestCodeLayout pins the bits of a code: the stores keep them on disk.
func TestCodeLayout(t *testing.T) {
	for _, c := range []struct {
		ev   event.Event
		code int64
	}{
		{event.Event{EventType: event.LoginSuccess, Source: event.SourceManager}, 1 | 1<<3},
		{event.Event{EventType: event.LoginFailure, Source: event.SourcePortal, Reason: event.MissingPrincipal}, 2 | 2<<3 | 15<<5},
		{event.Event{EventType: event.LoginFailure, Source: event.SourcePortal, Reason: event.BreachedPassword, PasswordBreached: true}, 2 | 2<<3 | 16<<5 | 1<<15},
		{event.Event{EventType: event.LoginFailure, Source: event.SourcePortal, Reason: event.Locked, WouldRefuse: event.Locked}, 2 | 2<<3 | 10<<5 | 10<<10},
		{event.Event{EventType: event.LoginSuccess, Source: event.SourcePortal, PasswordBreached: true}, 1 | 2<<3 | 1<<15},
	} {
		if got, extra := Code(&c.ev); got != c.code || extra != "" {
			t.Errorf("Code(%s %s %s would %s breached %v) = %#x %q, want %#x", c.ev.EventType, c.ev.Source, c.ev.Reason, c.ev.WouldRefuse, c.ev.PasswordBreached, got, extra, c.code)
		}
	}
	// A code's low 10 bits are the PostgreSQL store's events.code (a
	// smallint), the rest its flags.
	if LowBits != 1023 || BreachedBit>>WouldShift != 32 {
		t.Errorf("LowBits %d, breached flag %d", LowBits, BreachedBit>>WouldShift)
	}
}

// TestUnknownValuesRoundTrip: a type, source, reason or wouldRefuse this
// version does not know is kept verbatim in the extra string and read back;
// its field holds the "unknown" value, never a known reason's.
func TestUnknownValuesRoundTrip(t *testing.T) {
	for _, ev := range []event.Event{
		{EventType: event.LoginFailure, Source: event.SourcePortal, Reason: "SOME_NEW_REASON"},
		{EventType: event.LoginFailure, Source: event.SourcePortal, Reason: "SOME_NEW_REASON", WouldRefuse: "SOME_NEW_REASON", PasswordBreached: true},
		{EventType: event.LoginFailure, Source: event.SourcePortal, Reason: event.Locked, WouldRefuse: "NEW_REFUSAL"},
		{EventType: "PASSWORD_CHANGED", Source: event.SourcePortal, Reason: event.BreachedPassword, WouldRefuse: event.BreachedPassword},
		{EventType: "DATA_EXPORTED", Source: "ADMIN_API"},
	} {
		code, extra := Code(&ev)
		if extra == "" {
			t.Fatalf("%+v: no extra string", ev)
		}
		var back event.Event
		Decode(&back, code, extra)
		if back.EventType != ev.EventType || back.Source != ev.Source || back.Reason != ev.Reason || back.WouldRefuse != ev.WouldRefuse || back.PasswordBreached != ev.PasswordBreached {
			t.Errorf("%+v: read back %+v", ev, back)
		}
		if _, ok := event.ParseReason(string(ev.Reason)); !ok && ReasonOf(code) != "" {
			t.Errorf("%+v: an unknown reason reads as %s from its code", ev, ReasonOf(code))
		}
	}
	// A format-5 extra string (three values) still decodes, wouldRefuse
	// from the code.
	var back event.Event
	Decode(&back, 2|2<<3|15<<5|10<<10, `["LOGIN_FAILURE","API_PORTAL","OLD_UNKNOWN"]`)
	if back.Reason != "OLD_UNKNOWN" || back.WouldRefuse != event.Locked {
		t.Errorf("a format-5 extra string: %+v", back)
	}
}
