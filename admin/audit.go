package admin

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// The audit-log API's view of the login log (GET /api/v1/audit-logs): its
// parameters, event types, entries and page envelope are that API's, so that
// a client written for it reads the login log unchanged.
//
//	audit-log API          login log
//	eventType USER_LOGIN         LOGIN_SUCCESS
//	eventType USER_LOGIN_FAILED  LOGIN_FAILURE
//	eventType USER_LOGOUT        LOGOUT
//	(its other event types)      none: they filter to an empty page
//	id                     id
//	userId                 accountId when the portal revealed one, else principal
//	userEmail              email
//	userName               displayName
//	organizationId         portalId
//	timestamp              eventDate
//	ipAddress              remoteAddress
//	metadata.userAgent     userAgent
//	metadata.success       eventType is LOGIN_SUCCESS (attempts only)
//	metadata.mfaUsed       reason MFA_REQUIRED or MFA_FAILED
//	metadata.location      Geo.Place(): "City, Region, CC"
//	metadata.reason        reason, in words (auditReasons)
//	metadata.attempts      failureCount

// MaxAuditPageSize is the largest page of the audit-log view.
const MaxAuditPageSize = 100

// auditTypes maps every event type of the audit-log API to the login log's,
// "" for those the login log never holds.
var auditTypes = map[string]event.Type{
	api.AuditUserLogin: event.LoginSuccess, api.AuditUserLoginFailed: event.LoginFailure, api.AuditUserLogout: event.Logout,
	api.AuditUserPasswordChanged: "", api.AuditUserPasswordReset: "", api.AuditUserMFAEnabled: "",
	api.AuditUserMFADisabled: "", api.AuditUserCreated: "", api.AuditUserDeleted: "",
}

// auditTypeNames lists auditTypes' keys in the audit-log API's order, for
// error messages.
var auditTypeNames = []string{api.AuditUserLogin, api.AuditUserLoginFailed, api.AuditUserLogout, api.AuditUserPasswordChanged,
	api.AuditUserPasswordReset, api.AuditUserMFAEnabled, api.AuditUserMFADisabled, api.AuditUserCreated, api.AuditUserDeleted}

// auditReasons words the failure reasons as metadata.reason.
var auditReasons = map[event.Reason]string{
	event.BadCredentials:        "Invalid password",
	event.AccountNotFound:       "Account not found",
	event.Disabled:              "Account disabled",
	event.WaitingForApprovement: "Account waiting for approval",
	event.ConfirmationNeeded:    "Account not confirmed",
	event.Rejected:              "Account rejected",
	event.NotApproved:           "Account not approved",
	event.MFARequired:           "Second factor required",
	event.MFAFailed:             "Invalid second factor",
	event.Locked:                "Account locked",
	event.RateLimited:           "Too many attempts",
	event.UpstreamError:         "Portal error",
	event.Unknown:               "Unknown",
	event.AmbiguousPrincipal:    "Ambiguous username",
	event.MissingPrincipal:      "No username",
	event.BreachedPassword:      "Breached password",
}

// auditQuery is a parsed request of the audit-log view.
type auditQuery struct {
	f      logstore.Filter
	none   bool // only event types the login log never holds were asked for
	userID string
	page   logstore.Page
}

// parseAuditQuery reads eventType (a comma list, repeatable; default the
// three the login log holds), userId, startDate and endDate (ISO 8601: RFC
// 3339 or YYYY-MM-DD; an endDate date covers its day; no default range),
// page (from 0), size (default 20, at most 100) and sort (timestamp,desc,
// the default, or timestamp,asc).
func parseAuditQuery(q map[string][]string) (auditQuery, error) {
	var a auditQuery
	asked := false
	for _, list := range q["eventType"] {
		for v := range strings.SplitSeq(list, ",") {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			t, ok := auditTypes[strings.ToUpper(v)]
			if !ok {
				return a, badParam("eventType", "unknown value %q (want a comma list of %s)", shorten(v), strings.Join(auditTypeNames, ", "))
			}
			asked = true
			if t != "" && !slices.Contains(a.f.EventTypes, t) {
				a.f.EventTypes = append(a.f.EventTypes, t)
			}
		}
	}
	if !asked {
		a.f.EventTypes = []event.Type{event.LoginSuccess, event.LoginFailure, event.Logout}
	}
	a.none = len(a.f.EventTypes) == 0
	get := func(name string) string {
		if v := q[name]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	var err error
	if a.userID, err = text(q, "userId"); err != nil {
		return a, err
	}
	sv, ev := get("startDate"), get("endDate")
	if sv != "" {
		if a.f.From, err = parseTime("startDate", sv, false); err != nil {
			return a, err
		}
	}
	if ev != "" {
		if a.f.To, err = parseTime("endDate", ev, true); err != nil {
			return a, err
		}
	}
	if !a.f.From.IsZero() && !a.f.To.IsZero() && !a.f.From.Before(a.f.To) {
		return a, badParam("startDate", "%s is not before endDate %s", sv, ev)
	}
	a.page.Size = logstore.DefaultPageSize
	if v := get("size"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return a, badParam("size", "invalid number %q", shorten(v))
		case n > MaxAuditPageSize:
			return a, badParam("size", "%d is above the maximum %d", n, MaxAuditPageSize)
		case n < 1:
			return a, badParam("size", "%d is below the minimum 1", n)
		}
		a.page.Size = n
	}
	if v := get("page"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return a, badParam("page", "invalid number %q", shorten(v))
		case n < 0:
			return a, badParam("page", "%d is negative (pages count from 0)", n)
		case n > MaxOffset/a.page.Size:
			return a, badParam("page", "page %d of size %d starts beyond entry %d", n, a.page.Size, MaxOffset)
		}
		a.page.Number = n
	}
	if v := get("sort"); v != "" {
		field, dir, _ := strings.Cut(v, ",")
		field, dir = strings.TrimSpace(field), strings.ToLower(strings.TrimSpace(dir))
		if field != "timestamp" || dir != "asc" && dir != "desc" && dir != "" {
			return a, badParam("sort", "unknown value %q (want timestamp,desc or timestamp,asc)", shorten(v))
		}
		a.page.Asc = dir == "asc"
	}
	return a, nil
}

// auditLogs serves GET /api/v1/audit-logs, the audit-log API's view (see
// the table above). A userId filter walks the matching events of the range,
// as the login log has no index of account ids: give a date range on a
// large log.
func (h *handler) auditLogs(w http.ResponseWriter, r *http.Request, _ *call) error {
	a, err := parseAuditQuery(r.URL.Query())
	if err != nil {
		return err
	}
	var content []event.Event
	var total int64
	switch {
	case a.none:
	case a.userID == "":
		res, err := h.store.Query(r.Context(), a.f, a.page)
		if err != nil {
			return err
		}
		content, total = res.Content, res.TotalElements
	default:
		lo := int64(a.page.Number) * int64(a.page.Size)
		err := h.store.Each(r.Context(), a.f, a.page.Asc, func(e event.Event) error {
			if id := auditUserID(&e); id == nil || *id != a.userID {
				return nil
			}
			if total >= lo && total < lo+int64(a.page.Size) {
				content = append(content, e)
			}
			total++
			return nil
		})
		if err != nil {
			return err
		}
	}
	out := make([]api.AuditLog, len(content))
	for i := range content {
		out[i] = toAuditLog(&content[i])
	}
	writeJSON(w, http.StatusOK, newAuditPage(out, a.page, total))
	return nil
}

// newAuditPage is the envelope of one page of total entries.
func newAuditPage(content []api.AuditLog, p logstore.Page, total int64) api.AuditLogPage {
	pages := (total + int64(p.Size) - 1) / int64(p.Size)
	return api.AuditLogPage{Content: content,
		Pageable: api.Pageable{PageNumber: p.Number, PageSize: p.Size, Sort: api.PageSort{Sorted: true},
			Offset: int64(p.Number) * int64(p.Size), Paged: true},
		TotalPages: pages, TotalElements: total, Last: int64(p.Number) >= pages-1, First: p.Number == 0,
		Size: p.Size, Number: p.Number, NumberOfElements: len(content), Empty: len(content) == 0}
}

// auditUserID is the userId of e: its account id, else its principal.
func auditUserID(e *event.Event) *string {
	if v := event.Value(e.AccountID); v != "" {
		return &v
	}
	if v := event.Value(e.Principal); v != "" {
		return &v
	}
	return nil
}

// nonEmpty is &v, or nil when v is "".
func nonEmpty(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// toAuditLog is e as an entry of the audit-log view.
func toAuditLog(e *event.Event) api.AuditLog {
	l := api.AuditLog{ID: e.ID, UserID: auditUserID(e), UserEmail: nonEmpty(event.Value(e.Email)),
		UserName: nonEmpty(event.Value(e.DisplayName)), OrganizationID: nonEmpty(event.Value(e.PortalID)),
		Timestamp: e.EventDate.UTC().Format(time.RFC3339Nano), IPAddress: nonEmpty(e.RemoteAddress)}
	m := &l.Metadata
	m.UserAgent, m.Location = e.UserAgent, e.Place()
	success, failure := true, false
	switch e.EventType {
	case event.LoginSuccess:
		l.EventType, m.Success = api.AuditUserLogin, &success
	case event.LoginFailure:
		l.EventType, m.Success = api.AuditUserLoginFailed, &failure
		attempts := max(e.FailureCount, 0)
		m.Reason, m.Attempts = auditReasons[e.Reason], &attempts
		if m.Reason == "" && e.Reason != "" {
			m.Reason = string(e.Reason) // a reason newer than this table
		}
	case event.Logout:
		l.EventType = api.AuditUserLogout
	default:
		l.EventType = string(e.EventType)
	}
	if e.Reason == event.MFARequired || e.Reason == event.MFAFailed {
		m.MFAUsed = &success
	}
	return l
}
