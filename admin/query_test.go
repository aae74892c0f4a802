package admin_test

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/admin/internal/admintest"
	"github.com/loginguard/loginguard/event"
)

// routePath is a request path of a route of admin.Routes ("METHOD /path" or
// "METHOD /prefix/{}").
func routePath(route string) (method, path string) {
	method, path, _ = strings.Cut(route, " ")
	tails := map[string]string{"/api/v1/login-logs/{}": "1", "/api/v1/lockouts/accounts/{}": "bob", "/api/v1/lockouts/ips/{}": "10.9.9.9"}
	if t, ok := tails[path]; ok {
		path = strings.TrimSuffix(path, "{}") + t
	}
	return method, path
}

// badQuery checks that a is a 400 whose message begins with param and
// contains part.
func badQuery(t *testing.T, what string, a answer, param, part string) {
	t.Helper()
	if a.status != http.StatusBadRequest {
		t.Errorf("%s: status %d, want 400: %s", what, a.status, a.body)
		return
	}
	msg := errShape(t, a, http.StatusBadRequest, api.NameBadRequest)
	if !strings.HasPrefix(msg, param+": ") || !strings.Contains(msg, part) {
		t.Errorf("%s: message %q, want %q... %q", what, msg, param+": ", part)
	}
}

// An unknown query parameter is a 400 naming it on every route, listing what
// the route takes, before the route does anything.
func TestQueryUnknownParameter(t *testing.T) {
	f := admintest.New(t, nil, nil)
	for _, route := range admin.Routes() {
		method, path := routePath(route)
		a := call(t, f, method, path+"?foo=bar", admintest.AdminToken, `{"principal":"bob"}`)
		badQuery(t, route, a, "foo", "unknown query parameter (this endpoint takes")
	}
	cases := []struct{ path, param, part string }{
		// An unknown parameter is named, with the list the endpoint takes.
		{"/api/v1/login-logs?foo=bar", "foo", "unknown query parameter (this endpoint takes: from, to, email, ip, status, eventType, source, portalId, reason, principal, country, asn, deviceType, wouldRefuse, breached, page, size, sort, format)"},
		{"/api/v1/login-logs?status=FAILURE&foo=bar", "foo", "unknown query parameter"},
		// Names are case-sensitive; the message says which was meant.
		{"/api/v1/login-logs?eventtype=LOGOUT", "eventtype", "did you mean eventType?"},
		{"/api/v1/login-logs?Status=FAILURE", "Status", "did you mean status?"},
		// A parameter of another endpoint.
		{"/api/v1/login-logs?search=bob", "search", "unknown query parameter"},
		{"/api/v1/login-logs?interval=day", "interval", "unknown query parameter"},
		{"/api/admin/logins?page=2", "page", "this endpoint takes: from, to, email, ip, status, eventType, source, portalId, reason, principal, country, asn, deviceType, wouldRefuse, breached, sort, format"},
		{"/api/admin/logins?size=10", "size", "unknown query parameter"},
		{"/api/v1/stats?format=csv", "format", "this endpoint takes: from, to, interval, top"},
		{"/api/v1/stats?email=a@example.com", "email", "unknown query parameter"},
		{"/api/v1/users?email=a@example.com", "email", "this endpoint takes: search, page, size, sort"},
		{"/api/v1/suspicious?from=2025-03-01", "from", "this endpoint takes: window, since, minIpFailures, minAccountIps, minIpAccounts, limit"},
		{"/api/v1/suspicious?minipfailures=3", "minipfailures", "did you mean minIpFailures?"},
		{"/api/v1/whoami?x", "x", "this endpoint takes no query parameters"},
		{"/api/v1/connectors?format=json", "format", "this endpoint takes no query parameters"},
		{"/api/v1/lockouts?page=1", "page", "this endpoint takes no query parameters"},
		{"/api/v1/login-logs/1?format=csv", "format", "this endpoint takes no query parameters"},
		// A name too long to quote whole is cut.
		{"/api/v1/login-logs?" + strings.Repeat("z", 500) + "=1", strings.Repeat("z", 64) + "…", "unknown query parameter"},
	}
	for _, c := range cases {
		badQuery(t, c.path, get(t, f, c.path), c.param, c.part)
	}
	// The admin routes answer it without acting.
	a := call(t, f, http.MethodPost, "/api/v1/lockouts/accounts?force=1", admintest.AdminToken, `{"principal":"bob"}`)
	badQuery(t, "lock with a query", a, "force", "this endpoint takes no query parameters")
	if st, err := f.Lockouts.AccountStatus(t.Context(), "bob"); err != nil || st.Locked {
		t.Errorf("bob was locked by a refused request: %+v %v", st, err)
	}
	a = call(t, f, http.MethodGet, "/api/v1/privacy/export?principal=bob&dryRun=1", admintest.AdminToken, "")
	badQuery(t, "privacy export", a, "dryRun", "this endpoint takes: principal, format")
	for _, e := range f.Emitted() {
		if e.EventType == admin.DataExported {
			t.Errorf("a refused export was recorded: %v", event.Value(e.Message))
		}
	}
	// Authentication still comes first.
	a = call(t, f, http.MethodGet, "/api/v1/login-logs?foo=bar", "", "")
	errShape(t, a, http.StatusUnauthorized, api.NameAuthenticationRequired)
}

// A parameter that takes one value, given more than once, is a 400 naming it;
// eventType, a list, may be repeated.
func TestQueryRepeatedParameter(t *testing.T) {
	f := admintest.New(t, nil, nil)
	cases := []struct{ path, param, part string }{
		// A repeated parameter is refused, and told how to give several values.
		{"/api/v1/login-logs?status=SUCCESS&status=FAILURE", "status", "query parameter given more than once; give it once (where a parameter takes several values, give a comma list: eventType)"},
		{"/api/v1/login-logs?status=&status=FAILURE", "status", "more than once"},
		{"/api/v1/login-logs?from=2025-03-01&to=2025-03-31&from=2025-01-01", "from", "more than once"},
		{"/api/v1/login-logs?email=a@example.com&email=b@example.com", "email", "more than once"},
		{"/api/v1/login-logs?ip=10.0.0.1&ip=10.0.0.2", "ip", "more than once"},
		{"/api/v1/login-logs?page=1&page=2", "page", "more than once"},
		{"/api/v1/login-logs?format=csv&format=ndjson", "format", "more than once"},
		{"/api/v1/login-logs?sort=date,asc&sort=date,desc", "sort", "more than once"},
		{"/api/admin/logins?reason=LOCKED&reason=DISABLED", "reason", "more than once"},
		{"/api/v1/stats?interval=day&interval=hour", "interval", "give it once"},
		{"/api/v1/users?search=a&search=b", "search", "give it once"},
		{"/api/v1/suspicious?window=1h&window=2h", "window", "give it once"},
		{"/api/v1/suspicious?limit=1&limit=2", "limit", "give it once"},
	}
	for _, c := range cases {
		badQuery(t, c.path, get(t, f, c.path), c.param, c.part)
	}
	// Where no parameter takes several values, the message does not suggest one.
	msg := errShape(t, get(t, f, "/api/v1/stats?top=1&top=2"), http.StatusBadRequest, api.NameBadRequest)
	if msg != "top: query parameter given more than once; give it once" {
		t.Errorf("stats top twice: %q", msg)
	}
	a := call(t, f, http.MethodGet, "/api/v1/privacy/export?principal=bob&principal=carol", admintest.AdminToken, "")
	badQuery(t, "privacy export", a, "principal", "more than once")

	// eventType repeated is the comma list.
	var list, repeated api.Page[event.Event]
	decode(t, get(t, f, "/api/v1/login-logs?size=1000&eventType=LOGOUT,ACCOUNT_LOCKED"), &list)
	decode(t, get(t, f, "/api/v1/login-logs?size=1000&eventType=LOGOUT&eventType=ACCOUNT_LOCKED"), &repeated)
	if list.TotalElements == 0 || repeated.TotalElements != list.TotalElements {
		t.Errorf("eventType repeated: %d events, as a comma list %d", repeated.TotalElements, list.TotalElements)
	}
}

// A pair that net/url cannot decode (and would drop) is a 400 naming its
// parameter.
func TestQueryMalformed(t *testing.T) {
	f := admintest.New(t, nil, nil)
	cases := []struct{ path, param, part string }{
		{"/api/v1/login-logs?email=100%", "email", `cannot read "email=100%" of the query: invalid URL escape "%"`},
		{"/api/v1/login-logs?status=FAILURE;foo=bar", "status", "semicolon"},
		{"/api/v1/login-logs?size=5&st%zztus=FAILURE", "st%zztus", "invalid URL escape"},
		{"/api/v1/login-logs?=FAILURE", "query", `a parameter without a name: "=FAILURE"`},
	}
	for _, c := range cases {
		badQuery(t, c.path, get(t, f, c.path), c.param, c.part)
	}
	// Empty pairs and a bare name (an empty value) are fine.
	decode(t, get(t, f, "/api/v1/login-logs?&size=5&&status&"), &api.Page[event.Event]{})
}

// Every request the web console and the CLI send is accepted. The CLI's own
// tests run each subcommand with every flag against the handler.
func TestQueryClientsAccepted(t *testing.T) {
	f := admintest.New(t, nil, nil)
	// The console's requests (admin/console/app.js), with every filter set.
	console := []string{
		"/api/v1/whoami",
		"/api/v1/login-logs?from=2025-03-01&to=2025-03-31&email=alice%40example.com&principal=bob&ip=10.0.0.1&status=FAILURE&reason=BAD_CREDENTIALS&source=API_PORTAL&portalId=p1&page=0&size=20",
		"/api/v1/login-logs?email=alice%40example.com&size=10&from=2024-12-15",
		"/api/v1/login-logs?principal=bob&size=10&from=2024-12-15",
		"/api/v1/login-logs?eventType=ACCOUNT_LOCKED&email=alice%40example.com&size=1&from=2024-12-15",
		"/api/v1/login-logs?eventType=ACCOUNT_LOCKED&principal=bob&size=1&from=2024-12-15",
		"/api/v1/login-logs?from=2025-03-01&to=2025-03-31&status=FAILURE&format=csv",
		"/api/v1/users?search=example&page=0&size=50",
		"/api/v1/lockouts",
		"/api/v1/stats?from=2025-03-14&interval=hour",
		"/api/v1/stats?from=2025-02-13&interval=day",
		"/api/v1/suspicious?window=24h",
		"/api/v1/connectors",
	}
	// The CLI's requests (admin/cli), with every flag set.
	cli := []string{
		"/api/v1/login-logs?from=2025-03-01&to=2025-03-31&email=a%40example.com&ip=10.0.0.1&status=FAILURE&eventType=LOGIN_FAILURE%2CLOGOUT&source=API_PORTAL&portalId=p1&reason=BAD_CREDENTIALS&principal=bob&sort=date%2Casc&page=0&size=20",
		"/api/v1/login-logs?from=2025-03-01&status=FAILURE&format=ndjson",
		"/api/v1/stats?from=2025-03-01&interval=day&to=2025-03-31&top=10",
		"/api/v1/users?page=0&search=example&size=20",
		"/api/v1/suspicious?limit=5&minAccountIps=2&minIpAccounts=2&minIpFailures=2&window=2h",
		"/api/v1/suspicious?since=2025-03-01",
		"/api/admin/logins?from=2025-03-01&status=FAILURE&sort=date,asc&format=csv",
	}
	for _, path := range append(console, cli...) {
		if a := get(t, f, path, "Accept", "*/*"); a.status != http.StatusOK {
			t.Errorf("%s: %d %s", path, a.status, a.body)
		}
	}
	for _, path := range []string{"/api/v1/privacy/export?principal=bob", "/api/v1/privacy/export?principal=bob&format=csv"} {
		if a := call(t, f, http.MethodGet, path, admintest.AdminToken, ""); a.status != http.StatusOK {
			t.Errorf("%s: %d %s", path, a.status, a.body)
		}
	}
	// Every filter of the console's Login Logs page (its FILTERS list) is
	// taken, so a filter added there without the server fails here.
	js, err := os.ReadFile("console/app.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`const FILTERS = \[([^\]]*)\]`).FindSubmatch(js)
	if m == nil {
		t.Fatal("console/app.js has no FILTERS list")
	}
	names := regexp.MustCompile(`'([A-Za-z]+)'`).FindAllSubmatch(m[1], -1)
	if len(names) < 9 {
		t.Fatalf("console FILTERS: %d names in %s", len(names), m[1])
	}
	for _, n := range names {
		q := string(n[1]) + "=x"
		a := get(t, f, "/api/v1/login-logs?"+q)
		if a.status == http.StatusBadRequest && strings.Contains(string(a.body), "unknown query parameter") {
			t.Errorf("the console's filter %s is refused: %s", n[1], a.body)
		}
	}
}
