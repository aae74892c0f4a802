package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
)

// options configure a portal.
type options struct {
	// slow is added to every response of a counted route (the logins and the
	// other steps of an account's life, see receivedCounter), to let tests
	// observe requests in flight. Default 0.
	slow time.Duration
	// jitter, when set, adds a random duration in [0, jitter) to slow, as a
	// real portal's time varies. Default 0.
	jitter time.Duration
	// logger receives one line per request. Default: discard.
	logger *slog.Logger
	// now is the clock of TOTP codes and of the expiry of MFA tickets and reset
	// tokens. Default time.Now.
	now func() time.Time
}

// portal is the demo portal: its accounts, sessions, pending logins, reset links,
// mails and request counts.
type portal struct {
	opts       options
	dir        *directory
	users      *sessionStore // portal_session tokens → email
	managers   *sessionStore // manager_session tokens → username
	mfaPending *ticketStore  // logins waiting for an MFA code: mfaToken → email
	resets     *ticketStore  // password reset tokens → email
	mail       *mailbox      // the last reset token "mailed" to each account
	received   *receivedCounter
}

// newPortal returns the demo portal's handler with default options.
func newPortal() http.Handler {
	return newPortalWith(options{})
}

// newPortalWith returns the demo portal's handler configured by opts.
func newPortalWith(opts options) http.Handler {
	if opts.logger == nil {
		opts.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.slow < 0 {
		opts.slow = 0
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	p := &portal{
		opts:       opts,
		dir:        newDirectory(),
		users:      newSessionStore(),
		managers:   newSessionStore(),
		mfaPending: newTicketStore(mfaTicketTTL, opts.now),
		resets:     newTicketStore(resetTicketTTL, opts.now),
		mail:       newMailbox(),
		received:   newReceivedCounter(),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.handleHome)
	mux.HandleFunc("POST "+routeLogin, p.handleLogin)
	mux.HandleFunc("POST /api/logout", p.handleLogout)
	mux.HandleFunc("GET /api/me", p.handleMe)
	mux.HandleFunc("POST "+routeLoginMFA, p.handleLoginMFA)
	mux.HandleFunc("POST "+routeMFAEnroll, p.handleMFAEnroll)
	mux.HandleFunc("POST "+routeMFAEnrollConfirm, p.handleMFAEnrollConfirm)
	mux.HandleFunc("POST "+routeMFADisable, p.handleMFADisable)
	mux.HandleFunc("POST "+routeResetRequest, p.handleResetRequest)
	mux.HandleFunc("POST "+routeReset, p.handleReset)
	mux.HandleFunc("POST "+routePasswordChange, p.handlePasswordChange)
	mux.HandleFunc("POST "+routeRegister, p.handleRegister)
	mux.HandleFunc("GET /api/_received", p.handleReceived)
	mux.HandleFunc("DELETE /api/_received", p.handleResetReceived)
	mux.HandleFunc("GET /api/_mailbox", p.handleMailbox)
	mux.HandleFunc("GET /login/mfa", p.handleMFALoginPage)
	mux.HandleFunc("GET /register", p.handleRegisterPage)
	mux.HandleFunc("GET /password/reset", p.handleResetRequestPage)
	mux.HandleFunc("GET /password/reset/confirm", p.handleResetPage)
	mux.HandleFunc("GET /password/change", p.handlePasswordChangePage)
	mux.HandleFunc("GET /account/mfa", p.handleMFAPage)
	mux.HandleFunc("GET "+routeManagerLogin, p.handleManagerLoginPage)
	mux.HandleFunc("POST "+routeManagerLogin, p.handleManagerLogin)
	mux.HandleFunc("POST /manager/logout", p.handleManagerLogout)
	mux.HandleFunc("GET /manager/home", p.handleManagerHome)
	return logRequests(opts.logger, mux)
}

// delay waits for the configured slow duration. It reports false when the client
// went away first, in which case nothing should be written.
func (p *portal) delay(ctx context.Context) bool {
	d := p.opts.slow
	if p.opts.jitter > 0 {
		d += rand.N(p.opts.jitter)
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// apiError is the body of every error response of the portal API.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// writeJSON writes v as the JSON body of a response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding response failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError writes an apiError and notes its code in the request log.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	noteOutcome(r, code)
	writeJSON(w, status, apiError{Code: code, Message: message})
}

// Messages of the answers shared by several routes.
const (
	msgMalformed    = "The request body is malformed."
	msgWeakPassword = "The password must be at least 8 characters long."
)

// writeBadRequest answers 400 BAD_REQUEST for a body readFields could not read
// (err) or one lacking a required field (errMissingFields, with missing as the
// message).
func writeBadRequest(w http.ResponseWriter, r *http.Request, err error, missing string) {
	msg := msgMalformed
	if errors.Is(err, errMissingFields) {
		msg = missing
	}
	writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", msg)
}

// writeNotLoggedIn answers a request that needs a portal session and has none,
// as GET /api/me does.
func writeNotLoggedIn(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusUnauthorized, "NOT_LOGGED_IN", "")
}

// writeInternal answers a failure of the portal itself (no randomness).
func writeInternal(w http.ResponseWriter, r *http.Request, what string) {
	writeError(w, r, http.StatusInternalServerError, "INTERNAL_ERROR", what+" could not be created.")
}

// required returns errMissingFields when err is nil and one of vals is empty.
func required(err error, vals ...string) error {
	if err != nil {
		return err
	}
	for _, v := range vals {
		if v == "" {
			return errMissingFields
		}
	}
	return nil
}
