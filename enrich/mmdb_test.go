package enrich

import (
	"testing"

	"github.com/loginguard/loginguard/enrich/enrichtest"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Test databases, written by mmdbwriter in the layouts of the real ones.

type netRec = enrichtest.Net

var (
	geoLiteCity = enrichtest.GeoLiteCity
	dbipCity    = enrichtest.DBIPCity
	asnRec      = enrichtest.ASN
	writeDB     = enrichtest.Write
)

// buildDB returns the bytes of a MaxMind DB of type dbType holding recs.
func buildDB(t testing.TB, dbType string, recs ...netRec) []byte {
	return enrichtest.Build(t, dbType, false, recs...)
}

// buildDBOpt is buildDB, with reserved networks allowed when reserved.
func buildDBOpt(t testing.TB, dbType string, reserved bool, recs ...netRec) []byte {
	return enrichtest.Build(t, dbType, reserved, recs...)
}

// The test data: London and a US network in GeoLite2 layouts, one IPv6 network.
func geoLiteCityDB(t testing.TB, city string) []byte {
	return buildDB(t, "GeoLite2-City",
		netRec{CIDR: "81.2.69.0/24", Rec: geoLiteCity("GB", "ENG", "England", city, 51.5142, -0.0931, 10)},
		netRec{CIDR: "2a02:c7c::/32", Rec: geoLiteCity("GB", "SCT", "Scotland", "Edinburgh", 55.9521, -3.1965, 100)},
		// An anycast network: registered country only.
		netRec{CIDR: "1.1.1.0/24", Rec: mmdbtype.Map{"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("au")}}},
	)
}

func geoLiteASNDB(t testing.TB, org string) []byte {
	return buildDB(t, "GeoLite2-ASN",
		netRec{CIDR: "81.2.64.0/20", Rec: asnRec(20712, org)},
		netRec{CIDR: "2a02:c7c::/32", Rec: asnRec(5607, "Sky UK Limited")},
	)
}
