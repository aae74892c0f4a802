package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/loginguard/loginguard/enrich/enrichtest"
	"github.com/loginguard/loginguard/event"
)

// TestEnrichment: with GeoIP databases configured, each login event carries
// the client's location and network, and the device read from its user agent;
// a database replaced while Caddy runs is used without a restart; a client
// the databases do not know gets the device only.
func TestEnrichment(t *testing.T) {
	dir := t.TempDir()
	city := func(name string) []byte {
		return enrichtest.Build(t, "GeoLite2-City", false,
			enrichtest.Net{CIDR: "81.2.69.0/24", Rec: enrichtest.GeoLiteCity("GB", "ENG", "England", name, 51.5142, -0.0931, 10)})
	}
	cityDB := enrichtest.Write(t, dir, "city.mmdb", city("London"))
	asnDB := enrichtest.Write(t, dir, "asn.mmdb", enrichtest.Build(t, "GeoLite2-ASN", false,
		enrichtest.Net{CIDR: "81.2.64.0/20", Rec: enrichtest.ASN(20712, "Andrews & Arnold Ltd")}))
	cf := config{Global: trustXFF, App: `enrich {
			city {$CITY_DB}
			asn {$ASN_DB}
			reload 100ms
		}`}.String()
	s := newStack(t, stackOptions{Caddyfile: cf, Env: []string{"CITY_DB=" + cityDB, "ASN_DB=" + asnDB}})
	const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	login := func(ip, ua string) {
		t.Helper()
		s.post("/api/login", "application/json", `{"email":"active@example.com","password":"wrong"}`,
			"X-Forwarded-For", ip, "User-Agent", ua)
	}
	login("81.2.69.160", chrome)
	login("198.51.100.7", "curl/8.5.0")
	evs := s.waitEvents(2)
	want := event.Geo{Country: "GB", RegionCode: "ENG", Region: "England", City: "London", Latitude: 51.5142, Longitude: -0.0931, AccuracyRadius: 10, ASN: 20712, ASOrg: "Andrews & Arnold Ltd"}
	if evs[0].Geo != want {
		t.Errorf("location %+v, want %+v", evs[0].Geo, want)
	}
	if d := evs[0].Device; d.Browser != "Chrome" || d.OS != "Windows" || d.DeviceType != "desktop" || d.Bot {
		t.Errorf("device %+v, want Chrome on Windows, desktop", d)
	}
	if evs[1].Geo != (event.Geo{}) || !evs[1].Device.Bot {
		t.Errorf("unknown address: location %+v, device %+v; want none and a bot", evs[1].Geo, evs[1].Device)
	}

	// The city database is replaced (renamed over, as geoipupdate does).
	enrichtest.Write(t, filepath.Dir(cityDB), "city.mmdb", city("City of London"))
	deadline := time.Now().Add(20 * time.Second)
	for n := 3; ; n++ {
		login("81.2.69.160", chrome)
		if evs := s.waitEvents(n); evs[n-1].City == "City of London" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replaced city database was not used within 20 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
