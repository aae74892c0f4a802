// Package state holds the counters behind lockout: failures per account, locks,
// in-flight attempt slots, and the sessions behind cookie hashes that logout
// needs and the gateway follows until they end. Store is the
// interface; NewMemory is the embedded implementation and the Redis one lives in
// state/redisstate. Every implementation runs the suite in state/statetest.
//
// Times are the Store's clock (Options.Now); key expiry is only garbage
// collection, never the source of truth, so the suite can drive time by hand.
package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Policy parameterises the lockout of one account. The caller fills defaults.
type Policy struct {
	// MaxFailures counted failures within Window lock the account.
	MaxFailures int
	// Window is how far back counted failures are remembered.
	Window time.Duration
	// LockDuration is how long the first lock lasts. Zero means permanent: until an
	// admin unlocks the account.
	LockDuration time.Duration
	// Backoff doubles the lock duration for each new lock while earlier locks are
	// remembered (LockMemory), capped at MaxLockDuration.
	Backoff bool
	// MaxLockDuration caps a doubled lock; zero means no cap.
	MaxLockDuration time.Duration
	// LockMemory is how long the number of earlier locks (the backoff level) is
	// remembered after the last lock ends.
	LockMemory time.Duration
	// SlotTTL is how long an in-flight slot lives when its attempt never finishes
	// (a crashed instance, a hung upstream).
	SlotTTL time.Duration
	// PerPrefixMaxFailures, when positive, also counts failures per (account, IP
	// prefix): that many counted failures from one prefix within Window lock
	// that pair only (for LockDuration, without backoff; permanent when
	// LockDuration is zero), while MaxFailures becomes the ceiling that locks
	// the account for every prefix. Zero turns per-prefix counting off.
	PerPrefixMaxFailures int
	// KnownPrefixTTL, when positive, remembers for that long each prefix from
	// which the account logged in successfully; an attempt from a known prefix
	// is admitted while the account is locked by failures (or its slots are
	// full), subject only to the limit of its own pair. An admin lock applies to
	// known prefixes too. Zero turns known prefixes off. With
	// PerPrefixMaxFailures zero, the pair limit is MaxFailures.
	KnownPrefixTTL time.Duration
}

// Attempt names what an attempt is counted against.
type Attempt struct {
	// Account is the account the attempt logs in to.
	Account string
	// Prefix is the client IP's prefix, e.g. "203.0.113.0/24" or
	// "2001:db8:1:2::/64" (an address counts as its /32 or /128; host bits are
	// ignored); "" for none, which counts against the account only. Anything
	// else is an error.
	Prefix string
}

// Admission is the answer to Admit.
type Admission struct {
	// Allowed: a slot was taken; forward the attempt and call Finish with Slot.
	Allowed bool
	// Slot identifies the taken slot.
	Slot string
	// Locked: the account (or, with PrefixLocked, the pair) is locked; refuse
	// the attempt.
	Locked bool
	// LockedUntil is when the lock ends; zero for a permanent lock.
	LockedUntil time.Time
	// Failures counted in the window before this attempt.
	Failures int
	// InFlight attempts, not counting this one.
	InFlight int
	// PrefixLocked: Locked is the lock of the (account, prefix) pair only; other
	// prefixes may still get in.
	PrefixLocked bool
	// PrefixFailures counted from the attempt's prefix in the window before this
	// attempt (0 when per-prefix counting is off or Prefix is "").
	PrefixFailures int
	// PrefixInFlight attempts from the attempt's prefix, not counting this one.
	PrefixInFlight int
	// KnownPrefix: the account logged in successfully from this prefix within
	// KnownPrefixTTL, so an automatic lock of the account does not refuse it.
	KnownPrefix bool
}

// Busy reports that the account is not locked but every slot under its limit is
// taken by attempts still in flight: the caller may wait and try again.
func (a Admission) Busy() bool { return !a.Allowed && !a.Locked }

// Outcome is what the portal said about an admitted attempt.
type Outcome int

// Outcomes.
const (
	// Uncounted failures (or unknown outcomes) only release the slot.
	Uncounted Outcome = iota
	// Success releases the slot and resets the failure count.
	Success
	// CountedFailure releases the slot and counts a failure.
	CountedFailure
)

// Result is the answer to Finish.
type Result struct {
	// Failures counted in the window after this outcome (0 after a success).
	Failures int
	// Locked: the account is locked now.
	Locked bool
	// NewlyLocked: this outcome locked it.
	NewlyLocked bool
	// LockedUntil is when the lock ends; zero for a permanent lock.
	LockedUntil time.Time
	// PrefixFailures counted from the attempt's prefix after this outcome.
	PrefixFailures int
	// PrefixLocked: the (account, prefix) pair is locked now.
	PrefixLocked bool
	// PrefixNewlyLocked: this outcome locked the pair.
	PrefixNewlyLocked bool
	// PrefixLockedUntil is when the pair's lock ends; zero for a permanent lock.
	PrefixLockedUntil time.Time
}

// Session is what a login left behind, behind the hash of the session cookie
// the portal set: for its logout to find, and for the gateway to follow the
// session until it ends (TouchSession, EndSession, ExpiredSessions).
type Session struct {
	Account   string `json:"account"`
	Source    string `json:"source"`
	Principal string `json:"principal"`
	PortalID  string `json:"portalId,omitempty"`
	// LoginAt is when the session started. PutSession fills in the store's
	// clock when it is zero; it is zero only for a session stored by a version
	// before sessions were tracked.
	LoginAt time.Time `json:"loginAt,omitzero"`
	// Prefix is the client IP prefix the session logged in from, as the caller
	// computed it (e.g. "203.0.113.0/24"); the store keeps it as given.
	Prefix string `json:"prefix,omitempty"`
	// ASN is the autonomous system the session logged in from; 0 if unknown.
	ASN uint32 `json:"asn,omitempty"`
	// Method is how the session logged in (the login route's entry method, a
	// short name the caller chooses: "form", "json", "basic", ...).
	Method string `json:"method,omitempty"`
	// LastSeen is when a request last carried the session's cookie, as
	// TouchSession records it (at most once per its every); PutSession fills in
	// LoginAt when it is zero.
	LastSeen time.Time `json:"lastSeen,omitzero"`
	// Status is "" while the session is live; once it ended, how it ended: one
	// of the Session* statuses or the caller's own (see EndSession).
	Status string `json:"status,omitempty"`
	// EndedAt is when the session ended; zero while it is live.
	EndedAt time.Time `json:"endedAt,omitzero"`
}

// Ended reports whether s is the record of an ended session (a tombstone):
// Session, TouchSession and EndSession return one, with found false, for a
// cookie whose session ended.
func (s Session) Ended() bool { return s.Status != "" }

// How sessions end: the statuses of EndSession and ExpiredSessions. A live
// session's Status is "". (A cookie that finds no live session, unknown or
// ended, is what a portal calls an invalid user session: the caller's event,
// not a stored status.)
const (
	// SessionCompleted: the user logged out (TakeSession ends with it).
	SessionCompleted = "completed"
	// SessionIdleTimeout: no request carried the cookie for the idle timeout
	// (ExpiredSessions).
	SessionIdleTimeout = "idle_timeout"
	// SessionAbsoluteTimeout: the session reached its longest life
	// (ExpiredSessions).
	SessionAbsoluteTimeout = "absolute_timeout"
	// SessionNewLogin: the account logged in again where only one session per
	// account is allowed (see AccountSessions).
	SessionNewLogin = "new_login"
	// SessionIPConflict: the cookie came from another network than the one the
	// session logged in from.
	SessionIPConflict = "ip_conflict"
)

// CheckSessionStatus returns an error unless status can end a session: 1 to 64
// ASCII letters, digits, '_', '-' or '.'.
func CheckSessionStatus(status string) error {
	if status == "" || len(status) > 64 {
		return fmt.Errorf("session status %q: want 1 to 64 characters", status)
	}
	for _, c := range []byte(status) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("session status %q: only ASCII letters, digits, '_', '-' and '.'", status)
		}
	}
	return nil
}

// EndedSession is a session that ExpiredSessions ended: Status says how
// (SessionIdleTimeout or SessionAbsoluteTimeout) and EndedAt when.
type EndedSession struct {
	// Hash is the session's cookie hash.
	Hash string
	Session
}

// AccountStatus is one account's state, for the admin operations.
type AccountStatus struct {
	Account     string    `json:"account"`
	Failures    int       `json:"failures"`
	InFlight    int       `json:"inFlight"`
	Locked      bool      `json:"locked"`
	Permanent   bool      `json:"permanent"`
	LockedUntil time.Time `json:"lockedUntil,omitzero"`
	LockLevel   int       `json:"lockLevel"`
	// AdminLock: the lock is an admin's (Lock), which known prefixes do not pass.
	AdminLock bool `json:"adminLock,omitempty"`
	// Prefixes are the (account, prefix) pairs that hold failures or a lock,
	// sorted by Prefix (as strings).
	Prefixes []PrefixStatus `json:"prefixes,omitempty"`
	// KnownPrefixes are the prefixes the account logged in from, sorted by Prefix.
	KnownPrefixes []KnownPrefix `json:"knownPrefixes,omitempty"`
}

// PrefixStatus is the state of one (account, prefix) pair.
type PrefixStatus struct {
	Prefix      string    `json:"prefix"`
	Failures    int       `json:"failures"`
	InFlight    int       `json:"inFlight"`
	Locked      bool      `json:"locked"`
	Permanent   bool      `json:"permanent"`
	LockedUntil time.Time `json:"lockedUntil,omitzero"`
}

// KnownPrefix is a prefix an account logged in from, known until Until.
type KnownPrefix struct {
	Prefix string    `json:"prefix"`
	Until  time.Time `json:"until"`
}

// EndedLock is an account lock whose time ran out.
type EndedLock struct {
	Account string
	// Until is when the lock ended.
	Until time.Time
}

// AsyncFinisher is implemented by a Store whose Finish waits on the network.
// FinishAsync records an outcome as Finish does but returns at once, for a
// caller that has no use for the Result: done gets the error (nil when the
// outcome was recorded) and must not block. The call is ordered after the
// calls the same goroutine made before it, and Close waits for it.
type AsyncFinisher interface {
	FinishAsync(ctx context.Context, a Attempt, slot string, o Outcome, p Policy, done func(error))
}

// Store keeps the lockout state. Implementations are safe for concurrent use, and
// every method is one atomic step: no interleaving of calls for the same account
// can let more than MaxFailures counted failures through in a window (nor, with
// PerPrefixMaxFailures, more than that many from one prefix; known prefixes pass
// the account's limit, not their pair's).
type Store interface {
	// Admit decides whether an attempt may be forwarded and, if so, takes an
	// in-flight slot: failures plus in-flight attempts never exceed MaxFailures
	// for the account (unless the prefix is known) nor the pair limit for the
	// (account, prefix) pair.
	Admit(ctx context.Context, a Attempt, p Policy) (Admission, error)
	// Finish releases slot and records the outcome against the account and the
	// pair; a Success also makes the prefix known. A slot that expired or is
	// unknown is not an error: the outcome is still recorded.
	Finish(ctx context.Context, a Attempt, slot string, o Outcome, p Policy) (Result, error)

	// PutSession remembers the session behind a cookie hash for ttl, as a live
	// session: it replaces whatever the hash held, a live or an ended session.
	// A zero LoginAt becomes the store's clock, a zero LastSeen LoginAt; Status
	// and EndedAt are ignored. A ttl that is not positive only forgets what the
	// hash held, live or ended, and leaves no trace. A session whose ttl runs
	// out is forgotten without an end: neither looked up nor reported by
	// ExpiredSessions, so put sessions for longer than the absolute timeout.
	PutSession(ctx context.Context, hash string, s Session, ttl time.Duration) error
	// TakeSession is the logout: it ends the live session behind a cookie hash
	// with SessionCompleted, as EndSession does at the store's clock, and
	// returns it; found is false, with a zero Session, when the hash has no
	// live session (unknown, or ended before).
	TakeSession(ctx context.Context, hash string) (Session, bool, error)
	// Session returns the session behind a cookie hash without changing it
	// (the user's own sign-ins page asks whose cookie it is). found is true
	// for a live session only. For a hash whose session ended it returns the
	// tombstone (Ended true: Status and EndedAt say how and when) with found
	// false; for an unknown hash, a zero Session and false. Either way the
	// cookie is what a portal calls an invalid user session.
	Session(ctx context.Context, hash string) (Session, bool, error)
	// TouchSession is Session for a request that carries a tracked cookie: it
	// also records now as the live session's LastSeen, but only when the
	// stored LastSeen is at least every older than now (never backwards), so
	// that a busy session costs a read per request and a write per every. It
	// returns the session as stored after the call, and answers ended and
	// unknown hashes as Session does. A zero now is the store's clock.
	TouchSession(ctx context.Context, hash string, now time.Time, every time.Duration) (Session, bool, error)
	// EndSession ends the live session behind a cookie hash with status (see
	// CheckSessionStatus; a bad one is an error) at time at (zero: the
	// store's clock) and keeps its tombstone for the session's ttl, counted
	// from the store's clock, so that Session and TouchSession can tell the
	// ended cookie from an unknown one. It returns the tombstone and true when
	// this call ended the session; when the session had ended before, the
	// earlier tombstone and false; for an unknown hash, a zero Session and
	// false. Each session ends once: of concurrent ends (EndSession,
	// TakeSession, ExpiredSessions, on any instance sharing the state) exactly
	// one reports it.
	EndSession(ctx context.Context, hash, status string, at time.Time) (Session, bool, error)
	// ExpiredSessions ends the live sessions whose LastSeen is idle or more
	// before now (SessionIdleTimeout, ended at LastSeen+idle) or whose LoginAt
	// is absolute or more before now (SessionAbsoluteTimeout, ended at
	// LoginAt+absolute), whichever came first (absolute on a tie), and returns
	// them, oldest end first; a duration that is not positive turns its
	// timeout off, and a zero now is the store's clock. Each end is returned
	// once, however many callers share the state, and leaves a tombstone as
	// EndSession does. A store may return a bounded batch per call and the
	// rest on the next calls; a call when nothing expired is cheap.
	ExpiredSessions(ctx context.Context, now time.Time, idle, absolute time.Duration) ([]EndedSession, error)
	// AccountSessions returns the cookie hashes of account's live sessions,
	// oldest LoginAt first (then by hash), for a gateway that allows one
	// session per account to end the older ones (SessionNewLogin).
	AccountSessions(ctx context.Context, account string) ([]string, error)

	// PutAlias records for ttl that name is another spelling of account (an
	// email of a username, say), learned from the portal's answers; a ttl
	// that is not positive forgets it.
	PutAlias(ctx context.Context, name, account string, ttl time.Duration) error
	// Alias returns the account that name was recorded as a spelling of.
	Alias(ctx context.Context, name string) (account string, ok bool, err error)

	// Lock locks account for d; d <= 0 locks it until Unlock.
	Lock(ctx context.Context, account string, d time.Duration) error
	// Unlock lifts a lock and the locks of its pairs, and clears the failure
	// counts and backoff level (not the known prefixes); it reports whether the
	// account itself was locked.
	Unlock(ctx context.Context, account string) (bool, error)
	// Reset clears the failure counts of the account and its pairs (not a lock).
	Reset(ctx context.Context, account string) error
	// Status returns one account's state (zero counts for an unknown account).
	Status(ctx context.Context, account string) (AccountStatus, error)
	// LockedAccounts lists the accounts locked now, in account order.
	LockedAccounts(ctx context.Context) ([]AccountStatus, error)
	// EndedLocks returns the account locks (automatic or an admin's) whose
	// time ran out and that it has not returned before, oldest end first, and
	// forgets them: each end is returned once, however many callers share the
	// state. A lock that Unlock lifted or another lock replaced before its end
	// does not appear, nor does a permanent one; locks of (account, prefix)
	// pairs are not reported.
	EndedLocks(ctx context.Context) ([]EndedLock, error)

	// Block blocks an IP range (an address or CIDR prefix, see ParseIPRange)
	// for d; d <= 0 blocks it until Unblock. It replaces an earlier block of the
	// same range. Blocks are only stored and listed here: enforcing them is the
	// caller's business.
	Block(ctx context.Context, cidr string, d time.Duration) error
	// Unblock lifts the block of exactly that range; it reports whether the
	// range was blocked.
	Unblock(ctx context.Context, cidr string) (bool, error)
	// BlockedIPs lists the blocks in force now, in address order (netip.Prefix
	// order).
	BlockedIPs(ctx context.Context) ([]IPBlock, error)

	// Close releases the store's resources.
	Close() error
}

// Options configure a store.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Clock returns o.Now, or time.Now when it is nil.
func (o Options) Clock() func() time.Time {
	if o.Now == nil {
		return time.Now
	}
	return o.Now
}

// ErrUnavailable wraps errors of a store that cannot be reached.
var ErrUnavailable = errors.New("state store unavailable")
