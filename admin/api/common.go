package api

// Page is one page of a list: the paging envelope of GET /api/v1/login-logs
// and GET /api/v1/users, in the JSON shape of Spring Data's Page.
type Page[T any] struct {
	// Content ("content") holds the page's items; an empty page has [], never
	// null.
	Content []T `json:"content"`
	// Number ("number") is the page's number, from 0.
	Number int `json:"number"`
	// Size ("size") is the page size asked for (default 20, at most 1000).
	Size int `json:"size"`
	// TotalElements ("totalElements") counts the items of every page.
	TotalElements int64 `json:"totalElements"`
	// TotalPages ("totalPages") is the number of pages of Size items.
	TotalPages int64 `json:"totalPages"`
	// First ("first") is true on page 0.
	First bool `json:"first"`
	// Last ("last") is true on the last page, and past it.
	Last bool `json:"last"`
	// NumberOfElements ("numberOfElements") is len(Content).
	NumberOfElements int `json:"numberOfElements"`
	// Empty ("empty") is true when Content is empty.
	Empty bool `json:"empty"`
}

// ErrorBody is the one shape of every error answer, on every path: the shape
// of the errors of Unleash's admin API.
type ErrorBody struct {
	// ID ("id") is a UUID that names this error in the server's log.
	ID string `json:"id"`
	// Name ("name") is the kind of error: one of the Name constants.
	Name string `json:"name"`
	// Message ("message") says what went wrong for people; a 400's message
	// begins with the parameter at fault and a colon ("from: invalid date").
	Message string `json:"message"`
}

// Names of errors (ErrorBody.Name) and the statuses they come with.
const (
	NameAuthenticationRequired = "AuthenticationRequired"  // 401: no token, or not a valid one
	NameNoAccess               = "NoAccess"                // 403: the token's scope is too narrow
	NameBadRequest             = "BadRequestError"         // 400: a bad parameter or body
	NameNotFound               = "NotFoundError"           // 404: no such path, event or block
	NameConflict               = "ConflictError"           // 409: the pseudonym is taken
	NameMethodNotAllowed       = "MethodNotAllowedError"   // 405, with an Allow header
	NameNotImplemented         = "NotImplementedError"     // 501: the handler has no lockout state
	NameServiceUnavailable     = "ServiceUnavailableError" // 503: the lockout state store is down
	NameInternal               = "InternalError"           // 500: see the server log under the ID
)

// Whoami is the answer of GET /api/v1/whoami: the request's token, so that the
// console shows admin actions to admin tokens only (the server enforces the
// scopes either way).
type Whoami struct {
	// Scope ("scope") is "read" or "admin".
	Scope string `json:"scope"`
	// Name ("name") names the token as audit events do.
	Name string `json:"name"`
}
