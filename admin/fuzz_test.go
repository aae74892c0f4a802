package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/admin/internal/admintest"
)

// FuzzReadQuery: whatever the query string, the read endpoints answer 200 or
// a 400 in the API's error shape naming a parameter; never a 5xx.
func FuzzReadQuery(f *testing.F) {
	for _, q := range []string{"", "status=FAILURE&size=5", "from=2025-01-01&to=2025-13-01", "eventType=LOGIN_SUCCESS,ALERT&eventType=LOGOUT",
		"email=%zz", "page=-1&size=100000", "sort=date,asc", "window=1h&minIpFailures=0", "interval=week", "format=csv", "search=a%00b"} {
		f.Add(q, uint8(0))
	}
	fx := admintest.New(f, nil, nil)
	paths := []string{"/api/v1/login-logs", "/api/v1/stats", "/api/v1/users", "/api/v1/suspicious", "/api/admin/logins"}
	f.Fuzz(func(t *testing.T, query string, which uint8) {
		if len(query) > 2048 || strings.ContainsRune(query, '#') ||
			strings.IndexFunc(query, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return // not a query string a client can send raw
		}
		if _, err := url.ParseQuery(query); err != nil && strings.Contains(query, "%%") {
			return
		}
		path := paths[int(which)%len(paths)]
		a := call(t, fx, http.MethodGet, path+"?"+query, admintest.ReadToken, "")
		switch {
		case a.status == http.StatusOK:
		case a.status == http.StatusBadRequest:
			errShape(t, a, http.StatusBadRequest, "BadRequestError")
		default:
			t.Fatalf("GET %s?%s: %d %s", path, query, a.status, a.body)
		}
	})
}
