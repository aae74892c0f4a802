package enrich

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newTest(t *testing.T, opt Options) *Enricher {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = quiet
	}
	e, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestGeoLite2Layout(t *testing.T) {
	dir := t.TempDir()
	e := newTest(t, Options{
		CityDB: writeDB(t, dir, "GeoLite2-City.mmdb", geoLiteCityDB(t, "London")),
		ASNDB:  writeDB(t, dir, "GeoLite2-ASN.mmdb", geoLiteASNDB(t, "Andrews & Arnold Ltd")),
	})
	for _, c := range []struct {
		ip   string
		want event.Geo
	}{
		{"81.2.69.142", event.Geo{Country: "GB", RegionCode: "ENG", Region: "England", City: "London", Latitude: 51.5142, Longitude: -0.0931,
			AccuracyRadius: 10, ASN: 20712, ASOrg: "Andrews & Arnold Ltd"}},
		// In the AS database only.
		{"81.2.70.1", event.Geo{ASN: 20712, ASOrg: "Andrews & Arnold Ltd"}},
		{"::ffff:81.2.69.142", event.Geo{Country: "GB", RegionCode: "ENG", Region: "England", City: "London", Latitude: 51.5142, Longitude: -0.0931,
			AccuracyRadius: 10, ASN: 20712, ASOrg: "Andrews & Arnold Ltd"}},
		{"2a02:c7c:1234::1", event.Geo{Country: "GB", RegionCode: "SCT", Region: "Scotland", City: "Edinburgh", Latitude: 55.9521, Longitude: -3.1965,
			AccuracyRadius: 100, ASN: 5607, ASOrg: "Sky UK Limited"}},
		// Registered country when the database has no country (anycast).
		{"1.1.1.1", event.Geo{Country: "AU"}},
		// Not in either database.
		{"8.8.8.8", event.Geo{}},
	} {
		ev := event.Event{RemoteAddress: c.ip}
		e.Enrich(&ev)
		if ev.Geo != c.want {
			t.Errorf("%s: got %+v\nwant %+v", c.ip, ev.Geo, c.want)
		}
	}
	ev := event.Event{RemoteAddress: "81.2.69.142"}
	e.Enrich(&ev)
	if got := ev.Place(); got != "London, ENG, GB" {
		t.Errorf("Place() = %q", got)
	}
}

func TestDBIPLiteLayout(t *testing.T) {
	dir := t.TempDir()
	e := newTest(t, Options{
		CityDB: writeDB(t, dir, "dbip-city-lite.mmdb", buildDB(t, "DBIP-City-Lite",
			netRec{CIDR: "8.8.8.0/24", Rec: dbipCity("US", "California", "Mountain View", 37.4056, -122.0775)})),
		ASNDB: writeDB(t, dir, "dbip-asn-lite.mmdb", buildDB(t, "DBIP-ASN-Lite (compat=GeoLite2-ASN)",
			netRec{CIDR: "8.8.8.0/24", Rec: asnRec(15169, "Google LLC")})),
	})
	ev := event.Event{RemoteAddress: "8.8.8.8"}
	e.Enrich(&ev)
	want := event.Geo{Country: "US", Region: "California", City: "Mountain View", Latitude: 37.4056, Longitude: -122.0775, ASN: 15169, ASOrg: "Google LLC"}
	if ev.Geo != want {
		t.Errorf("got %+v\nwant %+v", ev.Geo, want)
	}
	if got := ev.Place(); got != "Mountain View, California, US" {
		t.Errorf("Place() = %q", got)
	}
}

func TestNoGeoForPrivateOrBadAddresses(t *testing.T) {
	dir := t.TempDir()
	// A database that places the whole address space somewhere: the
	// addresses below get nothing all the same.
	var city, asn []netRec
	for _, n := range []string{"0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"} {
		city = append(city, netRec{CIDR: n, Rec: geoLiteCity("ZZ", "Z", "Zone", "Nowhere", 1, 1, 1)})
		asn = append(asn, netRec{CIDR: n, Rec: asnRec(64512, "Private")})
	}
	e := newTest(t, Options{CityDB: writeDB(t, dir, "c.mmdb", buildDBOpt(t, "GeoLite2-City", true, city...)),
		ASNDB: writeDB(t, dir, "a.mmdb", buildDBOpt(t, "GeoLite2-ASN", true, asn...))})
	if g := e.Geo("81.2.69.142"); g.City != "Nowhere" || g.ASN != 64512 {
		t.Fatalf("public address: %+v", g)
	}
	for _, ip := range []string{"10.1.2.3", "192.168.0.1", "172.16.5.4", "127.0.0.1", "::1", "fe80::1%eth0", "fe80::1", "169.254.1.1",
		"100.64.0.1", "fd00::1", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "", "not-an-ip", "81.2.69.142:443"} {
		ev := event.Event{RemoteAddress: ip}
		e.Enrich(&ev)
		if ev.Geo != (event.Geo{}) {
			t.Errorf("%q: got %+v, want no location", ip, ev.Geo)
		}
	}
}

func TestWithoutDatabasesNothingChanges(t *testing.T) {
	e := newTest(t, Options{NoDevice: true})
	ev := event.Event{RemoteAddress: "81.2.69.142", UserAgent: "curl/8.5.0"}
	e.Enrich(&ev)
	if ev.Geo != (event.Geo{}) || ev.Device != (event.Device{}) {
		t.Errorf("got %+v %+v", ev.Geo, ev.Device)
	}
	if got := string(ev.AppendJSON(nil)); strings.Contains(got, "country") || strings.Contains(got, "browser") {
		t.Errorf("JSON has enrichment fields: %s", got)
	}
}

func TestBadOptions(t *testing.T) {
	dir := t.TempDir()
	city := writeDB(t, dir, "city.mmdb", geoLiteCityDB(t, "London"))
	asn := writeDB(t, dir, "asn.mmdb", geoLiteASNDB(t, "AA"))
	junk := filepath.Join(dir, "junk.mmdb")
	os.WriteFile(junk, []byte("not a database"), 0o644)
	whole := geoLiteCityDB(t, "London")
	half := filepath.Join(dir, "half.mmdb")
	os.WriteFile(half, whole[:len(whole)/2], 0o644)
	for _, c := range []struct {
		opt  Options
		want string
	}{
		{Options{CityDB: filepath.Join(dir, "missing.mmdb")}, "CityDB"},
		{Options{ASNDB: filepath.Join(dir, "missing.mmdb")}, "ASNDB"},
		{Options{CityDB: asn}, "CityDB \"" + asn + "\" is an autonomous system database"},
		{Options{ASNDB: city}, "want an autonomous system database"},
		{Options{CityDB: junk}, "CityDB \"" + junk + "\": want a MaxMind DB file"},
		{Options{CityDB: half}, "CityDB"},
		{Options{CityDB: city, ASNDB: junk}, "ASNDB"},
		{Options{UACacheSize: -1}, "UACacheSize -1: want 0 (default 4096) or more"},
	} {
		c.opt.Logger = quiet
		e, err := New(c.opt)
		if err == nil {
			e.Close()
			t.Errorf("%+v: accepted", c.opt)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %q does not say %q", c.opt, err, c.want)
		}
	}
}

// TestReloadWaitsForAStableFile: a changed file is opened only once it looked
// the same at two checks in a row; a damaged one never replaces the one in use.
func TestReloadWaitsForAStableFile(t *testing.T) {
	dir := t.TempDir()
	path := writeDB(t, dir, "city.mmdb", geoLiteCityDB(t, "London"))
	e := newTest(t, Options{CityDB: path, ReloadInterval: -1})
	city := func() string { return e.Geo("81.2.69.142").City }

	// Rewritten in place, half-way: seen once, then twice; never opened.
	next := geoLiteCityDB(t, "Londinium")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(next[:len(next)/2])
	f.Close()
	if err := e.city.reload(false, quiet); err != nil || city() != "London" {
		t.Fatalf("first check after a change: err %v, city %q (want the old database)", err, city())
	}
	if err := e.city.reload(false, quiet); err == nil || city() != "London" {
		t.Fatalf("second check of a half-written file: err %v, city %q (want an error and the old database)", err, city())
	}
	// Replaced by a whole file: opened at the second check that sees it.
	writeDB(t, dir, "city.mmdb", next)
	if err := e.city.reload(false, quiet); err != nil || city() != "London" {
		t.Fatalf("first check of the new file: err %v, city %q", err, city())
	}
	if err := e.city.reload(false, quiet); err != nil || city() != "Londinium" {
		t.Fatalf("second check of the new file: err %v, city %q", err, city())
	}
	// Reload opens a changed file at once.
	writeDB(t, dir, "city.mmdb", geoLiteCityDB(t, "Lundenwic"))
	if err := e.Reload(); err != nil || city() != "Lundenwic" {
		t.Fatalf("Reload: err %v, city %q", err, city())
	}
	// A removed file: the database in use stays.
	os.Remove(path)
	if err := e.Reload(); err == nil || city() != "Lundenwic" {
		t.Fatalf("Reload of a removed file: err %v, city %q", err, city())
	}
	// The private copies are unlinked once mapped.
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left in the database directory: %v", left)
	}
}

// TestReloadPolls: the background check picks a replaced file up.
func TestReloadPolls(t *testing.T) {
	dir := t.TempDir()
	path := writeDB(t, dir, "asn.mmdb", geoLiteASNDB(t, "Old Org"))
	e := newTest(t, Options{ASNDB: path, ReloadInterval: 10 * time.Millisecond})
	writeDB(t, dir, "asn.mmdb", geoLiteASNDB(t, "New Org"))
	deadline := time.Now().Add(10 * time.Second)
	for e.Geo("81.2.69.142").ASOrg != "New Org" {
		if time.Now().After(deadline) {
			t.Fatalf("not reloaded: %+v", e.Geo("81.2.69.142"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEnrichDuringReloads: lookups run while the database is swapped and the
// old one unmapped (run with -race; without the read lock a lookup reads an
// unmapped file).
func TestEnrichDuringReloads(t *testing.T) {
	dir := t.TempDir()
	dbs := [][]byte{geoLiteCityDB(t, "A"), geoLiteCityDB(t, "B")}
	path := writeDB(t, dir, "city.mmdb", dbs[0])
	e := newTest(t, Options{CityDB: path, ReloadInterval: -1})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad sync.Map
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ev := event.Event{RemoteAddress: "81.2.69.142"}
				e.Enrich(&ev)
				if ev.City != "A" && ev.City != "B" {
					bad.Store(ev.City, true)
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		writeDB(t, dir, "city.mmdb", dbs[(i+1)%2])
		// A distinct modification time for each version.
		os.Chtimes(path, time.Now(), time.Unix(int64(1000+i), 0))
		if err := e.Reload(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	bad.Range(func(k, _ any) bool { t.Errorf("city %q", k); return true })
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Options{CityDB: writeDB(t, dir, "c.mmdb", geoLiteCityDB(t, "London")), ReloadInterval: time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestPrecision: a coarser precision keeps less of the location (for privacy)
// and the network in every case; an unknown precision is refused.
func TestPrecision(t *testing.T) {
	dir := t.TempDir()
	city := writeDB(t, dir, "GeoLite2-City.mmdb", geoLiteCityDB(t, "London"))
	asn := writeDB(t, dir, "GeoLite2-ASN.mmdb", geoLiteASNDB(t, "Andrews & Arnold Ltd"))
	for _, c := range []struct {
		precision string
		want      event.Geo
	}{
		{"", event.Geo{Country: "GB", RegionCode: "ENG", Region: "England", City: "London", Latitude: 51.5142, Longitude: -0.0931, AccuracyRadius: 10, ASN: 20712, ASOrg: "Andrews & Arnold Ltd"}},
		{PrecisionRegion, event.Geo{Country: "GB", RegionCode: "ENG", Region: "England", ASN: 20712, ASOrg: "Andrews & Arnold Ltd"}},
		{PrecisionCountry, event.Geo{Country: "GB", ASN: 20712, ASOrg: "Andrews & Arnold Ltd"}},
	} {
		e := newTest(t, Options{CityDB: city, ASNDB: asn, Precision: c.precision})
		ev := event.Event{RemoteAddress: "81.2.69.142"}
		e.Enrich(&ev)
		if ev.Geo != c.want {
			t.Errorf("precision %q: got %+v\nwant %+v", c.precision, ev.Geo, c.want)
		}
	}
	if _, err := New(Options{Precision: "street"}); err == nil || !strings.Contains(err.Error(), "Precision") {
		t.Errorf("precision street: %v", err)
	}
}
