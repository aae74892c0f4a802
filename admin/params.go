package admin

import (
	"mime"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// Limits of the parameters.
const (
	// DefaultRange is the date range of a search that gives neither from nor to.
	DefaultRange = 30 * 24 * time.Hour
	// MaxPageSize is the largest page size.
	MaxPageSize = 1000
	// MaxOffset is the furthest row a page may start at (page*size).
	MaxOffset = 10_000_000
	// maxText is the longest text parameter (email, principal, portalId...).
	maxText = 1024
)

// dateOnly is the layout of a date without time, read as midnight UTC.
const dateOnly = "2006-01-02"

// text returns the trimmed value of parameter name, refusing values that are
// too long or not UTF-8.
func text(q url.Values, name string) (string, error) {
	v := strings.TrimSpace(q.Get(name))
	if len(v) > maxText {
		return "", badParam(name, "longer than %d bytes", maxText)
	}
	if !utf8.ValidString(v) {
		return "", badParam(name, "not valid UTF-8")
	}
	return v, nil
}

// parseTime parses a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 time. A
// date given as an end (to) means the end of that day: the next midnight.
func parseTime(name, v string, end bool) (time.Time, error) {
	if d, err := time.Parse(dateOnly, v); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil && strings.Contains(v, " ") {
		// A "+" of an offset left unescaped in a query string reads as a space.
		t, err = time.Parse(time.RFC3339Nano, strings.ReplaceAll(v, " ", "+"))
	}
	if err != nil {
		return time.Time{}, badParam(name, "invalid date %q (want YYYY-MM-DD or RFC 3339)", v)
	}
	return t.UTC(), nil
}

// parseRange reads from and to. Without either, the range is the last
// DefaultRange before now. With only one, the other side is open, unless
// closed is set: then to defaults to now and from to DefaultRange before to.
func parseRange(q url.Values, now time.Time, closed bool) (from, to time.Time, err error) {
	fv, tv := strings.TrimSpace(q.Get("from")), strings.TrimSpace(q.Get("to"))
	if fv != "" {
		if from, err = parseTime("from", fv, false); err != nil {
			return from, to, err
		}
	}
	if tv != "" {
		if to, err = parseTime("to", tv, true); err != nil {
			return from, to, err
		}
	}
	if closed && to.IsZero() {
		to = now.UTC()
	}
	if from.IsZero() && (closed || tv == "") {
		base := to
		if base.IsZero() {
			base = now.UTC()
		}
		from = base.Add(-DefaultRange)
	}
	// A date as to covers its whole day, so from=2025-03-02&to=2025-03-01 is
	// as wrong as any from after to.
	if _, dateErr := time.Parse(dateOnly, tv); !to.IsZero() && (from.After(to) || dateErr == nil && from.Equal(to)) {
		fd, td := fv, tv
		if fd == "" {
			fd = from.Format(time.RFC3339)
		}
		if td == "" {
			td = to.Format(time.RFC3339) + " (now)"
		}
		return from, to, badParam("from", "%s is after to %s", fd, td)
	}
	return from, to, nil
}

// eventTypes are the known event types, as accepted by eventType.
var eventTypes = []event.Type{event.LoginSuccess, event.LoginFailure, event.Logout,
	event.AccountLocked, event.AccountUnlocked, event.Alert, DataExported, DataErased, event.IPBlocked, event.IPUnblocked}

// parseFilter reads the login-log filters. Without from and to, the range is
// the last 30 days; with only one of them, the other side is open.
func parseFilter(q url.Values, now time.Time) (logstore.Filter, error) {
	var f logstore.Filter
	var err error
	if f.From, f.To, err = parseRange(q, now, false); err != nil {
		return f, err
	}
	if f.Email, err = text(q, "email"); err != nil {
		return f, err
	}
	if f.PortalID, err = text(q, "portalId"); err != nil {
		return f, err
	}
	if f.Principal, err = text(q, "principal"); err != nil {
		return f, err
	}
	if v := strings.TrimSpace(q.Get("ip")); v != "" {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return f, badParam("ip", "invalid IP address %q", v)
		}
		f.IP = a.String()
	}
	switch v := strings.ToUpper(strings.TrimSpace(q.Get("status"))); v {
	case "":
	case string(logstore.StatusSuccess), string(logstore.StatusFailure):
		f.Status = logstore.Status(v)
	default:
		return f, badParam("status", "unknown value %q (want SUCCESS or FAILURE)", q.Get("status"))
	}
	for _, list := range q["eventType"] {
		for v := range strings.SplitSeq(list, ",") {
			v = strings.ToUpper(strings.TrimSpace(v))
			if v == "" {
				continue
			}
			if !slices.Contains(eventTypes, event.Type(v)) {
				return f, badParam("eventType", "unknown value %q (want a comma list of %s)", v, joinTypes(eventTypes))
			}
			if !slices.Contains(f.EventTypes, event.Type(v)) {
				f.EventTypes = append(f.EventTypes, event.Type(v))
			}
		}
	}
	switch v := strings.ToUpper(strings.TrimSpace(q.Get("source"))); v {
	case "":
	case string(event.SourceManager), string(event.SourcePortal):
		f.Source = event.Source(v)
	default:
		return f, badParam("source", "unknown value %q (want API_MANAGER or API_PORTAL)", q.Get("source"))
	}
	if v := strings.TrimSpace(q.Get("reason")); v != "" {
		r, ok := event.ParseReason(strings.ToUpper(v))
		if !ok {
			return f, badParam("reason", "unknown value %q", v)
		}
		f.Reason = r
	}
	if err := parseGeoFilter(q, &f); err != nil {
		return f, err
	}
	if err := parseFlagFilter(q, &f); err != nil {
		return f, err
	}
	return f, nil
}

// parseFlagFilter reads the filters on what an attempt carries beyond the
// connector event's fields: wouldRefuse (true: every refusal a route in
// monitor mode did not make; a reason, any case: those enforce mode would
// have refused with it) and breached (true: the attempts whose password is
// breached). Neither takes false: leave it out to not filter.
func parseFlagFilter(q url.Values, f *logstore.Filter) error {
	if v := strings.TrimSpace(q.Get("wouldRefuse")); v != "" {
		if strings.EqualFold(v, "true") {
			f.WouldRefuse = logstore.AnyReason
		} else if r, ok := event.ParseReason(strings.ToUpper(v)); ok {
			f.WouldRefuse = r
		} else {
			return badParam("wouldRefuse", "unknown value %q (want true, for every refusal a route in monitor mode did not make, or a reason such as LOCKED)", shorten(v))
		}
	}
	if v := strings.TrimSpace(q.Get("breached")); v != "" {
		if !strings.EqualFold(v, "true") {
			return badParam("breached", "unknown value %q (want true, for the attempts whose password is breached; leave it out to not filter)", shorten(v))
		}
		f.Breached = true
	}
	return nil
}

// deviceTypes are the values of the deviceType filter.
var deviceTypes = []string{event.DeviceDesktop, event.DeviceMobile, event.DeviceTablet, event.DeviceTV, event.DeviceBot}

// parseGeoFilter reads the location and device filters: country (an ISO
// 3166-1 alpha-2 code, any case), asn (an AS number, "AS" prefix allowed)
// and deviceType (one of deviceTypes, any case).
func parseGeoFilter(q url.Values, f *logstore.Filter) error {
	if v := strings.TrimSpace(q.Get("country")); v != "" {
		if len(v) != 2 || !isLetter(v[0]) || !isLetter(v[1]) {
			return badParam("country", "invalid country code %q (want an ISO 3166-1 alpha-2 code such as US or de)", shorten(v))
		}
		f.Country = strings.ToUpper(v)
	}
	if v := strings.TrimSpace(q.Get("asn")); v != "" {
		digits := v
		if len(v) > 2 && strings.EqualFold(v[:2], "AS") {
			digits = v[2:]
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || n < 1 || n > 1<<32-1 || digits[0] == '+' {
			return badParam("asn", "invalid AS number %q (want a number from 1 to 4294967295, e.g. 64496 or AS64496)", shorten(v))
		}
		f.ASN = n
	}
	if v := strings.TrimSpace(q.Get("deviceType")); v != "" {
		d := strings.ToLower(v)
		if !slices.Contains(deviceTypes, d) {
			return badParam("deviceType", "unknown value %q (want %s)", shorten(v), strings.Join(deviceTypes, ", "))
		}
		f.DeviceType = d
	}
	return nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func joinTypes(ts []event.Type) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// intParam reads an integer parameter in [lo, hi], or def when absent.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, badParam(name, "invalid number %q", v)
	}
	if n < lo || n > hi {
		return 0, badParam(name, "%d is out of range [%d, %d]", n, lo, hi)
	}
	return n, nil
}

// parsePage reads page (0-based), size and sort.
func parsePage(q url.Values) (logstore.Page, error) {
	var p logstore.Page
	v := strings.TrimSpace(q.Get("size"))
	if v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return p, badParam("size", "invalid number %q", v)
		case n > MaxPageSize:
			return p, badParam("size", "%d is above the maximum %d", n, MaxPageSize)
		case n < 1:
			return p, badParam("size", "%d is below the minimum 1", n)
		}
		p.Size = n
	} else {
		p.Size = logstore.DefaultPageSize
	}
	if v := strings.TrimSpace(q.Get("page")); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return p, badParam("page", "invalid number %q", v)
		case n < 0:
			return p, badParam("page", "%d is negative (pages count from 0)", n)
		case n > MaxOffset/p.Size:
			return p, badParam("page", "page %d of size %d starts beyond row %d", n, p.Size, MaxOffset)
		}
		p.Number = n
	}
	asc, err := parseSort(q)
	p.Asc = asc
	return p, err
}

// parseSort reads sort: date,desc (the default) or date,asc.
func parseSort(q url.Values) (asc bool, err error) {
	v := strings.TrimSpace(q.Get("sort"))
	if v == "" {
		return false, nil
	}
	field, dir, _ := strings.Cut(v, ",")
	field, dir = strings.TrimSpace(field), strings.ToLower(strings.TrimSpace(dir))
	if field != "date" && field != "eventDate" || dir != "asc" && dir != "desc" && dir != "" {
		return false, badParam("sort", "unknown value %q (want date,desc or date,asc)", v)
	}
	return dir == "asc", nil
}

// Formats of an answer.
const (
	formatJSON   = "json"
	formatCSV    = "csv"
	formatNDJSON = "ndjson"
)

// negotiate picks the answer's format: the format parameter when given, else
// the Accept header's preferred one of those allowed, else the first allowed.
func negotiate(r interface{ Get(string) string }, q url.Values, allowed ...string) (string, error) {
	if v := strings.ToLower(strings.TrimSpace(q.Get("format"))); v != "" {
		if !slices.Contains(allowed, v) {
			return "", badParam("format", "unknown value %q (want %s)", q.Get("format"), strings.Join(allowed, " or "))
		}
		return v, nil
	}
	best, bestQ := allowed[0], 0.0
	for part := range strings.SplitSeq(r.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		qv := 1.0
		if s, ok := params["q"]; ok {
			if qv, err = strconv.ParseFloat(s, 64); err != nil {
				continue
			}
		}
		var f string
		switch mt {
		case "application/json":
			f = formatJSON
		case "text/csv":
			f = formatCSV
		case "application/x-ndjson", "application/ndjson", "application/jsonl":
			f = formatNDJSON
		default:
			continue
		}
		if slices.Contains(allowed, f) && qv > bestQ {
			best, bestQ = f, qv
		}
	}
	return best, nil
}

// parseDuration reads a lock or block duration: absent means def, "permanent"
// means 0 (until lifted), else a Go duration ("15m", "2h") or whole days
// ("7d"), positive and at most 100 years.
func parseDuration(name, v string, def time.Duration) (time.Duration, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return def, nil
	case strings.EqualFold(v, "permanent"):
		return 0, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > 36500 || n < -36500 {
			return 0, badParam(name, "invalid duration %q (want e.g. 15m, 2h, 7d or permanent)", v)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, badParam(name, "invalid duration %q (want e.g. 15m, 2h, 7d or permanent)", v)
		}
	}
	if d <= 0 {
		return 0, badParam(name, "%q is not positive (use \"permanent\" for a lock without end)", v)
	}
	if d > 36500*24*time.Hour {
		return 0, badParam(name, "%q is longer than 100 years (use \"permanent\")", v)
	}
	return d, nil
}

// The query parameters of each route (route.query). A route that takes none
// has a nil list.
var (
	// filterQuery are the login-log filters read by parseFilter.
	filterQuery = []string{"from", "to", "email", "ip", "status", "eventType", "source", "portalId", "reason", "principal",
		"country", "asn", "deviceType", "wouldRefuse", "breached"}
	// logsQuery: GET /api/v1/login-logs (parseFilter, parsePage, negotiate).
	logsQuery = append(slices.Clip(filterQuery), "page", "size", "sort", "format")
	// loginsQuery: GET /api/admin/logins (parseFilter, parseSort, negotiate).
	loginsQuery = append(slices.Clip(filterQuery), "sort", "format")
	// statsQuery: GET /api/v1/stats.
	statsQuery = []string{"from", "to", "interval", "top"}
	// usersQuery: GET /api/v1/users; sort is read to refuse it with the reason.
	usersQuery = []string{"search", "page", "size", "sort"}
	// suspiciousQuery: GET /api/v1/suspicious.
	suspiciousQuery = []string{"window", "since", "minIpFailures", "minAccountIps", "minIpAccounts", "limit"}
	// privacyExportQuery: GET /api/v1/privacy/export.
	privacyExportQuery = []string{"principal", "format"}
	// auditLogsQuery: GET /api/v1/audit-logs (the audit-log API's view).
	auditLogsQuery = []string{"eventType", "userId", "startDate", "endDate", "page", "size", "sort"}
)

// multiValued are the parameters that take several values, as a comma list or
// repeated; every other parameter takes one value.
var multiValued = []string{"eventType"}

// checkQuery refuses the raw query of a request to a route that takes the
// parameters takes, where its handler would silently misread it: a pair that
// cannot be decoded (net/url drops it), a parameter the route does not take
// (it would be ignored) and a parameter given more than once that takes one
// value (all but the first would be ignored). The error, a 400, names the
// first such parameter of the query.
func checkQuery(raw string, takes []string) error {
	seen := make(map[string]bool)
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		key, _, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(key)
		if err != nil {
			name = key
		}
		name = shorten(name)
		if _, err := url.ParseQuery(pair); err != nil {
			return badParam(name, "cannot read %q of the query: %v (escape %% as %%25, & as %%26, ; as %%3B)", shorten(pair), err)
		}
		switch {
		case name == "":
			return badParam("query", "a parameter without a name: %q", shorten(pair))
		case !slices.Contains(takes, name):
			return badParam(name, "unknown query parameter (%s)", takesHint(name, takes))
		case seen[name] && !slices.Contains(multiValued, name):
			return badParam(name, "query parameter given more than once; give it once%s", multiHint(takes))
		}
		seen[name] = true
	}
	return nil
}

// takesHint says which parameters a route takes, and which one an unknown
// name differs from in case only.
func takesHint(name string, takes []string) string {
	if len(takes) == 0 {
		return "this endpoint takes no query parameters"
	}
	s := "this endpoint takes: " + strings.Join(takes, ", ")
	for _, t := range takes {
		if strings.EqualFold(t, name) {
			return "did you mean " + t + "? names are case-sensitive; " + s
		}
	}
	return s
}

// multiHint names the parameters of takes that take several values.
func multiHint(takes []string) string {
	var m []string
	for _, t := range takes {
		if slices.Contains(multiValued, t) {
			m = append(m, t)
		}
	}
	if len(m) == 0 {
		return ""
	}
	return " (where a parameter takes several values, give a comma list: " + strings.Join(m, ", ") + ")"
}

// shorten cuts a name or pair of the query to at most 64 bytes for an error
// message.
func shorten(s string) string {
	if len(s) <= 64 {
		return s
	}
	return strings.ToValidUTF8(s[:64], "") + "…"
}
