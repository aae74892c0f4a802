package state

import (
	"fmt"
	"slices"
	"strings"
)

// Bounds on what one account keeps about its prefixes, so that its state stays
// small whatever an attacker does: past them the oldest entries are dropped.
const (
	// MaxKnownPrefixes is the most known prefixes kept per account; a new one
	// drops the one that would expire first.
	MaxKnownPrefixes = 16
	// MaxPrefixCounters is the most (account, prefix) pairs kept per account; a
	// new one drops the unlocked pair whose last failure is oldest or, when
	// every pair is locked, the pair whose lock ends first.
	MaxPrefixCounters = 64
)

// PrefixLimit is the failure limit of an (account, prefix) pair under p:
// PerPrefixMaxFailures, or MaxFailures (at least 1) when only known prefixes are
// on, or 0 when pairs are not counted at all.
func PrefixLimit(p Policy) int {
	switch {
	case p.PerPrefixMaxFailures > 0:
		return p.PerPrefixMaxFailures
	case p.KnownPrefixTTL > 0:
		return max(p.MaxFailures, 1)
	}
	return 0
}

// CanonicalPrefix returns the canonical form of an Attempt's Prefix (see
// ParseIPRange): "" stays "", anything that is not an address or a CIDR prefix
// is an error.
func CanonicalPrefix(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	p, err := ParseIPRange(s)
	if err != nil {
		return "", fmt.Errorf("attempt prefix: %w", err)
	}
	if c := p.String(); c != s {
		return c, nil
	}
	return s, nil
}

// SortStatus puts the prefix lists of st in the documented order: by Prefix.
// Stores call it before they return a status.
func SortStatus(st *AccountStatus) {
	slices.SortFunc(st.Prefixes, func(a, b PrefixStatus) int { return strings.Compare(a.Prefix, b.Prefix) })
	slices.SortFunc(st.KnownPrefixes, func(a, b KnownPrefix) int { return strings.Compare(a.Prefix, b.Prefix) })
}
