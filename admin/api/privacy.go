package api

// EraseRequest is the body of POST /api/v1/privacy/erase.
type EraseRequest struct {
	// Principal ("principal") is the identity to erase: a principal, or an
	// email in any case. Required.
	Principal string `json:"principal"`
	// Pseudonym ("pseudonym"), when given, replaces the identity in its
	// events; else their principal, email and display name become null.
	Pseudonym string `json:"pseudonym,omitempty"`
}

// EraseResult is the answer of POST /api/v1/privacy/erase.
type EraseResult struct {
	// Principal ("principal") is the identity as the request gave it.
	Principal string `json:"principal"`
	// Pseudonymised ("pseudonymised") is true when a pseudonym replaced it.
	Pseudonymised bool `json:"pseudonymised"`
	// Events ("events") is the number of events changed.
	Events int64 `json:"events"`
}
