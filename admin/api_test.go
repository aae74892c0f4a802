package admin_test

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/admin/internal/admintest"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/state"
)

// TestWireTypes sends a request to every route of the handler and decodes
// the answer into its type of package admin/api (or the type that package
// names) with DisallowUnknownFields: a field the handler answers and the
// shared type lacks fails here, as does a route with no case. The requests
// run in order on one fixture, so that the lists hold what the earlier ones
// locked and blocked, and their optional fields are present.
func TestWireTypes(t *testing.T) {
	f := admintest.New(t, nil, nil)
	cases := []struct {
		route, method, path, body string
		// into returns a new value of the answer's type.
		into func() any
		// ndjson: the answer is one into() per line.
		ndjson bool
		// has are parts of the answer that show its optional fields were
		// there to be checked.
		has []string
	}{
		{"GET /api/v1/whoami", "GET", "/api/v1/whoami", "", func() any { return new(api.Whoami) }, false, nil},
		{"POST /api/v1/lockouts/accounts", "POST", "/api/v1/lockouts/accounts", `{"principal":"Bob","duration":"1h"}`,
			func() any { return new(state.AccountStatus) }, false, nil},
		{"POST /api/v1/lockouts/accounts", "POST", "/api/v1/lockouts/accounts", `{"principal":"carol@example.com","duration":"permanent"}`,
			func() any { return new(state.AccountStatus) }, false, nil},
		{"POST /api/v1/lockouts/ips", "POST", "/api/v1/lockouts/ips", `{"cidr":"198.51.100.0/24","duration":"30m"}`,
			func() any { return new(state.IPBlock) }, false, nil},
		{"POST /api/v1/lockouts/ips", "POST", "/api/v1/lockouts/ips", `{"ip":"203.0.113.9","duration":"permanent"}`,
			func() any { return new(state.IPBlock) }, false, nil},
		{"GET /api/v1/lockouts", "GET", "/api/v1/lockouts", "", func() any { return new(api.Lockouts) }, false,
			[]string{`"lockedUntil":`, `"adminLock":true`, `"until":`}},
		{"GET /api/v1/users", "GET", "/api/v1/users?size=100", "", func() any { return new(api.Page[api.User]) }, false,
			[]string{`"displayName":`, `"permanent":true`, `"lockedUntil":`, `"failures":`}},
		{"GET /api/v1/login-logs", "GET", "/api/v1/login-logs?size=100", "", func() any { return new(api.Page[event.Event]) }, false, nil},
		{"GET /api/v1/login-logs", "GET", "/api/v1/login-logs?format=ndjson", "", func() any { return new(event.Event) }, true, nil},
		{"GET /api/v1/login-logs/{}", "GET", "/api/v1/login-logs/" + f.Events[len(f.Events)-1].ID, "", func() any { return new(event.Event) }, false, nil},
		{"GET /api/v1/stats", "GET", "/api/v1/stats", "", func() any { return new(api.Stats) }, false,
			[]string{`"byCountry":[{`, `"topAsns":[{`, `"byDeviceType":[{`}},
		{"GET /api/v1/audit-logs", "GET", "/api/v1/audit-logs?size=100", "", func() any { return new(api.AuditLogPage) }, false,
			[]string{`"location":`, `"attempts":`, `"userId":"`, `"organizationId":"`}},
		{"GET /api/v1/suspicious", "GET", "/api/v1/suspicious?window=2h", "", func() any { return new(api.Suspicious) }, false, nil},
		{"GET /api/v1/connectors", "GET", "/api/v1/connectors", "", func() any { return new(api.Connectors) }, false,
			[]string{`"lastErrorAt":`}},
		{"GET /api/admin/logins", "GET", "/api/admin/logins", "", func() any { return new(api.LoginHistory) }, false,
			[]string{`"failure_reason":`}},
		{"GET /api/v1/privacy/export", "GET", "/api/v1/privacy/export?principal=bob", "", func() any { return new(event.Event) }, true, nil},
		{"DELETE /api/v1/lockouts/accounts/{}", "DELETE", "/api/v1/lockouts/accounts/bob", "", func() any { return new(api.UnlockResult) }, false, nil},
		{"DELETE /api/v1/lockouts/ips/{}", "DELETE", "/api/v1/lockouts/ips/198.51.100.0%2F24", "", func() any { return new(api.UnblockResult) }, false, nil},
		{"POST /api/v1/privacy/erase", "POST", "/api/v1/privacy/erase", `{"principal":"v2@example.net","pseudonym":"subject-2"}`,
			func() any { return new(api.EraseResult) }, false, nil},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.route] = true
		a := call(t, f, c.method, c.path, admintest.AdminToken, c.body)
		if a.status != http.StatusOK {
			t.Errorf("%s %s: status %d: %s", c.method, c.path, a.status, a.body)
			continue
		}
		for _, h := range c.has {
			if !bytes.Contains(a.body, []byte(h)) {
				t.Errorf("%s %s: no %s in the answer, so that field went unchecked", c.method, c.path, h)
			}
		}
		if !c.ndjson {
			if err := strict(a.body, c.into()); err != nil {
				t.Errorf("%s %s: %v\n%s", c.method, c.path, err, a.body)
			}
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(a.body))
		sc.Buffer(nil, 1<<20)
		n := 0
		for ; sc.Scan(); n++ {
			if err := strict(sc.Bytes(), c.into()); err != nil {
				t.Errorf("%s %s: line %d: %v\n%s", c.method, c.path, n+1, err, sc.Text())
			}
		}
		if n == 0 {
			t.Errorf("%s %s: no line", c.method, c.path)
		}
	}
	for _, r := range admin.Routes() {
		if !covered[r] {
			t.Errorf("route %s has no case: add one with its type of package admin/api", r)
		}
	}
	// Every error, whatever its status, is an api.ErrorBody.
	noLockouts := admintest.New(t, nil, func(o *admin.Options) { o.Lockouts = nil })
	for _, c := range []struct {
		f                   *admintest.Fixture
		method, path, token string
		status              int
		name                string
	}{
		{f, "GET", "/api/v1/stats", "", http.StatusUnauthorized, api.NameAuthenticationRequired},
		{f, "POST", "/api/v1/lockouts/accounts", admintest.ReadToken, http.StatusForbidden, api.NameNoAccess},
		{f, "GET", "/api/v1/stats?interval=week", admintest.ReadToken, http.StatusBadRequest, api.NameBadRequest},
		{f, "GET", "/api/v1/nothing", admintest.ReadToken, http.StatusNotFound, api.NameNotFound},
		{f, "PUT", "/api/v1/stats", admintest.ReadToken, http.StatusMethodNotAllowed, api.NameMethodNotAllowed},
		{noLockouts, "GET", "/api/v1/lockouts", admintest.ReadToken, http.StatusNotImplemented, api.NameNotImplemented},
	} {
		errShape(t, call(t, c.f, c.method, c.path, c.token, ""), c.status, c.name)
	}
}
