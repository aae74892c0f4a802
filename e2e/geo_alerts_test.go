package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/loginguard/loginguard/enrich/enrichtest"
	"github.com/loginguard/loginguard/event"
)

// TestGeoAlerts: through real Caddy with GeoIP databases and geo_alerts, a
// login from across the world an hour after one from London fires
// impossible_travel and new_country once; failures on one account from five
// networks fire many_asns once; a first login and the same place again fire
// nothing.
func TestGeoAlerts(t *testing.T) {
	dir := t.TempDir()
	city := enrichtest.Write(t, dir, "city.mmdb", enrichtest.Build(t, "GeoLite2-City", false,
		enrichtest.Net{CIDR: "81.2.69.0/24", Rec: enrichtest.GeoLiteCity("GB", "ENG", "England", "London", 51.5142, -0.0931, 10)},
		enrichtest.Net{CIDR: "1.128.0.0/16", Rec: enrichtest.GeoLiteCity("AU", "NSW", "New South Wales", "Sydney", -33.8715, 151.2006, 10)}))
	var nets []enrichtest.Net
	for i := range 5 {
		nets = append(nets, enrichtest.Net{CIDR: fmt.Sprintf("%d.0.0.0/8", 11+i), Rec: enrichtest.ASN(uint32(64500+i), fmt.Sprintf("Hosting %d", i))})
	}
	asn := enrichtest.Write(t, dir, "asn.mmdb", enrichtest.Build(t, "GeoLite2-ASN", false, nets...))
	cf := config{Global: trustXFF, App: `enrich {
			city {$CITY_DB}
			asn {$ASN_DB}
		}
		geo_alerts`, Handler: `lockout {
			max_failures 50
		}`}.String()
	s := newStack(t, stackOptions{Caddyfile: cf, Env: []string{"CITY_DB=" + city, "ASN_DB=" + asn}})
	n := 0
	login := func(ip, email, pw string) {
		t.Helper()
		s.post("/api/login", "application/json", fmt.Sprintf(`{"email":%q,"password":%q}`, email, pw),
			"X-Forwarded-For", ip, "User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
		n++
	}
	login("81.2.69.10", "active@example.com", password) // a first login: nothing
	login("81.2.69.11", "active@example.com", password) // the same place: nothing
	time.Sleep(300 * time.Millisecond)                  // the two are judged in order anyway; this keeps their dates apart
	login("1.128.0.7", "active@example.com", password)  // Sydney, moments later
	for i := range 6 {                                  // six failures from five networks
		login(fmt.Sprintf("%d.1.2.3", 11+i%5), "waiting@example.com", "guess")
	}

	want := map[string]string{
		"impossible_travel": "alert rule=impossible_travel subject=active@example.com",
		"new_country":       "alert rule=new_country subject=active@example.com",
		"many_asns":         "alert rule=many_asns subject=waiting@example.com count=5",
	}
	evs := s.waitEvents(n + len(want))
	time.Sleep(500 * time.Millisecond) // a second alert of a rule would come now
	alerts := byType(s.readEvents(), event.Alert)
	if len(alerts) != len(want) {
		for _, a := range alerts {
			t.Log(event.Value(a.Message))
		}
		t.Fatalf("%d ALERT events in %d events, want %d", len(alerts), len(evs), len(want))
	}
	checkAlerts(t, alerts, want)
}
