package admin

import "net/http"

// whoamiAnswer is the answer of GET /api/v1/whoami.
type whoamiAnswer struct {
	// Scope is "read" or "admin".
	Scope string `json:"scope"`
	// Name names the token as audit events do.
	Name string `json:"name"`
}

// whoami serves GET /api/v1/whoami: the scope of the request's token, so the
// console shows admin actions to admin tokens only. The server enforces the
// scopes either way.
func (h *handler) whoami(w http.ResponseWriter, _ *http.Request, c *call) error {
	writeJSON(w, http.StatusOK, whoamiAnswer{Scope: c.token.Scope.String(), Name: c.token.who()})
	return nil
}
