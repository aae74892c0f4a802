package ratelimit

import (
	"fmt"
	"net/netip"
	"strings"
)

// PrefixOf returns the prefix of ip that is counted as one client: its first
// v4 bits for an IPv4 address (an IPv4-mapped IPv6 address counts as IPv4),
// its first v6 bits for an IPv6 address. The zone is dropped, lengths out of
// range are clamped, and an invalid ip gives the zero Prefix.
func PrefixOf(ip netip.Addr, v4, v6 int) netip.Prefix {
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	ip = ip.Unmap().WithZone("")
	bits := v6
	if ip.Is4() {
		bits = v4
	}
	bits = max(0, min(bits, ip.BitLen()))
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// parseList parses the entries of an allow or deny list: CIDRs ("10.0.0.0/8",
// "2001:db8::/32") or single addresses. Host bits are cleared and IPv4-mapped
// IPv6 entries count as IPv4. Errors name the entry, e.g. "deny[2]: ...".
func parseList(name string, entries []string) ([]netip.Prefix, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, 0, len(entries))
	for i, e := range entries {
		p, err := parseEntry(strings.TrimSpace(e))
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", name, i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// parseEntry parses one list entry.
func parseEntry(e string) (netip.Prefix, error) {
	if e == "" {
		return netip.Prefix{}, fmt.Errorf("empty entry: want a CIDR or an IP address")
	}
	if strings.Contains(e, "/") {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", e)
		}
		if a := p.Addr(); a.Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: an IPv4-mapped prefix needs at least 96 bits", e)
			}
			p = netip.PrefixFrom(a.Unmap(), bits)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(e)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid IP address %q: want a CIDR or an IP address", e)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid IP address %q: zones are not allowed", e)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// contains reports whether ip (unmapped, without zone) is in one of ps.
func contains(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
