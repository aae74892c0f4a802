package admin

import (
	"net/http"

	"github.com/loginguard/loginguard/admin/api"
)

// whoami serves GET /api/v1/whoami: the scope of the request's token, so the
// console shows admin actions to admin tokens only. The server enforces the
// scopes either way.
func (h *handler) whoami(w http.ResponseWriter, _ *http.Request, c *call) error {
	writeJSON(w, http.StatusOK, api.Whoami{Scope: c.token.Scope.String(), Name: c.token.who()})
	return nil
}
