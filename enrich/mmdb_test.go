package enrich

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Test databases, written by mmdbwriter in the layouts of the real ones.

type netRec struct {
	cidr string
	rec  mmdbtype.Map
}

func locNames(en string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(en), "de": mmdbtype.String(en + " (de)")}
}

// geoLiteCity is a record of GeoLite2-City's layout.
func geoLiteCity(cc, subCode, sub, city string, lat, lon float64, radius uint16) mmdbtype.Map {
	return mmdbtype.Map{
		"continent":          mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148), "names": locNames("Europe")},
		"country":            mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2635167), "iso_code": mmdbtype.String(cc), "names": locNames(cc + " land")},
		"registered_country": mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2635167), "iso_code": mmdbtype.String(cc), "names": locNames(cc + " land")},
		"subdivisions": mmdbtype.Slice{
			mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1), "iso_code": mmdbtype.String(subCode), "names": locNames(sub)},
			mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2), "iso_code": mmdbtype.String("XX"), "names": locNames("second level")},
		},
		"city":     mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2643743), "names": locNames(city)},
		"location": mmdbtype.Map{"accuracy_radius": mmdbtype.Uint16(radius), "latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon), "time_zone": mmdbtype.String("Europe/London")},
		"postal":   mmdbtype.Map{"code": mmdbtype.String("W1")},
	}
}

// dbipCity is a record of DB-IP IP-to-City Lite's layout: subdivisions
// without iso_code, location without accuracy_radius.
func dbipCity(cc, sub, city string, lat, lon float64) mmdbtype.Map {
	return mmdbtype.Map{
		"city":      mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(city)}},
		"continent": mmdbtype.Map{"code": mmdbtype.String("NA"), "geoname_id": mmdbtype.Uint32(6255149), "names": locNames("North America")},
		"country":   mmdbtype.Map{"geoname_id": mmdbtype.Uint32(6252001), "is_in_european_union": mmdbtype.Bool(false), "iso_code": mmdbtype.String(cc), "names": locNames(cc)},
		"location":  mmdbtype.Map{"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon)},
		"subdivisions": mmdbtype.Slice{
			mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(sub)}},
		},
	}
}

func asnRec(n uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n), "autonomous_system_organization": mmdbtype.String(org)}
}

// buildDB returns the bytes of a MaxMind DB of type dbType holding recs.
func buildDB(t testing.TB, dbType string, recs ...netRec) []byte {
	return buildDBOpt(t, dbType, false, recs...)
}

// buildDBOpt is buildDB, with reserved networks (private, loopback, ...)
// allowed when reserved.
func buildDBOpt(t testing.TB, dbType string, reserved bool, recs ...netRec) []byte {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{IncludeReservedNetworks: reserved, DatabaseType: dbType, Description: map[string]string{"en": "loginguard test " + dbType}, RecordSize: 28, Languages: []string{"en", "de"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		_, n, err := net.ParseCIDR(r.cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, r.rec); err != nil {
			t.Fatalf("insert %s: %v", r.cidr, err)
		}
	}
	var b bytes.Buffer
	if _, err := tree.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeDB writes a database to dir/name by a rename, as geoipupdate does.
func writeDB(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// The test data: London and a US network in GeoLite2 layouts, one IPv6 network.
func geoLiteCityDB(t testing.TB, city string) []byte {
	return buildDB(t, "GeoLite2-City",
		netRec{"81.2.69.0/24", geoLiteCity("GB", "ENG", "England", city, 51.5142, -0.0931, 10)},
		netRec{"2a02:c7c::/32", geoLiteCity("GB", "SCT", "Scotland", "Edinburgh", 55.9521, -3.1965, 100)},
		// An anycast network: registered country only.
		netRec{"1.1.1.0/24", mmdbtype.Map{"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("au")}}},
	)
}

func geoLiteASNDB(t testing.TB, org string) []byte {
	return buildDB(t, "GeoLite2-ASN",
		netRec{"81.2.64.0/20", asnRec(20712, org)},
		netRec{"2a02:c7c::/32", asnRec(5607, "Sky UK Limited")},
	)
}
