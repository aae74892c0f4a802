package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/loginguard/loginguard/state"
)

// Error names of the error shape (seed 004's).
const (
	nameAuth           = "AuthenticationRequired"
	nameNoAccess       = "NoAccess"
	nameBadRequest     = "BadRequestError"
	nameNotFound       = "NotFoundError"
	nameConflict       = "ConflictError"
	nameMethod         = "MethodNotAllowedError"
	nameNotImplemented = "NotImplementedError"
	nameUnavailable    = "ServiceUnavailableError"
	nameInternal       = "InternalError"
)

// apiError is an error the API answers with its own status and message.
type apiError struct {
	status  int
	name    string
	message string
}

func (e *apiError) Error() string { return e.message }

// errorBody is the error shape: {"id":"<uuid>","name":"...","message":"..."}.
type errorBody struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// badParam is a 400 naming the parameter at fault.
func badParam(param, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, nameBadRequest, param + ": " + fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{http.StatusNotFound, nameNotFound, fmt.Sprintf(format, args...)}
}

// errNoLockouts answers the lockout endpoints when no Lockouts was given.
var errNoLockouts = &apiError{http.StatusNotImplemented, nameNotImplemented,
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
			ae = &apiError{http.StatusServiceUnavailable, nameUnavailable, "the lockout state store is unavailable (error " + id + ")"}
		} else {
			ae = &apiError{http.StatusInternalServerError, nameInternal, "internal error; the server log has the details under error id " + id}
		}
	}
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="loginguard"`)
	}
	writeJSON(w, ae.status, errorBody{ID: id, Name: ae.name, Message: ae.message})
}
