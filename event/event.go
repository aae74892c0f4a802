// Package event defines the login event: the JSON object loginguard emits once per
// login attempt, logout, lock and unlock. Field names follow the login-log connector
// event (seed 001) exactly; the extensions are added fields, never renamed ones.
package event

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Type is the eventType of an event.
type Type string

// Event types.
const (
	LoginSuccess    Type = "LOGIN_SUCCESS"
	LoginFailure    Type = "LOGIN_FAILURE"
	Logout          Type = "LOGOUT"
	AccountLocked   Type = "ACCOUNT_LOCKED"
	AccountUnlocked Type = "ACCOUNT_UNLOCKED"
)

// Source says which kind of login route produced an event.
type Source string

// Sources.
const (
	SourceManager Source = "API_MANAGER"
	SourcePortal  Source = "API_PORTAL"
)

// Reason classifies why a login failed (or why the gateway refused it).
type Reason string

// Reasons, as listed in DESIGN.md.
const (
	BadCredentials        Reason = "BAD_CREDENTIALS"
	AccountNotFound       Reason = "ACCOUNT_NOT_FOUND"
	Disabled              Reason = "DISABLED"
	WaitingForApprovement Reason = "WAITING_FOR_APPROVEMENT"
	ConfirmationNeeded    Reason = "CONFIRMATION_NEEDED"
	Rejected              Reason = "REJECTED"
	NotApproved           Reason = "NOT_APPROVED"
	MFARequired           Reason = "MFA_REQUIRED"
	MFAFailed             Reason = "MFA_FAILED"
	Locked                Reason = "LOCKED"
	RateLimited           Reason = "RATE_LIMITED"
	UpstreamError         Reason = "UPSTREAM_ERROR"
	Unknown               Reason = "UNKNOWN"
)

// Reasons lists every reason in a stable order.
var Reasons = []Reason{
	BadCredentials, AccountNotFound, Disabled, WaitingForApprovement, ConfirmationNeeded,
	Rejected, NotApproved, MFARequired, MFAFailed, Locked, RateLimited, UpstreamError, Unknown,
}

// ParseReason returns the reason named s (exact, upper case) and whether it is one.
func ParseReason(s string) (Reason, bool) {
	for _, r := range Reasons {
		if string(r) == s {
			return r, true
		}
	}
	return "", false
}

// Event is one login event. Nullable contract fields are pointers so that they
// marshal as JSON null, as in the seed.
type Event struct {
	ID            string    `json:"id"`
	Source        Source    `json:"source"`
	Principal     *string   `json:"principal"`
	Email         *string   `json:"email"`
	DisplayName   *string   `json:"displayName"`
	EventDate     time.Time `json:"eventDate"`
	EventType     Type      `json:"eventType"`
	RemoteAddress string    `json:"remoteAddress"`
	Message       *string   `json:"message"`
	ErrorType     *string   `json:"errorType"`
	PortalID      *string   `json:"portalId"`
	AccountID     *string   `json:"accountId"`

	// Extensions.
	Reason       Reason `json:"reason,omitempty"`
	FailureCount int    `json:"failureCount,omitempty"`
	UserAgent    string `json:"userAgent,omitempty"`
	Host         string `json:"host,omitempty"`
	Path         string `json:"path,omitempty"`
	TraceID      string `json:"traceId,omitempty"`
}

// DateLayout is the layout of eventDate: RFC 3339 in UTC with milliseconds.
const DateLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes eventDate in UTC with millisecond precision.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	return json.Marshal(struct {
		plain
		EventDate string `json:"eventDate"`
	}{plain(e), e.EventDate.UTC().Format(DateLayout)})
}

// NewID returns a unique, time-ordered event id (a UUIDv7).
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// uuid.NewV7 fails only when the system's random source does.
		return uuid.NewString()
	}
	return id.String()
}

// Str returns a pointer to s, or nil when s is empty.
func Str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Value returns *p, or "" when p is nil.
func Value(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Identity returns the principal for manager events and the email for portal events:
// the name under which an account is counted, listed and unlocked.
func (e *Event) Identity() string {
	if e.Principal != nil {
		return *e.Principal
	}
	return Value(e.Email)
}
