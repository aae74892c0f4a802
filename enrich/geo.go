package enrich

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/loginguard/loginguard/event"
)

type dbKind int

const (
	kindCity dbKind = iota
	kindASN
)

// dbFile is one database file, memory-mapped, and the signature of the file
// it was opened from. Lookups hold mu for reading, so a reload's swap (which
// holds it for writing) never unmaps a reader in use.
type dbFile struct {
	field, path string
	kind        dbKind

	mu    sync.RWMutex
	r     *maxminddb.Reader
	cache *recordCache // decoded records of r, by offset

	rmu     sync.Mutex // serialises reloads; guards the fields below
	loaded  fileSig    // the file r was opened from
	pending fileSig    // a changed signature seen at the last check
}

// fileSig tells whether a file changed: replaced (a new inode, as
// geoipupdate and mv do) or rewritten (size or modification time).
type fileSig struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func statSig(path string) (fileSig, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileSig{}, err
	}
	s := fileSig{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = uint64(st.Ino)
	}
	return s, nil
}

func openDB(field, path string, kind dbKind) (*dbFile, error) {
	d := &dbFile{field: field, path: path, kind: kind}
	sig, err := statSig(path)
	if err != nil {
		return nil, fmt.Errorf("enrich: %s %q: %w", field, path, err)
	}
	r, err := d.open()
	if err != nil {
		return nil, err
	}
	d.r, d.cache, d.loaded = r, newRecordCache(recordCacheSize), sig
	return d, nil
}

// open opens and checks the file: a MaxMind DB of the expected kind whose
// search tree and data section are whole. It maps a private copy of the
// file, unlinked once mapped (see privateCopy), so that a file rewritten in
// place later never changes, or truncates, the memory a lookup reads.
func (d *dbFile) open() (*maxminddb.Reader, error) {
	cp, err := privateCopy(d.path)
	if err != nil {
		return nil, fmt.Errorf("enrich: %s %q: %w", d.field, d.path, err)
	}
	r, err := maxminddb.Open(cp)
	os.Remove(cp)
	if err != nil {
		return nil, fmt.Errorf("enrich: %s %q: want a MaxMind DB file (.mmdb): %w", d.field, d.path, err)
	}
	t := r.Metadata.DatabaseType
	asn := strings.Contains(t, "ASN") || strings.Contains(t, "ISP")
	switch {
	case d.kind == kindCity && asn:
		r.Close()
		return nil, fmt.Errorf("enrich: %s %q is an autonomous system database (%s): want a city database such as GeoLite2-City (the AS one goes in ASNDB)", d.field, d.path, t)
	case d.kind == kindASN && !asn:
		r.Close()
		return nil, fmt.Errorf("enrich: %s %q is a %q database: want an autonomous system database such as GeoLite2-ASN", d.field, d.path, t)
	}
	if err := r.Verify(); err != nil {
		r.Close()
		return nil, fmt.Errorf("enrich: %s %q: damaged or incomplete database: %w", d.field, d.path, err)
	}
	return r, nil
}

// reload re-opens the file when it changed. Unless now, a change must be
// seen at two checks in a row (the file is still the same at the second), so
// that a file being copied into place is not opened half-written.
func (d *dbFile) reload(now bool, log *slog.Logger) error {
	if d == nil {
		return nil
	}
	d.rmu.Lock()
	defer d.rmu.Unlock()
	sig, err := statSig(d.path)
	if err != nil {
		return fmt.Errorf("enrich: %s %q: %w (the database opened before stays in use)", d.field, d.path, err)
	}
	if sig == d.loaded {
		d.pending = fileSig{}
		return nil
	}
	if !now && sig != d.pending {
		d.pending = sig
		return nil
	}
	r, err := d.open()
	if err != nil {
		// Retried when the file changes again.
		d.loaded, d.pending = sig, fileSig{}
		return fmt.Errorf("%w (the database opened before stays in use)", err)
	}
	if after, err := statSig(d.path); err != nil || after != sig {
		r.Close()
		return nil // changed while opened: the next check sees it
	}
	d.mu.Lock()
	old := d.r
	d.r, d.cache = r, newRecordCache(recordCacheSize)
	d.mu.Unlock()
	d.loaded, d.pending = sig, fileSig{}
	log.Info("GeoIP database reloaded", "file", d.path, "type", r.Metadata.DatabaseType,
		"built", time.Unix(int64(r.Metadata.BuildEpoch), 0).UTC())
	if old != nil {
		return old.Close()
	}
	return nil
}

// privateCopy copies the file at path to a new file beside it (or, when that
// directory is read-only, in the temporary directory) and returns its path.
// The caller maps the copy and removes its name: the mapping stays valid
// and no other process can write to it.
func privateCopy(path string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp(filepath.Dir(path), ".loginguard-geoip-*.mmdb")
	if err != nil {
		if dst, err = os.CreateTemp("", "loginguard-geoip-*.mmdb"); err != nil {
			return "", fmt.Errorf("copy the database: %w", err)
		}
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst.Name())
		return "", fmt.Errorf("copy the database: %w", err)
	}
	return dst.Name(), nil
}

func (d *dbFile) close() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.r == nil {
		return nil
	}
	err := d.r.Close()
	d.r = nil
	return err
}

// names is the part of a MaxMind DB "names" map loginguard keeps.
type names struct {
	EN string `maxminddb:"en"`
}

// cityRecord is the part of a GeoLite2-City / DB-IP City Lite record read.
// DB-IP's has no subdivision iso_code and no accuracy_radius.
type cityRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Subdivisions []struct {
		ISOCode string `maxminddb:"iso_code"`
		Names   names  `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
	City struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"city"`
	Location struct {
		Latitude       float64 `maxminddb:"latitude"`
		Longitude      float64 `maxminddb:"longitude"`
		AccuracyRadius int     `maxminddb:"accuracy_radius"`
	} `maxminddb:"location"`
}

// asnRecord is a GeoLite2-ASN / DB-IP ASN Lite record.
type asnRecord struct {
	Number       int64  `maxminddb:"autonomous_system_number"`
	Organization string `maxminddb:"autonomous_system_organization"`
}

// lookupCity sets g's location fields from the city database; a failed
// lookup (an address not in the database, a damaged record) sets none.
func (d *dbFile) lookupCity(ip netip.Addr, g *event.Geo) {
	if d == nil {
		return
	}
	rec, ok := d.lookup(ip, decodeCity)
	if !ok {
		return
	}
	g.Country, g.RegionCode, g.Region, g.City = rec.Country, rec.RegionCode, rec.Region, rec.City
	g.Latitude, g.Longitude, g.AccuracyRadius = rec.Latitude, rec.Longitude, rec.AccuracyRadius
}

// lookupASN sets g's ASN and ASOrg from the AS database.
func (d *dbFile) lookupASN(ip netip.Addr, g *event.Geo) {
	if d == nil {
		return
	}
	if rec, ok := d.lookup(ip, decodeASN); ok {
		g.ASN, g.ASOrg = rec.ASN, rec.ASOrg
	}
}

// lookup finds ip's record and returns it decoded by decode, from the cache
// when the record (many networks share one: a city, an AS) was decoded before.
func (d *dbFile) lookup(ip netip.Addr, decode func(maxminddb.Result) (event.Geo, error)) (event.Geo, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.r == nil {
		return event.Geo{}, false
	}
	res := d.r.Lookup(ip)
	if !res.Found() {
		return event.Geo{}, false
	}
	off := res.Offset()
	if g, ok := d.cache.get(off); ok {
		return g, true
	}
	g, err := decode(res)
	if err != nil {
		return event.Geo{}, false
	}
	d.cache.put(off, g)
	return g, true
}

func decodeCity(res maxminddb.Result) (event.Geo, error) {
	var rec cityRecord
	if err := res.Decode(&rec); err != nil {
		return event.Geo{}, err
	}
	g := event.Geo{Country: strings.ToUpper(rec.Country.ISOCode), City: rec.City.Names.EN,
		Latitude: rec.Location.Latitude, Longitude: rec.Location.Longitude, AccuracyRadius: rec.Location.AccuracyRadius}
	if g.Country == "" {
		g.Country = strings.ToUpper(rec.RegisteredCountry.ISOCode)
	}
	if len(rec.Subdivisions) > 0 {
		g.RegionCode, g.Region = rec.Subdivisions[0].ISOCode, rec.Subdivisions[0].Names.EN
	}
	return g, nil
}

func decodeASN(res maxminddb.Result) (event.Geo, error) {
	var rec asnRecord
	if err := res.Decode(&rec); err != nil {
		return event.Geo{}, err
	}
	return event.Geo{ASN: rec.Number, ASOrg: rec.Organization}, nil
}

// recordCacheSize bounds the decoded records kept per database (twice this
// at most, see recordCache).
const recordCacheSize = 8192

// recordCache keeps decoded records by their offset in the database, in two
// generations like the user agent cache: at most 2×size entries.
type recordCache struct {
	mu       sync.Mutex
	size     int
	cur, old map[uintptr]event.Geo
}

func newRecordCache(size int) *recordCache {
	return &recordCache{size: size, cur: make(map[uintptr]event.Geo)}
}

func (c *recordCache) get(off uintptr) (event.Geo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g, ok := c.cur[off]; ok {
		return g, true
	}
	g, ok := c.old[off]
	if ok {
		c.putLocked(off, g)
	}
	return g, ok
}

func (c *recordCache) put(off uintptr, g event.Geo) {
	c.mu.Lock()
	c.putLocked(off, g)
	c.mu.Unlock()
}

func (c *recordCache) putLocked(off uintptr, g event.Geo) {
	if len(c.cur) >= c.size {
		c.old, c.cur = c.cur, make(map[uintptr]event.Geo, c.size)
	}
	c.cur[off] = g
}
