// Package pwned checks passwords against Have I Been Pwned's Pwned Passwords
// set: offline, in a compact memory-mapped file made by Build (Filter), or
// online, through the k-anonymity range API (RangeClient). Both are Checkers.
//
// Everything here works on the SHA-1 sum of a password; nothing keeps a
// password. The package knows nothing of Caddy or HTTP requests: the caller
// hashes the password (policy.Passwords reads it from a login request) and
// decides what a breached password means.
package pwned

import (
	"context"
	"crypto/sha1"
)

// Result is the answer of a Checker.
type Result struct {
	// Breached: the password is in the set (for a Filter, possibly a false
	// positive at the file's rate).
	Breached bool
	// Count is how many times the set has seen the password, when known (the
	// range API); 0 otherwise.
	Count int
}

// Checker looks a password's SHA-1 sum up. An error means the answer is
// unknown (a network failure, a file being replaced): the Result is then
// not breached, and the caller decides whether to fail open (let the
// password through) and counts the error.
type Checker interface {
	Check(ctx context.Context, sum [20]byte) (Result, error)
}

// Sum is the SHA-1 sum of a password, as the set indexes it.
func Sum(password []byte) [20]byte { return sha1.Sum(password) }
