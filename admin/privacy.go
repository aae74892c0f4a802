package admin

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/event"
)

// privacyExport serves GET /api/v1/privacy/export?principal=: every event of
// one identity (a principal, or an email in any case), oldest first, as NDJSON
// (or CSV with format=csv or Accept: text/csv), streamed. It is recorded as a
// DATA_EXPORTED audit event.
func (h *handler) privacyExport(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	subject, err := text(q, "principal")
	if err != nil {
		return err
	}
	if subject == "" {
		return badParam("principal", "required")
	}
	format, err := negotiate(r.Header, q, formatNDJSON, formatCSV)
	if err != nil {
		return err
	}
	walk := func(fn func(event.Event) error) error { return h.store.Principal(r.Context(), subject, fn) }
	name := "loginguard-export-" + stamp(h.now())
	var n int
	var werr error
	func() {
		// Record the export even when the stream is cut (a client that went
		// away, an aborted response): part of the data may have left.
		defer func() {
			msg := "Data of " + subject + " exported by " + c.token.who() + ": " + strconv.Itoa(n) + " events"
			if werr != nil || r.Context().Err() != nil {
				msg += " (incomplete)"
			}
			h.audit(r, subject, DataExported, msg)
		}()
		werr = errAborted
		if format == formatCSV {
			n, werr = h.streamCSV(w, r, name+".csv", walk)
		} else {
			n, werr = h.streamNDJSON(w, r, name+".ndjson", walk)
		}
	}()
	return werr
}

// errAborted marks an export whose stream was aborted.
var errAborted = errors.New("export aborted")

// errFound stops a walk at its first event.
var errFound = errors.New("found")

// privacyErase serves POST /api/v1/privacy/erase {principal, pseudonym?}: the
// principal, email and display name of the identity's events become null, or
// the pseudonym. It is recorded as a DATA_ERASED audit event, whose message
// never names the pseudonym (that would undo the pseudonymisation).
func (h *handler) privacyErase(w http.ResponseWriter, r *http.Request, c *call) error {
	var req api.EraseRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	subject, pseudonym := strings.TrimSpace(req.Principal), strings.TrimSpace(req.Pseudonym)
	switch {
	case subject == "":
		return badParam("principal", "required")
	case len(subject) > maxText:
		return badParam("principal", "longer than %d bytes", maxText)
	case len(pseudonym) > maxText:
		return badParam("pseudonym", "longer than %d bytes", maxText)
	case pseudonym != "" && strings.EqualFold(pseudonym, subject):
		return badParam("pseudonym", "must differ from the principal")
	}
	if pseudonym != "" {
		err := h.store.Principal(r.Context(), pseudonym, func(event.Event) error { return errFound })
		if errors.Is(err, errFound) {
			return &apiError{http.StatusConflict, api.NameConflict, "pseudonym: already names the events of another identity"}
		}
		if err != nil {
			return err
		}
	}
	n, err := h.store.Erase(r.Context(), subject, pseudonym)
	if err != nil {
		// Both stores refuse a pseudonym that is already a stored string
		// (an IP, a portal id...) with this message.
		if strings.Contains(err.Error(), "pseudonym is already in use") {
			return &apiError{http.StatusConflict, api.NameConflict, "pseudonym: already in use in the login log; choose another"}
		}
		return err
	}
	how := "erased"
	if pseudonym != "" {
		how = "pseudonymised"
	}
	h.audit(r, subject, DataErased, "Events of "+subject+" "+how+" by "+c.token.who()+": "+strconv.FormatInt(n, 10)+" events")
	writeJSON(w, http.StatusOK, api.EraseResult{Principal: subject, Pseudonymised: pseudonym != "", Events: n})
	return nil
}

// audit emits an audit event about subject and logs it. The event names the
// subject as its principal (or email, when it has an @) and the admin's
// address as its remote address.
func (h *handler) audit(r *http.Request, subject string, t event.Type, msg string) {
	ev := event.Event{ID: event.NewID(), EventDate: h.now().UTC(), EventType: t, Message: &msg,
		RemoteAddress: remoteIP(r), UserAgent: r.UserAgent()}
	if strings.Contains(subject, "@") {
		ev.Source, ev.Email = event.SourcePortal, &subject
	} else {
		ev.Source, ev.Principal = event.SourceManager, &subject
	}
	h.log.Info("admin audit", "eventType", string(t), "message", msg, "remoteAddress", ev.RemoteAddress)
	if h.emit != nil {
		h.emit(ev)
	}
}

// remoteIP is the host part of r.RemoteAddr.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
