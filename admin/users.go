package admin

import (
	"net/http"
	"strings"
	"time"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/logstore"
)

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// users serves GET /api/v1/users: search (part of the identity, any case),
// page, size; most recently active first. Each user is the login log's
// summary merged with the lockout state of the account (the lower-cased
// identity).
func (h *handler) users(w http.ResponseWriter, r *http.Request, _ *call) error {
	q := r.URL.Query()
	search, err := text(q, "search")
	if err != nil {
		return err
	}
	p, err := parsePage(q)
	if err != nil {
		return err
	}
	if q.Get("sort") != "" {
		return badParam("sort", "users are always sorted by last activity, newest first")
	}
	list, total, err := h.store.Users(r.Context(), logstore.UsersFilter{Search: search, Number: p.Number, Size: p.Size})
	if err != nil {
		return err
	}
	out := make([]api.User, 0, len(list))
	stateFailed := false
	for _, u := range list {
		v := api.User{Identity: u.Identity, Source: u.Source, DisplayName: u.DisplayName, LastSeen: timePtr(u.LastSeen),
			LastLogin: timePtr(u.LastLogin), LastLogout: timePtr(u.LastLogout), LastFailure: timePtr(u.LastFailure),
			LastIP: u.LastIP, FailuresSinceSuccess: u.FailuresSinceSuccess, SessionActive: u.Active, Status: api.StatusLoggedOut,
			BreachedAttempts: u.BreachedAttempts, BreachedSuccesses: u.BreachedSuccesses}
		switch {
		case u.Active:
			v.Status = api.StatusActive
		case u.LastLogin.IsZero():
			v.Status = api.StatusNeverLoggedIn
		}
		if h.lockouts != nil && !stateFailed {
			st, err := h.lockouts.AccountStatus(r.Context(), strings.ToLower(u.Identity))
			if err != nil {
				// One failure is enough to know the state is down: do not wait
				// for it again on every user of the page.
				stateFailed = true
				h.log.Warn("admin users: lockout state unavailable", "error", err)
			} else {
				locked, failures := st.Locked, st.Failures
				v.Locked, v.Failures = &locked, &failures
				if locked {
					v.Status, v.Permanent, v.LockedUntil = api.StatusLocked, st.Permanent, timePtr(st.LockedUntil)
				}
			}
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, newPage(out, p.Number, p.Size, total))
	return nil
}
