package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
)

// options configure a portal.
type options struct {
	// slow is added to every login response (portal and manager), to let tests
	// observe requests in flight. Default 0.
	slow time.Duration
	// jitter, when set, adds a random duration in [0, jitter) to slow, as a
	// real portal's time varies. Default 0.
	jitter time.Duration
	// logger receives one line per request. Default: discard.
	logger *slog.Logger
}

// portal is the demo portal: its accounts, sessions and request counts.
type portal struct {
	opts     options
	dir      *directory
	users    *sessionStore // portal_session tokens → email
	managers *sessionStore // manager_session tokens → username
	received *receivedCounter
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
	p := &portal{
		opts:     opts,
		dir:      newDirectory(),
		users:    newSessionStore(),
		managers: newSessionStore(),
		received: newReceivedCounter(),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.handleHome)
	mux.HandleFunc("POST /api/login", p.handleLogin)
	mux.HandleFunc("POST /api/logout", p.handleLogout)
	mux.HandleFunc("GET /api/me", p.handleMe)
	mux.HandleFunc("GET /api/_received", p.handleReceived)
	mux.HandleFunc("DELETE /api/_received", p.handleResetReceived)
	mux.HandleFunc("GET /manager/login", p.handleManagerLoginPage)
	mux.HandleFunc("POST /manager/login", p.handleManagerLogin)
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
