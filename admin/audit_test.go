package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/admin/internal/admintest"
	"github.com/loginguard/loginguard/event"
)

// auditExamples reads the audit-log API's documented examples.
func auditExamples(t *testing.T) (page, failed map[string]any) {
	t.Helper()
	b, err := os.ReadFile("testdata/audit-logs-examples.json")
	if err != nil {
		t.Fatal(err)
	}
	var ex struct{ Page, FailedEvent map[string]any }
	if err := json.Unmarshal(b, &ex); err != nil {
		t.Fatal(err)
	}
	return ex.Page, ex.FailedEvent
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// metadataExtra are the metadata fields the view adds to an example's when
// it knows them (the examples show each in one of them, not in both).
var metadataExtra = []string{"success", "mfaUsed", "location"}

// nullable are the entry's string fields that may be null: userId and
// userName are null in the examples' failed login; the view also nulls an
// email, portal or address it does not know (a manager route's login).
var nullable = []string{"userId", "userName", "userEmail", "organizationId", "ipAddress"}

// sameShape fails t unless got has want's field names and JSON types,
// recursively: an object has every key of want (and no other, but for
// metadataExtra in a metadata object), each value of want's type (string or
// null for the nullable fields); an array's elements each have the shape of
// want's first.
func sameShape(t *testing.T, path string, want, got any) {
	t.Helper()
	wt, gt := jsonType(want), jsonType(got)
	field := path[strings.LastIndexByte(path, '.')+1:]
	if okNull := slices.Contains(nullable, field) && (wt == "null" || wt == "string") && (gt == "null" || gt == "string"); wt != gt && !okNull {
		t.Fatalf("%s: JSON type %s, want %s as in the example", path, gt, wt)
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k, wv := range w {
			gv, ok := g[k]
			if !ok && !(strings.HasSuffix(path, ".metadata") && slices.Contains(metadataExtra, k)) {
				t.Fatalf("%s: no %q (example's fields %v, got %v)", path, k, keys(w), keys(g))
			}
			if ok {
				sameShape(t, path+"."+k, wv, gv)
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok && !(strings.HasSuffix(path, ".metadata") && slices.Contains(metadataExtra, k)) {
				t.Fatalf("%s: %q is not in the example (its fields %v)", path, k, keys(w))
			}
		}
	case []any:
		for i, gv := range got.([]any) {
			sameShape(t, fmt.Sprintf("%s[%d]", path, i), w[0], gv)
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// auditEvents returns the fixture's events the view lists for types (the
// login log's), in [from, to) (zero: open), newest first unless asc.
func auditEvents(f *admintest.Fixture, types []event.Type, from, to time.Time, asc bool, keep func(*event.Event) bool) []string {
	var out []string
	for _, e := range f.Events {
		if slices.Contains(types, e.EventType) && !e.EventDate.Before(from) && (to.IsZero() || e.EventDate.Before(to)) && (keep == nil || keep(&e)) {
			out = append(out, e.ID)
		}
	}
	if !asc {
		slices.Reverse(out)
	}
	return out
}

func auditIDs(p api.AuditLogPage) []string {
	out := make([]string, len(p.Content))
	for i, l := range p.Content {
		out[i] = l.ID
	}
	return out
}

// TestAuditLogsExamples asks the audit-log API's documented example queries,
// with a read-scope token, and checks each answer's entries against the
// fixture and its shape (field names and JSON types) against the documented
// examples: the page envelope, its login events and its failed login event.
func TestAuditLogsExamples(t *testing.T) {
	f := admintest.New(t, nil, nil)
	exPage, exFailed := auditExamples(t)
	login, failed := []event.Type{event.LoginSuccess}, []event.Type{event.LoginFailure}
	day := admintest.Now.Truncate(24 * time.Hour)
	for _, c := range []struct {
		query string
		want  []string
		size  int
	}{
		{"eventType=USER_LOGIN&page=0&size=20", auditEvents(f, login, time.Time{}, time.Time{}, false, nil), 20},
		{"eventType=USER_LOGIN&userId=" + admintest.AliceAccountID + "&page=0&size=20",
			auditEvents(f, login, time.Time{}, time.Time{}, false, func(e *event.Event) bool { return event.Value(e.AccountID) == admintest.AliceAccountID }), 20},
		{"eventType=USER_LOGIN&page=0&size=10&sort=timestamp,desc", auditEvents(f, login, time.Time{}, time.Time{}, false, nil), 10},
		{"eventType=USER_LOGIN,USER_LOGIN_FAILED,USER_LOGOUT,USER_PASSWORD_CHANGED&page=0&size=20",
			auditEvents(f, []event.Type{event.LoginSuccess, event.LoginFailure, event.Logout}, time.Time{}, time.Time{}, false, nil), 20},
		{"eventType=USER_LOGIN_FAILED&startDate=" + day.Add(-24*time.Hour).Format(time.RFC3339) + "&endDate=" + day.Format(time.RFC3339) + "&page=0&size=50",
			auditEvents(f, failed, day.Add(-24*time.Hour), day, false, nil), 50},
	} {
		a := get(t, f, "/api/v1/audit-logs?"+c.query)
		var p api.AuditLogPage
		decode(t, a, &p)
		if len(c.want) < 2 {
			t.Fatalf("%s: the fixture has %d such events, too few to check", c.query, len(c.want))
		}
		total := int64(len(c.want))
		if got, want := auditIDs(p), c.want[:min(c.size, len(c.want))]; !slices.Equal(got, want) {
			t.Fatalf("%s:\n got %v\nwant %v", c.query, got, want)
		}
		if p.TotalElements != total || p.Size != c.size || p.Number != 0 || !p.First || p.TotalPages != (total+int64(c.size)-1)/int64(c.size) ||
			p.Pageable != (api.Pageable{PageSize: c.size, Sort: api.PageSort{Sorted: true}, Paged: true}) {
			t.Fatalf("%s: envelope %+v", c.query, p)
		}
		var raw map[string]any
		if err := json.Unmarshal(a.body, &raw); err != nil {
			t.Fatal(err)
		}
		// Every entry against the example of its kind; the envelope against the page's.
		for i, e := range raw["content"].([]any) {
			ex := exPage["content"].([]any)[0]
			if p.Content[i].EventType == api.AuditUserLoginFailed {
				ex = exFailed
			}
			sameShape(t, fmt.Sprintf("%s: content[%d]", c.query, i), ex, e)
		}
		env := map[string]any{}
		for k, v := range exPage {
			env[k] = v
		}
		env["content"] = []any{}
		raw["content"] = []any{}
		sameShape(t, c.query, env, raw)
	}
}

// TestAuditLogsEntries checks the mapping of each kind of event, field by
// field: a portal success revealing an account id, a manager failure, a
// failure by an unknown user from a located bot, a logout, a failure asking
// for a second factor.
func TestAuditLogsEntries(t *testing.T) {
	evs := admintest.Dataset()
	mfa := evs[len(evs)-1]
	mfa.ID, mfa.EventDate, mfa.Reason, mfa.FailureCount = admintest.V7(admintest.Now.Add(-time.Minute), 9999), admintest.Now.Add(-time.Minute), event.MFARequired, 0
	mfa.Geo = event.Geo{Country: "DE", City: "Berlin"}
	evs = append(evs, mfa)
	f := admintest.New(t, evs, nil)
	var p api.AuditLogPage
	decode(t, get(t, f, "/api/v1/audit-logs?size=100"), &p)
	byID := map[string]api.AuditLog{}
	for _, l := range p.Content {
		byID[l.ID] = l
	}
	find := func(keep func(e *event.Event) bool) (event.Event, api.AuditLog) {
		t.Helper()
		for i := len(evs) - 1; i >= 0; i-- {
			if keep(&evs[i]) {
				return evs[i], byID[evs[i].ID]
			}
		}
		t.Fatal("no such event in the data set")
		return event.Event{}, api.AuditLog{}
	}
	yes, no, one, zero := true, false, 1, 0
	str := event.Str
	e, l := find(func(e *event.Event) bool { return e.AccountID != nil && e.DisplayName != nil })
	want := api.AuditLog{ID: e.ID, EventType: "USER_LOGIN", UserID: str(admintest.AliceAccountID), UserEmail: str("alice@example.com"),
		UserName: str("Alice Example"), OrganizationID: str("p1"), Timestamp: e.EventDate.Format(time.RFC3339), IPAddress: str("10.0.0.1"),
		Metadata: api.AuditMetadata{UserAgent: "Mozilla/5.0", Success: &yes}}
	checkEntry(t, "portal success", l, want)
	e, l = find(func(e *event.Event) bool {
		return event.Value(e.Principal) == "bob" && e.EventType == event.LoginFailure
	})
	checkEntry(t, "manager failure", l, api.AuditLog{ID: e.ID, EventType: "USER_LOGIN_FAILED", UserID: str("bob"), Timestamp: e.EventDate.Format(time.RFC3339),
		IPAddress: str("10.0.0.2"), Metadata: api.AuditMetadata{Success: &no, Reason: "Account disabled", Attempts: &zero}})
	e, l = find(func(e *event.Event) bool {
		return e.RemoteAddress == admintest.Attacker && e.Reason == event.BadCredentials
	})
	checkEntry(t, "attacker", l, api.AuditLog{ID: e.ID, EventType: "USER_LOGIN_FAILED", UserEmail: e.Email, OrganizationID: str("p1"),
		Timestamp: e.EventDate.Format(time.RFC3339), IPAddress: str(admintest.Attacker),
		Metadata: api.AuditMetadata{UserAgent: "Mozilla/5.0", Success: &no, Location: "Amsterdam, NH, NL", Reason: "Invalid password", Attempts: &one}})
	e, l = find(func(e *event.Event) bool { return e.EventType == event.Logout })
	checkEntry(t, "logout", l, api.AuditLog{ID: e.ID, EventType: "USER_LOGOUT", UserEmail: e.Email, OrganizationID: e.PortalID,
		Timestamp: e.EventDate.Format(time.RFC3339), IPAddress: str(e.RemoteAddress), Metadata: api.AuditMetadata{UserAgent: "Mozilla/5.0"}})
	_, l = find(func(e *event.Event) bool { return e.Reason == event.MFARequired })
	if l.Metadata.MFAUsed == nil || !*l.Metadata.MFAUsed || l.Metadata.Reason != "Second factor required" || l.Metadata.Location != "Berlin, DE" {
		t.Fatalf("MFA failure: %+v", l.Metadata)
	}
}

func checkEntry(t *testing.T, what string, got, want api.AuditLog) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// TestAuditLogsPaging walks every page both ways, with and without a userId
// (which the view filters while walking the log), and past the end.
func TestAuditLogsPaging(t *testing.T) {
	f := admintest.New(t, nil, nil)
	all := []event.Type{event.LoginSuccess, event.LoginFailure, event.Logout}
	for _, c := range []struct {
		query string
		keep  func(*event.Event) bool
	}{
		{"", nil},
		{"&userId=bob", func(e *event.Event) bool { return event.Value(e.Principal) == "bob" }},
		{"&userId=" + admintest.AliceAccountID + "&eventType=USER_LOGIN,USER_LOGIN_FAILED", func(e *event.Event) bool {
			return event.Value(e.AccountID) == admintest.AliceAccountID
		}},
	} {
		for _, asc := range []bool{false, true} {
			want := auditEvents(f, all, time.Time{}, time.Time{}, asc, c.keep)
			sort := "timestamp,desc"
			if asc {
				sort = "timestamp,asc"
			}
			var got []string
			for n := 0; ; n++ {
				var p api.AuditLogPage
				decode(t, get(t, f, fmt.Sprintf("/api/v1/audit-logs?size=5&page=%d&sort=%s%s", n, sort, c.query)), &p)
				if p.Pageable.Offset != int64(5*n) || p.Pageable.PageNumber != n || p.Number != n || p.First != (n == 0) ||
					p.TotalElements != int64(len(want)) || p.NumberOfElements != len(p.Content) {
					t.Fatalf("%s page %d: %+v", c.query, n, p)
				}
				got = append(got, auditIDs(p)...)
				if p.Last {
					break
				}
				if n > 100 {
					t.Fatalf("%s: no last page", c.query)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s %s:\n got %v\nwant %v", c.query, sort, got, want)
			}
		}
	}
	var p api.AuditLogPage
	decode(t, get(t, f, "/api/v1/audit-logs?size=5&page=400"), &p)
	if !p.Empty || !p.Last || p.First || p.Content == nil || p.TotalElements == 0 {
		t.Fatalf("past the end: %+v", p)
	}
	// Types the login log never holds: an empty page, not an error.
	for _, q := range []string{"eventType=USER_MFA_ENABLED", "eventType=user_created,USER_DELETED", "userId=nobody"} {
		var p api.AuditLogPage
		decode(t, get(t, f, "/api/v1/audit-logs?"+q), &p)
		if !p.Empty || p.TotalElements != 0 || p.TotalPages != 0 || !p.Last || p.Content == nil {
			t.Fatalf("%s: %+v", q, p)
		}
	}
	// endDate as a date covers its day.
	d := admintest.Now.AddDate(0, 0, -3).Format("2006-01-02")
	decode(t, get(t, f, "/api/v1/audit-logs?startDate="+d+"&endDate="+d+"&size=100"), &p)
	start, _ := time.Parse("2006-01-02", d)
	if want := auditEvents(f, all, start, start.Add(24*time.Hour), false, nil); !slices.Equal(auditIDs(p), want) || len(want) == 0 {
		t.Fatalf("one day: %v, want %v", auditIDs(p), want)
	}
}

// TestAuditLogsBadParameters: every bad parameter is a 400 in the admin
// API's error shape whose message begins with the parameter's name; no
// token is a 401.
func TestAuditLogsBadParameters(t *testing.T) {
	f := admintest.New(t, nil, nil)
	for _, c := range []struct{ query, param string }{
		{"eventType=LOGIN_SUCCESS", "eventType"},
		{"eventType=USER_LOGIN,USER_SIGNUP", "eventType"},
		{"size=101", "size"},
		{"size=0", "size"},
		{"size=ten", "size"},
		{"page=-1", "page"},
		{"page=1&page=2", "page"},
		{"sort=date,desc", "sort"},
		{"sort=timestamp,up", "sort"},
		{"startDate=yesterday", "startDate"},
		{"endDate=2025-13-01", "endDate"},
		{"startDate=2025-03-02T00:00:00Z&endDate=2025-03-01T00:00:00Z", "startDate"},
		{"userId=a&userId=b", "userId"},
		{"from=2025-03-01", "from"},
		{"userid=bob", "userid"},
	} {
		msg := errShape(t, get(t, f, "/api/v1/audit-logs?"+c.query), http.StatusBadRequest, api.NameBadRequest)
		if !strings.HasPrefix(msg, c.param+": ") {
			t.Errorf("%s: message %q does not begin with %q", c.query, msg, c.param+": ")
		}
	}
	errShape(t, call(t, f, http.MethodGet, "/api/v1/audit-logs", "", ""), http.StatusUnauthorized, api.NameAuthenticationRequired)
}
