package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/state"
)

// apiError is an error the API answers, as an api.ErrorBody, with its own
// status, name (one of api's Name constants) and message.
type apiError struct {
	status  int
	name    string
	message string
}

func (e *apiError) Error() string { return e.message }

// badParam is a 400 naming the parameter at fault.
func badParam(param, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, api.NameBadRequest, param + ": " + fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{http.StatusNotFound, api.NameNotFound, fmt.Sprintf(format, args...)}
}

// errNoLockouts answers the lockout endpoints when no Lockouts was given.
var errNoLockouts = &apiError{http.StatusNotImplemented, api.NameNotImplemented,
	"lockouts are not available: this admin handler has no lockout state"}

// writeError answers err in the error shape. Errors that are not *apiError are
// logged with the error id and answered with a 500 (503 when the state store is
// unavailable) that does not show their text.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	id := uuid.NewString()
	var ae *apiError
	if !errors.As(err, &ae) {
		h.log.Error("admin API request failed", "errorId", id, "method", r.Method, "path", r.URL.Path, "error", err)
		if errors.Is(err, state.ErrUnavailable) {
			ae = &apiError{http.StatusServiceUnavailable, api.NameServiceUnavailable, "the lockout state store is unavailable (error " + id + ")"}
		} else {
			ae = &apiError{http.StatusInternalServerError, api.NameInternal, "internal error; the server log has the details under error id " + id}
		}
	}
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="loginguard"`)
	}
	writeJSON(w, ae.status, api.ErrorBody{ID: id, Name: ae.name, Message: ae.message})
}
