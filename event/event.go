// Package event defines the login event: the JSON object loginguard emits once per
// login attempt, logout, lock and unlock. Field names follow the login-log connector
// event exactly (the JSON a login-log connector sends); the extensions are added fields, never renamed ones.
package event

import (
	"strconv"
	"time"
	"unicode/utf8"

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
	// Alert is an alert rule's firing (package alerts); its message names the
	// rule, the subject and the counts.
	Alert Type = "ALERT"
	// IPBlocked and IPUnblocked are an admin's block and unblock of an IP
	// range; the range is in the message, the admin's address in
	// remoteAddress.
	IPBlocked   Type = "IP_BLOCKED"
	IPUnblocked Type = "IP_UNBLOCKED"
	// The account steps that set a password, each a success and a failure,
	// named as in the audit-log API (USER_LOGIN_FAILED's style for the
	// failures): a registration, a password change and a reset's new
	// password.
	UserCreated          Type = "USER_CREATED"
	UserCreateFailed     Type = "USER_CREATE_FAILED"
	PasswordChanged      Type = "USER_PASSWORD_CHANGED"
	PasswordChangeFailed Type = "USER_PASSWORD_CHANGE_FAILED"
	PasswordReset        Type = "USER_PASSWORD_RESET"
	PasswordResetFailed  Type = "USER_PASSWORD_RESET_FAILED"

	// Sessions followed to their end (the loginguard_sessions handler): a
	// request whose session cookie has no live session (unknown, or ended:
	// an invalid user session), a live session's cookie used from another
	// network than the login's, and a session's end (sessionStatus says
	// how: idle_timeout, absolute_timeout, new_login, ip_conflict).
	SessionInvalid    Type = "SESSION_INVALID"
	SessionIPConflict Type = "SESSION_IP_CONFLICT"
	SessionEnded      Type = "SESSION_ENDED"
	// The second factor: a one-time code's check after a password (its
	// success carries MFAUsed), an enrolment and a removal of a second
	// factor (the audit-log API's names for their successes), and a request
	// for a password reset.
	MFASuccess                 Type = "MFA_SUCCESS"
	MFAFailure                 Type = "MFA_FAILURE"
	UserMFAEnabled             Type = "USER_MFA_ENABLED"
	UserMFAEnableFailed        Type = "USER_MFA_ENABLE_FAILED"
	UserMFADisabled            Type = "USER_MFA_DISABLED"
	UserMFADisableFailed       Type = "USER_MFA_DISABLE_FAILED"
	PasswordResetRequested     Type = "USER_PASSWORD_RESET_REQUESTED"
	PasswordResetRequestFailed Type = "USER_PASSWORD_RESET_REQUEST_FAILED"
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
	// AmbiguousPrincipal: the request could be read as naming more than one
	// account (a repeated field, an array, the query string beside the body…).
	AmbiguousPrincipal Reason = "AMBIGUOUS_PRINCIPAL"
	// MissingPrincipal: no principal could be read from the request (no field,
	// a body over the read limit, an unreadable encoding or content type).
	MissingPrincipal Reason = "MISSING_PRINCIPAL"
	// BreachedPassword: refused by the gateway because the attempt's password
	// is in a set of breached passwords and the route refuses those. Such an
	// event also carries PasswordBreached.
	BreachedPassword Reason = "BREACHED_PASSWORD"
)

// Reasons lists every reason in a stable order.
var Reasons = []Reason{
	BadCredentials, AccountNotFound, Disabled, WaitingForApprovement, ConfirmationNeeded,
	Rejected, NotApproved, MFARequired, MFAFailed, Locked, RateLimited, UpstreamError, Unknown,
	// Stores keep a reason as its place in this list: new reasons go at the end.
	AmbiguousPrincipal, MissingPrincipal, BreachedPassword,
}

// NumReasons is len(Reasons), as a constant: the size of an array indexed by
// a reason's place in Reasons.
const NumReasons = 16

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
// marshal as JSON null, as in the connector event.
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
	// Count is the number of login attempts the event stands for, when more
	// than one: a sampled refusal (reason RATE_LIMITED or LOCKED, see
	// Attempts) is stored once per key and sample interval for itself and
	// the refusals suppressed since the previous event of its key, which its
	// message also words as "(N more refused ...)"; its Count is 1+N. 0 and 1
	// both mean one attempt and are not written.
	Count     int    `json:"count,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
	Host      string `json:"host,omitempty"`
	Path      string `json:"path,omitempty"`
	TraceID   string `json:"traceId,omitempty"`
	// SentAs is the principal as the request spelled it, when that differs from
	// the account it was counted against (principal or email): another case, an
	// accent, an alias such as the email of a username.
	SentAs string `json:"sentAs,omitempty"`
	// Candidates are the principals an ambiguous request named (reason
	// AMBIGUOUS_PRINCIPAL), each counted against.
	Candidates []string `json:"candidates,omitempty"`
	// WouldRefuse is set on a refusal that a route in monitor mode did not
	// make: the reason enforce mode would have refused with; the attempt
	// went to the portal.
	WouldRefuse Reason `json:"wouldRefuse,omitempty"`
	// PasswordBreached is set when the attempt's password is in a set of
	// breached passwords (a successful login with one as well as a failed or
	// refused attempt); false is not written.
	PasswordBreached bool `json:"passwordBreached,omitempty"`
	// Geo is where the remote address is, from GeoIP databases (package
	// enrich); its fields are absent when unknown.
	Geo
	// Device is what the user agent says the client is (package enrich).
	Device
	// Seq is the log store's sequence number of the event: an integer >= 1,
	// unique in the store and higher for a newer event. Only events read back
	// from a store have one; zero is not written.
	Seq int64 `json:"seq,omitempty"`

	// EntryMethod is the login route's entry method (web, api, mobile,
	// reset) on its LOGIN_SUCCESS and LOGIN_FAILURE events.
	EntryMethod string `json:"entryMethod,omitempty"`
	// SessionStatus is how a session ended (completed on a LOGOUT that
	// ended one; idle_timeout, absolute_timeout, new_login, ip_conflict on
	// SESSION_ENDED and SESSION_IP_CONFLICT), or on SESSION_INVALID why the
	// cookie is invalid: unknown, or the status its session ended with.
	SessionStatus string `json:"sessionStatus,omitempty"`
	// SessionID is a short hash of a session's cookie hash (never the
	// cookie), naming one session across its events.
	SessionID string `json:"sessionId,omitempty"`
	// MFAUsed is set on MFA_SUCCESS: the login passed a second factor
	// (a one-time code) after its password; false is not written.
	MFAUsed bool `json:"mfaUsed,omitempty"`
}

// DateLayout is the layout of eventDate: RFC 3339 in UTC with milliseconds.
const DateLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes the event with its fields in the connector event's order, eventDate in
// UTC with millisecond precision, and no HTML escaping (messages keep their "->").
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 512)), nil
}

// AppendJSON appends the event's JSON to b.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"source":`...)
	b = appendString(b, string(e.Source))
	b = append(b, `,"principal":`...)
	b = appendNullable(b, e.Principal)
	b = append(b, `,"email":`...)
	b = appendNullable(b, e.Email)
	b = append(b, `,"displayName":`...)
	b = appendNullable(b, e.DisplayName)
	b = append(b, `,"eventDate":"`...)
	b = e.EventDate.UTC().AppendFormat(b, DateLayout)
	b = append(b, `","eventType":`...)
	b = appendString(b, string(e.EventType))
	b = append(b, `,"remoteAddress":`...)
	b = appendString(b, e.RemoteAddress)
	b = append(b, `,"message":`...)
	b = appendNullable(b, e.Message)
	b = append(b, `,"errorType":`...)
	b = appendNullable(b, e.ErrorType)
	b = append(b, `,"portalId":`...)
	b = appendNullable(b, e.PortalID)
	b = append(b, `,"accountId":`...)
	b = appendNullable(b, e.AccountID)
	if e.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, string(e.Reason))
	}
	if e.FailureCount != 0 {
		b = append(b, `,"failureCount":`...)
		b = strconv.AppendInt(b, int64(e.FailureCount), 10)
	}
	if e.Count > 1 {
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(e.Count), 10)
	}
	for _, f := range [...]struct{ name, v string }{{`,"userAgent":`, e.UserAgent}, {`,"host":`, e.Host}, {`,"path":`, e.Path}, {`,"traceId":`, e.TraceID}} {
		if f.v != "" {
			b = append(b, f.name...)
			b = appendString(b, f.v)
		}
	}
	if e.SentAs != "" {
		b = append(b, `,"sentAs":`...)
		b = appendString(b, e.SentAs)
	}
	if len(e.Candidates) > 0 {
		b = append(b, `,"candidates":[`...)
		for i, c := range e.Candidates {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, c)
		}
		b = append(b, ']')
	}
	if e.WouldRefuse != "" {
		b = append(b, `,"wouldRefuse":`...)
		b = appendString(b, string(e.WouldRefuse))
	}
	if e.PasswordBreached {
		b = append(b, `,"passwordBreached":true`...)
	}
	b = e.Geo.appendJSON(b)
	b = e.Device.appendJSON(b)
	if e.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, e.Seq, 10)
	}
	for _, f := range [...]struct{ name, v string }{{`,"entryMethod":`, e.EntryMethod}, {`,"sessionStatus":`, e.SessionStatus}, {`,"sessionId":`, e.SessionID}} {
		if f.v != "" {
			b = append(b, f.name...)
			b = appendString(b, f.v)
		}
	}
	if e.MFAUsed {
		b = append(b, `,"mfaUsed":true`...)
	}
	return append(b, '}')
}

func appendNullable(b []byte, p *string) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return appendString(b, *p)
}

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped
// so that the line stays one line for every reader.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
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

// Attempts returns the number of login attempts the event stands for: Count
// when it is more than 1, else 1. Only LOGIN_SUCCESS and LOGIN_FAILURE
// events are attempts; for the others it says nothing.
func (e *Event) Attempts() int64 {
	if e.Count > 1 {
		return int64(e.Count)
	}
	return 1
}

// Identity returns the principal for manager events and the email for portal events:
// the name under which an account is counted, listed and unlocked.
func (e *Event) Identity() string {
	if e.Principal != nil {
		return *e.Principal
	}
	return Value(e.Email)
}
