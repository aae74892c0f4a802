package e2e

import (
	"encoding/json"
	"testing"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/enrich/enrichtest"
)

// TestLocationThroughTheAdminAPI: through real Caddy with GeoIP databases,
// the admin API filters the login log by country and network, counts attempts
// by country, network and device type, and answers the audit-log API's
// example query in its shape, with the location.
func TestLocationThroughTheAdminAPI(t *testing.T) {
	dir := t.TempDir()
	city := enrichtest.Write(t, dir, "city.mmdb", enrichtest.Build(t, "GeoLite2-City", false,
		enrichtest.Net{CIDR: "81.2.69.0/24", Rec: enrichtest.GeoLiteCity("GB", "ENG", "England", "London", 51.5142, -0.0931, 10)},
		enrichtest.Net{CIDR: "1.128.0.0/16", Rec: enrichtest.GeoLiteCity("AU", "NSW", "New South Wales", "Sydney", -33.8715, 151.2006, 10)}))
	asn := enrichtest.Write(t, dir, "asn.mmdb", enrichtest.Build(t, "GeoLite2-ASN", false,
		enrichtest.Net{CIDR: "81.2.64.0/20", Rec: enrichtest.ASN(20712, "Andrews & Arnold Ltd")},
		enrichtest.Net{CIDR: "1.128.0.0/16", Rec: enrichtest.ASN(1221, "Telstra")}))
	cf := config{Global: trustXFF, App: `enrich {
			city {$CITY_DB}
			asn {$ASN_DB}
		}`}.String() + `
http://127.0.0.1:{$LOGINGUARD_ADMIN_PORT} {
	loginguard_admin {
		admin_token {env.LOGINGUARD_ADMIN_TOKEN}
		read_token {env.LOGINGUARD_READ_TOKEN}
	}
}
`
	s := newStack(t, stackOptions{Caddyfile: cf, Env: []string{"CITY_DB=" + city, "ASN_DB=" + asn}})
	const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	login := func(ip, pw string) {
		t.Helper()
		s.post("/api/login", "application/json", `{"email":"active@example.com","password":"`+pw+`"}`, "X-Forwarded-For", ip, "User-Agent", chrome)
	}
	for range 3 {
		login("81.2.69.10", "wrong")
	}
	login("81.2.69.10", password)
	for range 2 {
		login("1.128.0.7", "wrong")
	}
	s.waitEvents(6)
	waitTargets(t, "the six events stored", func() bool { return s.apiTotal("") == 6 })

	for q, want := range map[string]int{"country=gb": 4, "country=AU": 2, "asn=AS1221": 2, "asn=20712": 4, "deviceType=desktop": 6, "country=FR": 0} {
		if got := s.apiTotal(q); got != want {
			t.Errorf("login-logs?%s: %d events, want %d", q, got, want)
		}
	}
	if st, b := s.callAPI("GET", "/api/v1/login-logs?country=GBR", readToken, "", ""); st != 400 {
		t.Errorf("country=GBR: %d %s, want 400", st, b)
	}

	st, b := s.callAPI("GET", "/api/v1/stats", readToken, "", "")
	var stats struct {
		ByCountry []struct {
			Country            string
			Attempts, Failures int
		}
		TopAsns []struct {
			Asn      int
			Org      string
			Failures int
		}
	}
	if err := json.Unmarshal([]byte(b), &stats); st != 200 || err != nil {
		t.Fatalf("stats: %d %s", st, b)
	}
	if len(stats.ByCountry) != 2 || stats.ByCountry[0].Country != "GB" || stats.ByCountry[0].Attempts != 4 || stats.ByCountry[1].Failures != 2 {
		t.Errorf("byCountry %+v, want GB 4 attempts then AU 2 failures", stats.ByCountry)
	}
	if len(stats.TopAsns) != 2 || stats.TopAsns[0].Asn != 20712 || stats.TopAsns[0].Failures != 3 || stats.TopAsns[0].Org != "Andrews & Arnold Ltd" {
		t.Errorf("topAsns %+v, want AS20712 with 3 failures first", stats.TopAsns)
	}

	// The audit-log API's example: the failed logins, newest first.
	st, b = s.callAPI("GET", "/api/v1/audit-logs?eventType=USER_LOGIN_FAILED&page=0&size=10&sort=timestamp,desc", readToken, "", "")
	var page api.Page[api.AuditLog]
	if err := json.Unmarshal([]byte(b), &page); st != 200 || err != nil {
		t.Fatalf("audit-logs: %d %s", st, b)
	}
	if page.TotalElements != 5 || len(page.Content) != 5 || page.Content[0].Metadata.Location != "Sydney, NSW, AU" ||
		page.Content[4].Metadata.Location != "London, ENG, GB" || page.Content[0].EventType != "USER_LOGIN_FAILED" {
		t.Errorf("audit-logs: %s", b)
	}
}
