package admin

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// newPage is page number (of size items) of a list of total items.
func newPage[T any](content []T, number, size int, total int64) api.Page[T] {
	if content == nil {
		content = []T{}
	}
	pages := (total + int64(size) - 1) / int64(size)
	return api.Page[T]{Content: content, Number: number, Size: size, TotalElements: total, TotalPages: pages,
		First: number == 0, Last: int64(number) >= pages-1, NumberOfElements: len(content), Empty: len(content) == 0}
}

// loginLogs serves GET /api/v1/login-logs: a page of events as JSON, or every
// matching event as CSV (Accept: text/csv or format=csv) or NDJSON
// (format=ndjson), streamed in constant memory.
func (h *handler) loginLogs(w http.ResponseWriter, r *http.Request, _ *call) error {
	q := r.URL.Query()
	now := h.now()
	f, err := parseFilter(q, now)
	if err != nil {
		return err
	}
	p, err := parsePage(q)
	if err != nil {
		return err
	}
	format, err := negotiate(r.Header, q, formatJSON, formatCSV, formatNDJSON)
	if err != nil {
		return err
	}
	walk := func(fn func(event.Event) error) error { return h.store.Each(r.Context(), f, p.Asc, fn) }
	switch format {
	case formatCSV:
		_, err = h.streamCSV(w, r, "login-logs-"+stamp(now)+".csv", walk)
		return err
	case formatNDJSON:
		_, err = h.streamNDJSON(w, r, "login-logs-"+stamp(now)+".ndjson", walk)
		return err
	}
	res, err := h.store.Query(r.Context(), f, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newPage(res.Content, p.Number, p.Size, res.TotalElements))
	return nil
}

// loginLog serves GET /api/v1/login-logs/{id}: id is the event's UUID or its
// sequence number (the event's seq, the id of Unleash's login history API).
func (h *handler) loginLog(w http.ResponseWriter, r *http.Request, c *call) error {
	id := c.tail
	if _, ok := logstore.ParseSeq(id); !ok {
		u, err := uuid.Parse(id)
		if err != nil {
			return badParam("id", "malformed event id %q (want a UUID or a sequence number)", id)
		}
		id = u.String()
	}
	e, ok, err := h.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound("Could not find the login event with ID %q.", id)
	}
	writeJSON(w, http.StatusOK, e)
	return nil
}

// toLogin is e as a row of Unleash's login history API.
func toLogin(e *event.Event) api.Login {
	le := api.Login{ID: e.Seq, Username: e.Identity(), AuthType: "password",
		CreatedAt: e.EventDate.UTC().Format(event.DateLayout), Successful: e.EventType == event.LoginSuccess,
		IP: event.Str(e.RemoteAddress)}
	if !le.Successful {
		reason := event.Value(e.Message)
		if reason == "" {
			reason = string(e.Reason)
		}
		le.FailureReason = &reason
	}
	return le
}

// loginColumns are the columns of the CSV of Unleash's login history API,
// the JSON names of api.Login.
var loginColumns = []string{"id", "username", "auth_type", "created_at", "successful", "ip", "failure_reason"}

// loginTypes are the events of Unleash's login history API.
var loginTypes = []event.Type{event.LoginSuccess, event.LoginFailure}

// logins serves GET /api/admin/logins, Unleash's login history API: every
// login attempt (LOGIN_SUCCESS and LOGIN_FAILURE) matching the login-log
// filters, newest first, as an api.LoginHistory or, with Accept: text/csv, as
// CSV with the same columns. Both are streamed in constant memory.
func (h *handler) logins(w http.ResponseWriter, r *http.Request, _ *call) error {
	q := r.URL.Query()
	now := h.now()
	f, err := parseFilter(q, now)
	if err != nil {
		return err
	}
	asc, err := parseSort(q)
	if err != nil {
		return err
	}
	format, err := negotiate(r.Header, q, formatJSON, formatCSV)
	if err != nil {
		return err
	}
	if len(f.EventTypes) == 0 {
		f.EventTypes = loginTypes
	} else {
		f.EventTypes = slices.DeleteFunc(f.EventTypes, func(t event.Type) bool { return !slices.Contains(loginTypes, t) })
	}
	walk := func(fn func(event.Event) error) error {
		if len(f.EventTypes) == 0 {
			return nil // only other events were asked for
		}
		return h.store.Each(r.Context(), f, asc, fn)
	}
	if format == formatCSV {
		c := newCSVRows(w, "logins-"+stamp(now)+".csv", loginColumns)
		rec := make([]string, 0, len(loginColumns))
		err := walk(func(e event.Event) error {
			le := toLogin(&e)
			rec = append(rec[:0], strconv.FormatInt(le.ID, 10), le.Username, le.AuthType, le.CreatedAt, strconv.FormatBool(le.Successful),
				event.Value(le.IP), event.Value(le.FailureReason))
			return c.write(rec)
		})
		if err == nil {
			c.close()
		}
		return h.finish(w, r, c.lw, err)
	}
	// An api.LoginHistory, its envelope written by hand to stream the rows.
	lw := &lazyWriter{w: w, contentType: "application/json; charset=utf-8"}
	buf := append(make([]byte, 0, 64<<10), `{"events":[`...)
	n := 0
	err = walk(func(e event.Event) error {
		b, err := marshal(toLogin(&e))
		if err != nil {
			return err
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, b...)
		n++
		if n%flushEvery == 0 || len(buf) > 48<<10 {
			if _, err := lw.Write(buf); err != nil {
				return errClientGone
			}
			buf = buf[:0]
			lw.flush()
		}
		return nil
	})
	if err == nil {
		buf = append(buf, "]}\n"...)
		if _, werr := lw.Write(buf); werr != nil {
			err = errClientGone
		}
	}
	return h.finish(w, r, lw, err)
}
