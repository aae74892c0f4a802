package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/policy"
)

// Breached is what a route does with an attempt whose password (or, on a
// route that sets one, new password) is in the app's breached-password set
// (App.Pwned). Every such attempt's event carries passwordBreached.
type Breached struct {
	// Action is log (the default: the event field and the metric only),
	// header (the request reaches the portal with Header set to "1", so that
	// it can ask for a new password; a client's own header of that name is
	// always dropped), refuse (answered before the portal with Status and
	// Body, reason BREACHED_PASSWORD) or off (no check on this route).
	Action string `json:"action,omitempty"`
	// Header names the request header of the header action.
	Header string `json:"header,omitempty"`
	// Status of the refuse action's answer. Default: 400.
	Status int `json:"status,omitempty"`
	// Body of the refuse action's answer, sent as application/json.
	// Default: {"code":"BREACHED_PASSWORD","message":"This password has appeared in a data breach. Choose another one."}
	Body *string `json:"body,omitempty"`
}

const defaultBreachedBody = `{"code":"BREACHED_PASSWORD","message":"This password has appeared in a data breach. Choose another one."}`

// Results of a breached-password check, as App.CountBreachedCheck counts them.
const (
	CheckBreached = "breached"
	CheckClean    = "clean"
	CheckError    = "error" // the set could not answer: the password went through unmarked
)

// setsPassword reports whether action is a step that sets a password (its
// new password is checked, not a login's).
func setsPassword(action string) bool {
	switch action {
	case "register", "password_change", "reset_confirm":
		return true
	}
	return false
}

// fillBreached fills the breached-password defaults of a route.
func (h *Route) fillBreached() {
	if h.Breached == nil {
		h.Breached = new(Breached)
	}
	b := h.Breached
	if b.Action == "" {
		b.Action = "log"
	}
	if b.Status == 0 {
		b.Status = http.StatusBadRequest
	}
	if b.Body == nil {
		s := defaultBreachedBody
		b.Body = &s
	}
	spec := &h.Password
	def := policy.PasswordSpec{JSONPointer: "/password", FormField: "password"}
	if setsPassword(h.Action) {
		spec = &h.NewPassword
		if h.Action != "register" {
			def = policy.PasswordSpec{JSONPointer: "/newPassword", FormField: "newPassword"}
		}
	}
	if *spec == nil {
		*spec = &def
	}
	// As for the principal: a password read from one body format only could
	// be dodged by sending the other.
	if ps := *spec; ps.FormField == "" && len(ps.JSONPointer) > 1 && !strings.ContainsAny(ps.JSONPointer[1:], "/~") {
		ps.FormField = ps.JSONPointer[1:]
	} else if ps.JSONPointer == "" && ps.FormField != "" {
		ps.JSONPointer = "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(ps.FormField)
	}
}

// validateBreached checks the breached-password options.
func (h *Route) validateBreached() error {
	b := h.Breached
	switch b.Action {
	case "log", "refuse", "off":
	case "header":
		if !validHeaderName(b.Header) {
			return fmt.Errorf("breached header: %q is not a header name", b.Header)
		}
	default:
		return fmt.Errorf("breached: want log, header <name>, refuse or off, got %q", b.Action)
	}
	if b.Status < 200 || b.Status > 599 {
		return fmt.Errorf("breached status: %d is not an HTTP status", b.Status)
	}
	for name, ps := range map[string]*policy.PasswordSpec{"password": h.Password, "new_password": h.NewPassword} {
		if ps == nil {
			continue
		}
		if ps.JSONPointer == "" && ps.FormField == "" && !ps.Basic && ps.XMLRPC == nil {
			return fmt.Errorf("%s: needs a JSON pointer, a form field, basic or xmlrpc", name)
		}
		if ps.JSONPointer != "" {
			if err := policy.ValidPointer(ps.JSONPointer); err != nil {
				return fmt.Errorf("%s json: %w", name, err)
			}
		}
	}
	if h.NewPassword != nil && !setsPassword(h.Action) {
		return fmt.Errorf("new_password: only on a route that sets a password (action register, password_change or reset_confirm), not %s", h.Action)
	}
	return nil
}

// checkPassword looks the password the request carries up in the app's
// breached-password set (on a route that sets a password, the new one) and
// marks the attempt's event. Every value a portal could read as the password
// is checked (a repeated field: each one). It reports whether the password is
// breached; no check (no set, action off, no password read) is not.
func (h *Route) checkPassword(ctx context.Context, a *attempt, req policy.Request) bool {
	set := h.app.Pwned()
	if set == nil || h.Breached.Action == "off" {
		return false
	}
	spec := h.Password
	if setsPassword(h.Action) {
		spec = h.NewPassword
	}
	sums := policy.ReadPasswords(*spec, req).SHA1
	if len(sums) == 0 {
		return false
	}
	result := CheckClean
	for _, sum := range sums { // a request is as weak as its weakest candidate
		res, err := set.Check(ctx, sum)
		if err != nil {
			result = CheckError
			continue
		}
		if res.Breached {
			result = CheckBreached
			break
		}
	}
	h.app.CountBreachedCheck(result)
	a.ev.PasswordBreached = result == CheckBreached
	return a.ev.PasswordBreached
}

// onBreached applies the route's action to an attempt whose password was
// checked: it reports whether the attempt was answered (refused). r is the
// request as it goes to the portal.
func (h *Route) onBreached(w http.ResponseWriter, r *http.Request, a *attempt, breached bool) (bool, error) {
	switch {
	case !breached:
		return false, nil
	case h.Breached.Action == "header":
		r.Header.Set(h.Breached.Header, "1")
	case h.Breached.Action == "refuse":
		body := []byte(*h.Breached.Body)
		h.fail(a, event.BreachedPassword, 0)
		if t, ok := stepTypes[h.Action]; ok {
			a.ev.EventType = t[1]
		}
		h.app.CountRefusal(h.source, event.BreachedPassword, a.monitor)
		h.emitRefusal(a)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(h.Breached.Status)
		_, _ = w.Write(body)
		return true, nil
	}
	return false, nil
}

// dropBreachedHeader removes a client's own header of the header action:
// only loginguard says a password is breached.
func (h *Route) dropBreachedHeader(r *http.Request) {
	if h.Breached.Action == "header" {
		r.Header.Del(h.Breached.Header)
	}
}

// passwordRequest is the part of a request the password readers look at.
func passwordRequest(r *http.Request, body []byte, complete bool) policy.Request {
	return policy.Request{
		ContentType:     r.Header.Get("Content-Type"),
		ContentEncoding: r.Header.Get("Content-Encoding"),
		Body:            body,
		Complete:        complete,
		Query:           r.URL.RawQuery,
		Authorization:   r.Header.Get("Authorization"),
	}
}
