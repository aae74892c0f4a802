package selfservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Page serves the sign-ins of the user who asks, on GET and HEAD:
//
//	200  the View as JSON, or as the HTML fragment for ?format=html (or, with
//	     no format, an Accept header that names text/html before any JSON)
//	400  a format other than json or html
//	401  no owner: no session cookie, an unknown or forged one, or a session
//	     that ended (logout); one answer for all, naming none of them
//	404  the login log store is off
//	405  another method
//	503  the session state or the log store failed
//
// Every answer has Cache-Control: no-store and Vary: Cookie, Accept; errors
// are JSON {"name": ..., "message": ...}.
type Page struct {
	// Store is the login log store; it returns nil when the store is off.
	Store func() Querier
	// Owner finds whose page r asks for: ok false when r carries no session
	// (the answer is then 401); an error when that could not be told.
	Owner func(r *http.Request) (o Owner, ok bool, err error)
	// Limit is the most logins shown. Default (0): DefaultLimit.
	Limit int
	// Since is how far back logins are shown. Default (0): DefaultSince.
	Since time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger gets the failures behind a 503; nil discards them.
	Logger *slog.Logger
}

// DefaultSince is how far back the page looks by default.
const DefaultSince = 30 * 24 * time.Hour

// Error names, in the error answers' "name".
const (
	nameAuth        = "AuthenticationRequired"
	nameNotFound    = "NotFoundError"
	nameBadRequest  = "BadRequest"
	nameMethod      = "MethodNotAllowed"
	nameUnavailable = "ServiceUnavailable"
)

func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Cookie")
	h.Add("Vary", "Accept")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, nameMethod, "use GET")
		return
	}
	html, ok := wantsHTML(r)
	if !ok {
		writeError(w, http.StatusBadRequest, nameBadRequest, "format: want json or html")
		return
	}
	store := p.Store()
	if store == nil {
		writeError(w, http.StatusNotFound, nameNotFound, "the login log is off (loginguard store off): there are no sign-ins to show")
		return
	}
	owner, ok, err := p.Owner(r)
	if err != nil {
		p.unavailable(w, r.Context(), "finding the session", err)
		return
	}
	if !ok {
		writeError(w, http.StatusUnauthorized, nameAuth, "sign in to the portal to see your sign-ins")
		return
	}
	since := p.Since
	if since <= 0 {
		since = DefaultSince
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	v, err := Recent(r.Context(), store, owner, Query{Limit: p.Limit, Since: now().Add(-since).UTC()})
	if err != nil {
		p.unavailable(w, r.Context(), "reading the sign-ins", err)
		return
	}
	var b bytes.Buffer
	if html {
		h.Set("Content-Type", "text/html; charset=utf-8")
		// For a page that opens the fragment itself (or frames it): nothing
		// in it may load or run anything.
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'self'")
		err = WriteHTML(&b, v)
	} else {
		h.Set("Content-Type", "application/json")
		err = json.NewEncoder(&b).Encode(v)
	}
	if err != nil {
		p.unavailable(w, r.Context(), "writing the sign-ins", err)
		return
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}

// wantsHTML reads the format asked for: ?format=json|html, else the Accept
// header (text/html named before any JSON type); ok is false for another format.
func wantsHTML(r *http.Request) (html, ok bool) {
	switch f := r.URL.Query().Get("format"); f {
	case "html":
		return true, true
	case "json":
		return false, true
	case "":
	default:
		return false, false
	}
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		switch {
		case err != nil:
		case mt == "text/html":
			return true, true
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			return false, true
		}
	}
	return false, true
}

func (p *Page) unavailable(w http.ResponseWriter, ctx context.Context, what string, err error) {
	if p.Logger != nil && !errors.Is(err, context.Canceled) {
		p.Logger.LogAttrs(ctx, slog.LevelError, "sign-ins page: "+what, slog.String("error", err.Error()))
	}
	writeError(w, http.StatusServiceUnavailable, nameUnavailable, what+" failed; try again later")
}

func writeError(w http.ResponseWriter, status int, name, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	}{name, msg})
}
