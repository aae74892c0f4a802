package state

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// IPBlock is a blocked IP range, for the admin operations.
type IPBlock struct {
	// CIDR is the range in canonical form: "203.0.113.0/24", "198.51.100.7/32",
	// "2001:db8::/32".
	CIDR string `json:"cidr"`
	// Permanent: blocked until Unblock.
	Permanent bool `json:"permanent"`
	// Until is when the block ends; zero for a permanent block.
	Until time.Time `json:"until,omitzero"`
}

// ParseIPRange parses an address ("198.51.100.7", "2001:db8::1") or a CIDR
// prefix ("203.0.113.0/24"), and returns the range in canonical form: host bits
// cleared, an address as a /32 or /128, an IPv4-mapped IPv6 range as IPv4,
// zones refused.
func ParseIPRange(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("ip range %q: %w", s, err)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("ip range %q: %w", s, err)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("ip range %q: zones are not allowed", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() {
		bits := p.Bits() - 96
		if bits < 0 {
			return netip.Prefix{}, fmt.Errorf("ip range %q: an IPv4-mapped range needs at least 96 bits", s)
		}
		p = netip.PrefixFrom(a.Unmap(), bits)
	}
	return p.Masked(), nil
}
