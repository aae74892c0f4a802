package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// requestNote collects what a handler wants in the request's log line. It never
// holds a password, a session token or a body.
type requestNote struct {
	principal string
	outcome   string
}

type noteKey struct{}

// notePrincipal records the principal a login or logout request was for.
func notePrincipal(r *http.Request, principal string) {
	if n, ok := r.Context().Value(noteKey{}).(*requestNote); ok {
		n.principal = principal
	}
}

// noteOutcome records the outcome code of a request (e.g. BAD_CREDENTIALS).
func noteOutcome(r *http.Request, outcome string) {
	if n, ok := r.Context().Value(noteKey{}).(*requestNote); ok {
		n.outcome = outcome
	}
}

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs one line per request: method, path (without the query string,
// which a careless client might fill with credentials), status, principal, outcome,
// client address and duration.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		note := &requestNote{}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), noteKey{}, note)))
		status := rec.status
		switch {
		case status != 0:
		case r.Context().Err() != nil:
			// Nothing written because the client went away (e.g. during -slow).
			status = 499
		default:
			status = http.StatusOK
		}
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.String("principal", note.principal),
			slog.String("outcome", note.outcome),
			slog.String("remote", r.RemoteAddr),
			slog.Duration("duration", time.Since(start)),
		)
	})
}
