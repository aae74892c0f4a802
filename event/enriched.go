package event

import (
	"strconv"
	"strings"
)

// Geo is where an event's remote address is, as GeoIP databases tell it. Every
// field is optional and left out of the JSON when empty; an event without a
// GeoIP database, or from a private or loopback address, has none.
type Geo struct {
	// Country is the ISO 3166-1 alpha-2 code of the country, upper case ("US").
	Country string `json:"country,omitempty"`
	// RegionCode is the ISO 3166-2 code of the first-level subdivision without
	// the country prefix ("CA" for California), when the database has it.
	RegionCode string `json:"regionCode,omitempty"`
	// Region is the English name of the first-level subdivision ("California").
	Region string `json:"region,omitempty"`
	// City is the English name of the city.
	City string `json:"city,omitempty"`
	// Latitude and Longitude are in decimal degrees. Both zero means unknown
	// (no database places an address at 0°, 0°).
	Latitude  float64 `json:"latitude,omitempty"`
	Longitude float64 `json:"longitude,omitempty"`
	// AccuracyRadius is the radius in km around the coordinates within which
	// the address is likely to be; 0 when the database does not say.
	AccuracyRadius int `json:"accuracyRadius,omitempty"`
	// ASN is the autonomous system number of the network, 0 when unknown.
	ASN int64 `json:"asn,omitempty"`
	// ASOrg is the organisation of that autonomous system.
	ASOrg string `json:"asOrg,omitempty"`
}

// HasCoordinates reports whether g has a location on the map.
func (g *Geo) HasCoordinates() bool { return g.Latitude != 0 || g.Longitude != 0 }

// Place returns the location as "City, Region, CC", the parts that are known
// joined by ", ", the region as its code when there is one ("San Francisco,
// CA, US"); "" when nothing is known.
func (g *Geo) Place() string {
	region := g.RegionCode
	if region == "" {
		region = g.Region
	}
	parts := make([]string, 0, 3)
	for _, p := range [...]string{g.City, region, g.Country} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

func (g *Geo) appendJSON(b []byte) []byte {
	for _, f := range [...]struct{ name, v string }{{`,"country":`, g.Country}, {`,"regionCode":`, g.RegionCode},
		{`,"region":`, g.Region}, {`,"city":`, g.City}} {
		if f.v != "" {
			b = append(b, f.name...)
			b = appendString(b, f.v)
		}
	}
	if g.HasCoordinates() {
		b = append(b, `,"latitude":`...)
		b = strconv.AppendFloat(b, g.Latitude, 'f', -1, 64)
		b = append(b, `,"longitude":`...)
		b = strconv.AppendFloat(b, g.Longitude, 'f', -1, 64)
	}
	if g.AccuracyRadius != 0 {
		b = append(b, `,"accuracyRadius":`...)
		b = strconv.AppendInt(b, int64(g.AccuracyRadius), 10)
	}
	if g.ASN != 0 {
		b = append(b, `,"asn":`...)
		b = strconv.AppendInt(b, g.ASN, 10)
	}
	if g.ASOrg != "" {
		b = append(b, `,"asOrg":`...)
		b = appendString(b, g.ASOrg)
	}
	return b
}

// Device types, the values of Device.DeviceType.
const (
	DeviceDesktop = "desktop"
	DeviceMobile  = "mobile"
	DeviceTablet  = "tablet"
	DeviceTV      = "tv"
	// DeviceBot is a client that is not a person's browser: a crawler, a
	// script, an HTTP library or an attack tool.
	DeviceBot = "bot"
)

// Device is what an event's user agent says the client is. Every field is
// optional and left out of the JSON when empty.
type Device struct {
	// Browser is the browser or client name ("Chrome", "Firefox", "curl").
	Browser string `json:"browser,omitempty"`
	// OS is the operating system ("Windows", "macOS", "iOS", "Android").
	OS string `json:"os,omitempty"`
	// DeviceType is one of the Device* constants, "" when unknown.
	DeviceType string `json:"deviceType,omitempty"`
	// Bot is true for clients that are not a person's browser (DeviceBot).
	Bot bool `json:"bot,omitempty"`
}

func (d *Device) appendJSON(b []byte) []byte {
	for _, f := range [...]struct{ name, v string }{{`,"browser":`, d.Browser}, {`,"os":`, d.OS}, {`,"deviceType":`, d.DeviceType}} {
		if f.v != "" {
			b = append(b, f.name...)
			b = appendString(b, f.v)
		}
	}
	if d.Bot {
		b = append(b, `,"bot":true`...)
	}
	return b
}
