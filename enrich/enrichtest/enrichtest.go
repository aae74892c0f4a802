// Package enrichtest writes MaxMind DB files in the layouts of the real
// GeoIP databases (GeoLite2 and DB-IP Lite, city and AS), for tests.
package enrichtest

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Net is one network of a database and its record.
type Net struct {
	CIDR string
	Rec  mmdbtype.Map
}

func locNames(en string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(en), "de": mmdbtype.String(en + " (de)")}
}

// GeoLiteCity is a record of GeoLite2-City's layout.
func GeoLiteCity(cc, subCode, sub, city string, lat, lon float64, radius uint16) mmdbtype.Map {
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

// DBIPCity is a record of DB-IP IP-to-City Lite's layout: subdivisions
// without iso_code, location without accuracy_radius.
func DBIPCity(cc, sub, city string, lat, lon float64) mmdbtype.Map {
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

// ASN is a record of GeoLite2-ASN's layout.
func ASN(n uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n), "autonomous_system_organization": mmdbtype.String(org)}
}

// Build returns the bytes of a MaxMind DB of type dbType holding recs, with
// reserved networks (private, loopback, ...) allowed when reserved.
func Build(t testing.TB, dbType string, reserved bool, recs ...Net) []byte {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{IncludeReservedNetworks: reserved, DatabaseType: dbType, Description: map[string]string{"en": "loginguard test " + dbType}, RecordSize: 28, Languages: []string{"en", "de"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		_, n, err := net.ParseCIDR(r.CIDR)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, r.Rec); err != nil {
			t.Fatalf("insert %s: %v", r.CIDR, err)
		}
	}
	var b bytes.Buffer
	if _, err := tree.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Write writes a database to dir/name by a rename, as geoipupdate does.
func Write(t testing.TB, dir, name string, b []byte) string {
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
