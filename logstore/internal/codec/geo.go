package codec

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/loginguard/loginguard/event"
)

// CoordScale is the fixed point of stored coordinates: micro-degrees (about
// 0.1 m), finer than any GeoIP database; a value with at most six decimals
// reads back as the same float64.
const CoordScale = 1e6

// Coord returns the stored form of a latitude or longitude.
func Coord(v float64) int64 { return int64(math.Round(v * CoordScale)) }

// FromCoord returns the latitude or longitude of a stored value.
func FromCoord(v int64) float64 { return float64(v) / CoordScale }

// HasGeoRest reports whether e has location or device fields other than the
// country, ASN and device type, which stores keep in columns of their own.
func HasGeoRest(e *event.Event) bool {
	return e.RegionCode != "" || e.Region != "" || e.City != "" || e.ASOrg != "" || e.Browser != "" || e.OS != "" ||
		e.HasCoordinates() || e.AccuracyRadius != 0 || e.Bot
}

// AppendGeoRest appends those other fields of e, strings inline: region code,
// region, city, AS organisation, browser and OS as uvarint length and bytes,
// then latitude and longitude (Coord) and accuracy radius as varints, then
// bot as one byte (0 or 1).
func AppendGeoRest(b []byte, e *event.Event) []byte {
	for _, s := range [...]string{e.RegionCode, e.Region, e.City, e.ASOrg, e.Browser, e.OS} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendVarint(b, Coord(e.Latitude))
	b = binary.AppendVarint(b, Coord(e.Longitude))
	b = binary.AppendVarint(b, int64(e.AccuracyRadius))
	if e.Bot {
		return append(b, 1)
	}
	return append(b, 0)
}

var errCorruptGeo = errors.New("corrupt location and device fields")

// ReadGeoRest decodes AppendGeoRest's bytes into e.
func ReadGeoRest(b []byte, e *event.Event) error {
	for _, p := range [...]*string{&e.RegionCode, &e.Region, &e.City, &e.ASOrg, &e.Browser, &e.OS} {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return errCorruptGeo
		}
		*p, b = string(b[n:n+int(l)]), b[n+int(l):]
	}
	var v [3]int64
	for i := range v {
		x, n := binary.Varint(b)
		if n <= 0 {
			return errCorruptGeo
		}
		v[i], b = x, b[n:]
	}
	if len(b) != 1 || b[0] > 1 {
		return errCorruptGeo
	}
	e.Latitude, e.Longitude, e.AccuracyRadius, e.Bot = FromCoord(v[0]), FromCoord(v[1]), int(v[2]), b[0] == 1
	return nil
}
