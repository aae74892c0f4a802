package api

// LoginHistory is the JSON answer of GET /api/admin/logins, Unleash's login
// history API: every login attempt (LOGIN_SUCCESS and LOGIN_FAILURE) that
// matches the login-log filters, newest first. The handler streams it; it
// has this shape and no other field.
type LoginHistory struct {
	// Events ("events") are the attempts, newest first; [] when none.
	Events []Login `json:"events"`
}

// Login is one attempt of LoginHistory, in the columns of Unleash's login
// history (its CSV has the same columns, in this order).
type Login struct {
	// ID ("id") is the login log's sequence number of the event
	// (event.Event.Seq): an integer >= 1, higher for a newer event. GET
	// /api/v1/login-logs/{id} finds the event by it.
	ID int64 `json:"id"`
	// Username ("username") is the event's identity: its principal, else its
	// email.
	Username string `json:"username"`
	// AuthType ("auth_type") is always "password".
	AuthType string `json:"auth_type"`
	// CreatedAt ("created_at") is the event's date, RFC 3339 in UTC with
	// milliseconds (event.DateLayout).
	CreatedAt string `json:"created_at"`
	// Successful ("successful") is true for LOGIN_SUCCESS.
	Successful bool `json:"successful"`
	// IP ("ip") is the client's address; null when unknown.
	IP *string `json:"ip"`
	// FailureReason ("failure_reason") is the failure's message, else its
	// reason; present only when the login was unsuccessful.
	FailureReason *string `json:"failure_reason,omitempty"`
}
