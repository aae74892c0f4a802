package statetest

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/loginguard/loginguard/state"
)

// testIPBlocks works in a random IPv6 /48 of the documentation range (and a few
// IPv4 ranges it removes again), so that it can share a server with other runs.
func testIPBlocks(h *harness) {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		h.t.Fatal(err)
	}
	base := fmt.Sprintf("2001:db8:%x", uint16(r[0])<<8|uint16(r[1]))
	mine := netip.MustParsePrefix(base + "::/48")
	blocked := func() []state.IPBlock {
		h.t.Helper()
		all, err := h.s.BlockedIPs(h.ctx)
		if err != nil {
			h.t.Fatalf("BlockedIPs: %v", err)
		}
		var out []state.IPBlock
		var prev netip.Prefix
		for i, b := range all {
			p, err := netip.ParsePrefix(b.CIDR)
			if err != nil || p != p.Masked() {
				h.t.Fatalf("BlockedIPs[%d].CIDR = %q, not a canonical prefix", i, b.CIDR)
			}
			if i > 0 && prev.Compare(p) >= 0 {
				h.t.Fatalf("BlockedIPs not in address order: %q before %q", prev, p)
			}
			prev = p
			if mine.Overlaps(p) && p.Bits() >= mine.Bits() {
				out = append(out, b)
			}
		}
		return out
	}
	block := func(cidr string, d time.Duration) {
		h.t.Helper()
		if err := h.s.Block(h.ctx, cidr, d); err != nil {
			h.t.Fatalf("Block(%q, %v): %v", cidr, d, err)
		}
	}
	unblock := func(cidr string) bool {
		h.t.Helper()
		was, err := h.s.Unblock(h.ctx, cidr)
		if err != nil {
			h.t.Fatalf("Unblock(%q): %v", cidr, err)
		}
		return was
	}
	want := func(got []state.IPBlock, want ...state.IPBlock) {
		h.t.Helper()
		if len(got) != len(want) {
			h.t.Fatalf("BlockedIPs = %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i].CIDR != want[i].CIDR || got[i].Permanent != want[i].Permanent || !got[i].Until.Equal(want[i].Until) {
				h.t.Fatalf("BlockedIPs[%d] = %+v, want %+v", i, got[i], want[i])
			}
		}
	}

	for _, bad := range []string{"", "nonsense", "10.0.0.0/33", "fe80::1%eth0", "10.0.0.1/"} {
		if err := h.s.Block(h.ctx, bad, time.Hour); err == nil {
			h.t.Fatalf("Block(%q) succeeded, want an error", bad)
		}
		if _, err := h.s.Unblock(h.ctx, bad); err == nil {
			h.t.Fatalf("Unblock(%q) succeeded, want an error", bad)
		}
	}

	host := base + ":1::7"
	hostRange := base + ":1::7/128"
	net64 := base + ":2::/64"
	block(host, time.Hour)
	block(base+":2::99/64", 0) // host bits are cleared
	block(base+":3::/64", 10*time.Minute)
	block(base+":3::/64", 30*time.Minute) // replaces
	want(blocked(),
		state.IPBlock{CIDR: netip.MustParsePrefix(hostRange).String(), Until: h.now().Add(time.Hour)},
		state.IPBlock{CIDR: netip.MustParsePrefix(net64).String(), Permanent: true},
		state.IPBlock{CIDR: netip.MustParsePrefix(base + ":3::/64").String(), Until: h.now().Add(30 * time.Minute)},
	)

	h.clock.Advance(30 * time.Minute) // the /64 block ends
	got := blocked()
	if len(got) != 2 || slices.ContainsFunc(got, func(b state.IPBlock) bool { return b.CIDR == base+":3::/64" }) {
		h.t.Fatalf("BlockedIPs after 30m = %+v, want the :3::/64 block gone", got)
	}
	if unblock(base + ":3::/64") {
		h.t.Fatal("Unblock of a block that ended reported true")
	}
	if !unblock(host) {
		h.t.Fatalf("Unblock(%q) reported false", host)
	}
	if unblock(host) {
		h.t.Fatal("second Unblock reported true")
	}
	if unblock(base + ":2::/65") {
		h.t.Fatal("Unblock of a range that is not blocked (a narrower one) reported true")
	}
	h.clock.Advance(10 * 365 * 24 * time.Hour)
	want(blocked(), state.IPBlock{CIDR: netip.MustParsePrefix(net64).String(), Permanent: true})
	if !unblock(base + ":2::5/64") {
		h.t.Fatal("Unblock of the permanent block reported false")
	}
	want(blocked())

	// IPv4: an address is a /32, a mapped range is IPv4. (Removed again, so that
	// runs sharing a server do not see each other's IPv4 blocks for long.)
	v4 := fmt.Sprintf("198.51.%d.%d", r[2], r[3])
	block(v4, time.Minute)
	block("::ffff:"+v4+"/120", time.Minute)
	var found []string
	all, err := h.s.BlockedIPs(h.ctx)
	if err != nil {
		h.t.Fatalf("BlockedIPs: %v", err)
	}
	for _, b := range all {
		if b.CIDR == v4+"/32" || b.CIDR == netip.MustParsePrefix(fmt.Sprintf("198.51.%d.0/24", r[2])).String() {
			found = append(found, b.CIDR)
		}
	}
	if len(found) != 2 {
		h.t.Fatalf("IPv4 blocks = %q, want %s/32 and its /24", found, v4)
	}
	if !unblock(v4+"/32") || !unblock(fmt.Sprintf("198.51.%d.0/24", r[2])) {
		h.t.Fatal("Unblock of the IPv4 blocks reported false")
	}
}
