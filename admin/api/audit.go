package api

// AuditLogPage is the answer of GET /api/v1/audit-logs, the audit-log API's
// view of the login log: its login, failed-login and logout events as audit
// log entries, one page of them, in that API's page envelope (Spring Data's
// Page with its pageable, without the top-level sort). Every field is
// always present.
type AuditLogPage struct {
	// Content ("content") holds the page's entries; [] when none.
	Content []AuditLog `json:"content"`
	// Pageable ("pageable") is the page asked for.
	Pageable Pageable `json:"pageable"`
	// TotalPages ("totalPages") is the number of pages of Size entries.
	TotalPages int64 `json:"totalPages"`
	// TotalElements ("totalElements") counts the entries of every page.
	TotalElements int64 `json:"totalElements"`
	// Last ("last") is true on the last page, and past it.
	Last bool `json:"last"`
	// First ("first") is true on page 0.
	First bool `json:"first"`
	// Size ("size") is the page size asked for (default 20, at most 100).
	Size int `json:"size"`
	// Number ("number") is the page's number, from 0.
	Number int `json:"number"`
	// NumberOfElements ("numberOfElements") is len(Content).
	NumberOfElements int `json:"numberOfElements"`
	// Empty ("empty") is true when Content is empty.
	Empty bool `json:"empty"`
}

// Pageable is the page an AuditLogPage answers.
type Pageable struct {
	// PageNumber ("pageNumber") is the page's number, from 0.
	PageNumber int `json:"pageNumber"`
	// PageSize ("pageSize") is the page size.
	PageSize int `json:"pageSize"`
	// Sort ("sort"): entries are always sorted (by timestamp).
	Sort PageSort `json:"sort"`
	// Offset ("offset") is the first entry's place in the whole list:
	// PageNumber * PageSize.
	Offset int64 `json:"offset"`
	// Paged ("paged") is always true, Unpaged ("unpaged") always false.
	Paged   bool `json:"paged"`
	Unpaged bool `json:"unpaged"`
}

// PageSort is a Pageable's sort: always sorted, so Sorted ("sorted") is
// true and Unsorted ("unsorted") and Empty ("empty") false.
type PageSort struct {
	Sorted   bool `json:"sorted"`
	Unsorted bool `json:"unsorted"`
	Empty    bool `json:"empty"`
}

// Audit event types (AuditLog.EventType), the audit-log API's names. The login
// log holds the first three: USER_LOGIN is a LOGIN_SUCCESS event,
// USER_LOGIN_FAILED a LOGIN_FAILURE, USER_LOGOUT a LOGOUT. The others are
// accepted as filters and match nothing, since no login route records them.
const (
	AuditUserLogin           = "USER_LOGIN"
	AuditUserLoginFailed     = "USER_LOGIN_FAILED"
	AuditUserLogout          = "USER_LOGOUT"
	AuditUserPasswordChanged = "USER_PASSWORD_CHANGED"
	AuditUserPasswordReset   = "USER_PASSWORD_RESET"
	AuditUserMFAEnabled      = "USER_MFA_ENABLED"
	AuditUserMFADisabled     = "USER_MFA_DISABLED"
	AuditUserCreated         = "USER_CREATED"
	AuditUserDeleted         = "USER_DELETED"
)

// AuditLog is one entry of an AuditLogPage: one login event. Nullable fields
// are null, never left out.
type AuditLog struct {
	// ID ("id") is the event's id (a UUID for the events loginguard makes).
	ID string `json:"id"`
	// EventType ("eventType") is one of the Audit* types.
	EventType string `json:"eventType"`
	// UserID ("userId") is the account the attempt was for: the account id
	// the portal revealed (the event's accountId) when there is one, else
	// the principal (the username of a manager route); null when neither is
	// known, e.g. a failed portal login by email.
	UserID *string `json:"userId"`
	// UserEmail ("userEmail") is the email (portal routes), lower-cased.
	UserEmail *string `json:"userEmail"`
	// UserName ("userName") is the display name, when the portal's answer
	// gave one.
	UserName *string `json:"userName"`
	// OrganizationID ("organizationId") is the portal's id (the event's
	// portalId); null for manager routes.
	OrganizationID *string `json:"organizationId"`
	// Timestamp ("timestamp") is the event's date, RFC 3339 in UTC (ISO
	// 8601), with the fraction of the second when it has one.
	Timestamp string `json:"timestamp"`
	// IPAddress ("ipAddress") is the client's address; null when unknown.
	IPAddress *string `json:"ipAddress"`
	// Metadata ("metadata") is the attempt's context.
	Metadata AuditMetadata `json:"metadata"`
}

// AuditMetadata is an AuditLog's context; but for userAgent, which both of
// the audit-log API's examples have, fields that are not known are left out.
type AuditMetadata struct {
	// UserAgent ("userAgent") is the client's User-Agent; "" when unknown.
	UserAgent string `json:"userAgent"`
	// Success ("success") tells whether the login succeeded: true for
	// USER_LOGIN, false for USER_LOGIN_FAILED; left out for USER_LOGOUT.
	Success *bool `json:"success,omitempty"`
	// MFAUsed ("mfaUsed") is true when the portal asked for a second factor
	// (the reasons MFA_REQUIRED and MFA_FAILED); left out otherwise, as the
	// login log does not know whether a successful login used one.
	MFAUsed *bool `json:"mfaUsed,omitempty"`
	// Location ("location") is where the client's address is, "City,
	// Region, CC" with the parts known (event.Geo.Place).
	Location string `json:"location,omitempty"`
	// Reason ("reason") is why a login failed, in words ("Invalid
	// password"); failures only.
	Reason string `json:"reason,omitempty"`
	// Attempts ("attempts") is the account's failed attempts counted with
	// this one (the event's failureCount; 0 when the failure was not
	// counted against an account, e.g. an unknown one); failures only.
	Attempts *int `json:"attempts,omitempty"`
}
