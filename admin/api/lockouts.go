package api

import "github.com/loginguard/loginguard/state"

// Lockouts is the answer of GET /api/v1/lockouts: what is locked and blocked
// now. Both lists are [] when empty.
type Lockouts struct {
	// Accounts ("accounts") are the locked accounts, by account; each is a
	// state.AccountStatus ({account, failures, inFlight, locked, permanent,
	// lockedUntil, lockLevel, adminLock, prefixes, knownPrefixes}).
	Accounts []state.AccountStatus `json:"accounts"`
	// IPs ("ips") are the blocks in force, each a state.IPBlock ({cidr,
	// permanent, until}).
	IPs []state.IPBlock `json:"ips"`
}

// LockRequest is the body of POST /api/v1/lockouts/accounts. The answer is the
// account's state.AccountStatus after the lock.
type LockRequest struct {
	// Principal ("principal") is the account to lock, in any case. Required.
	Principal string `json:"principal"`
	// Duration ("duration") is a duration ("15m", "2h", "7d") or "permanent";
	// empty or left out: 15m.
	Duration string `json:"duration,omitempty"`
}

// UnlockResult is the answer of DELETE /api/v1/lockouts/accounts/{principal}.
type UnlockResult struct {
	// Account ("account") is the account, lower-cased.
	Account string `json:"account"`
	// WasLocked ("wasLocked") tells whether the account was locked; either
	// way its failures were cleared.
	WasLocked bool `json:"wasLocked"`
}

// BlockRequest is the body of POST /api/v1/lockouts/ips: IP or CIDR, not both.
// The answer is the block's state.IPBlock as GET /api/v1/lockouts lists it.
type BlockRequest struct {
	// IP ("ip") is one address to block.
	IP string `json:"ip,omitempty"`
	// CIDR ("cidr") is a range to block, e.g. "203.0.113.0/24".
	CIDR string `json:"cidr,omitempty"`
	// Duration ("duration") is a duration ("15m", "2h", "7d") or "permanent";
	// empty or left out: 15m.
	Duration string `json:"duration,omitempty"`
	// Force ("force") blocks a range wider than the API's limit (by default
	// /16 for IPv4, /48 for IPv6) or one that covers the caller's own address.
	Force bool `json:"force,omitempty"`
}

// UnblockResult is the answer of DELETE /api/v1/lockouts/ips/{ip}; a range
// that is not blocked is a 404 instead.
type UnblockResult struct {
	// CIDR ("cidr") is the range, in canonical form ("198.51.100.7/32").
	CIDR string `json:"cidr"`
	// Unblocked ("unblocked") is always true.
	Unblocked bool `json:"unblocked"`
}
