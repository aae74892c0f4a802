package api

import (
	"time"

	"github.com/loginguard/loginguard/event"
)

// User statuses (User.Status).
const (
	StatusActive    = "ACTIVE"     // the last successful login is newer than the last logout
	StatusLoggedOut = "LOGGED_OUT" // no session is open
	// StatusNeverLoggedIn: the user has failed attempts on record but no successful login.
	StatusNeverLoggedIn = "NEVER_LOGGED_IN"
	StatusLocked        = "LOCKED" // the account is locked now
)

// User is one user of GET /api/v1/users (a Page of them, most recently active
// first): the login log's summary of one identity, merged with the lockout
// state of its account (the lower-cased identity). Times are UTC, null when
// the identity has no such event.
type User struct {
	// Identity ("identity") is the principal, else the email, as the events
	// name it.
	Identity string `json:"identity"`
	// Source ("source") is API_MANAGER or API_PORTAL, from the newest event.
	Source event.Source `json:"source"`
	// DisplayName ("displayName") is the newest display name; left out when
	// there is none.
	DisplayName string `json:"displayName,omitempty"`
	// Status ("status") is StatusLocked, StatusActive or StatusLoggedOut.
	Status string `json:"status"`
	// LastSeen ("lastSeen") is the date of the identity's newest event of any
	// type.
	LastSeen *time.Time `json:"lastSeen"`
	// LastLogin ("lastLogin") is the date of the newest LOGIN_SUCCESS.
	LastLogin *time.Time `json:"lastLogin"`
	// LastLogout ("lastLogout") is the date of the newest LOGOUT.
	LastLogout *time.Time `json:"lastLogout"`
	// LastFailure ("lastFailure") is the date of the newest LOGIN_FAILURE.
	LastFailure *time.Time `json:"lastFailure"`
	// LastIP ("lastIp") is the remote address of the newest event that has
	// one.
	LastIP string `json:"lastIp"`
	// FailuresSinceSuccess ("failuresSinceSuccess") counts the failed
	// attempts logged after the last success (a sampled refusal counts the
	// attempts it stands for, its event's "count").
	FailuresSinceSuccess int64 `json:"failuresSinceSuccess"`
	// SessionActive ("sessionActive") is true when the last successful login
	// is newer than the last logout, locked or not.
	SessionActive bool `json:"sessionActive"`
	// Locked ("locked") tells whether the account is locked now; null when
	// the lockout state is unknown (the handler has none, or it failed).
	Locked *bool `json:"locked"`
	// Permanent ("permanent") is true for a lock that holds until an admin
	// lifts it; left out when false.
	Permanent bool `json:"permanent,omitempty"`
	// LockedUntil ("lockedUntil") is when a temporary lock ends; left out
	// unless locked for a time.
	LockedUntil *time.Time `json:"lockedUntil,omitempty"`
	// Failures ("failures") counts the failures the lockout state holds in its
	// window; left out when the lockout state is unknown.
	Failures *int `json:"failures,omitempty"`
	// BreachedAttempts ("breachedAttempts") counts the identity's logged
	// attempts whose password is breached, successful or not;
	// BreachedSuccesses ("breachedSuccesses") the successful ones among them:
	// logins that worked with a password attackers know. Retention does not
	// lower them.
	BreachedAttempts  int64 `json:"breachedAttempts"`
	BreachedSuccesses int64 `json:"breachedSuccesses"`
}
