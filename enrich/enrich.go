// Package enrich adds to login events where their remote address is (GeoIP:
// country, region, city, coordinates, autonomous system) and what their user
// agent is (browser, OS, device type, bot or not).
//
// Locations come from MaxMind DB files the operator provides: a city database
// (GeoLite2-City, GeoIP2-City or DB-IP's IP-to-City Lite) and an autonomous
// system database (GeoLite2-ASN or DB-IP's IP-to-ASN Lite). Both are optional;
// without them events get no location fields. The files are memory-mapped and
// re-opened when they change (see Options.ReloadInterval and Enricher.Reload).
//
// Devices come from the user agent, parsed by github.com/medama-io/go-useragent
// (chosen for speed and for its device types: see the package tests) and
// completed here for the clients it does not name (curl, HTTP libraries,
// attack tools such as Hydra), which are bots. Parsed user agents are cached,
// since attackers send the same one again and again.
//
// The package does not know Caddy: the gateway builds one Enricher with New
// and calls Enrich on each event before it is stored and sent.
package enrich

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/loginguard/loginguard/event"
)

// Options configures an Enricher.
type Options struct {
	// CityDB is the path of a MaxMind DB city database (GeoLite2-City,
	// GeoIP2-City, DB-IP IP-to-City Lite): country, region, city and
	// coordinates. Default: "" (no location).
	CityDB string
	// ASNDB is the path of a MaxMind DB autonomous system database
	// (GeoLite2-ASN, DB-IP IP-to-ASN Lite): AS number and organisation.
	// Default: "" (no AS fields).
	ASNDB string
	// ReloadInterval is how often the database files are checked for a
	// change (size, modification time or inode). A changed file is opened
	// once it has looked the same at two checks in a row, so a file being
	// written is never read half-way; the old one serves until then.
	// Negative: never (call Reload). Default: 1 minute.
	ReloadInterval time.Duration
	// UACacheSize is how many parsed user agents are kept. Default: 4096.
	UACacheSize int
	// NoDevice leaves the device fields out. Default: false (parse user agents).
	NoDevice bool
	// Precision is how much of the location is kept, for privacy: "city"
	// (everything), "region" (no city, coordinates or radius), "country"
	// (the country and the network only). Default: "city".
	Precision string
	// Logger receives reload errors and reloads. Default: slog.Default().
	Logger *slog.Logger
}

// DefaultReloadInterval is Options.ReloadInterval's default.
const DefaultReloadInterval = time.Minute

// DefaultUACacheSize is Options.UACacheSize's default.
const DefaultUACacheSize = 4096

// Enricher fills the location and device fields of events. It is safe for
// concurrent use.
type Enricher struct {
	log    *slog.Logger
	city   *dbFile // nil without a city database
	asn    *dbFile // nil without an AS database
	device *deviceParser

	stop      chan struct{}
	done      sync.WaitGroup
	once      sync.Once
	precision string // Options.Precision
}

// New opens the databases named in opt and returns an Enricher. An error
// names the option (CityDB, ASNDB, ...) and what is wrong with it.
func New(opt Options) (*Enricher, error) {
	if opt.ReloadInterval == 0 {
		opt.ReloadInterval = DefaultReloadInterval
	}
	if opt.UACacheSize < 0 {
		return nil, fmt.Errorf("enrich: UACacheSize %d: want 0 (default %d) or more", opt.UACacheSize, DefaultUACacheSize)
	}
	if opt.UACacheSize == 0 {
		opt.UACacheSize = DefaultUACacheSize
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	switch opt.Precision {
	case "", PrecisionCity, PrecisionRegion, PrecisionCountry:
	default:
		return nil, fmt.Errorf("enrich: Precision %q: want city, region or country", opt.Precision)
	}
	e := &Enricher{log: opt.Logger, stop: make(chan struct{}), precision: opt.Precision}
	var err error
	if opt.CityDB != "" {
		if e.city, err = openDB("CityDB", opt.CityDB, kindCity); err != nil {
			return nil, err
		}
	}
	if opt.ASNDB != "" {
		if e.asn, err = openDB("ASNDB", opt.ASNDB, kindASN); err != nil {
			e.city.close()
			return nil, err
		}
	}
	if !opt.NoDevice {
		e.device = newDeviceParser(opt.UACacheSize)
	}
	if opt.ReloadInterval > 0 && (e.city != nil || e.asn != nil) {
		e.done.Add(1)
		go e.poll(opt.ReloadInterval)
	}
	return e, nil
}

// Enrich sets ev's Geo from its RemoteAddress and its Device from its
// UserAgent. Fields it cannot find are left as they are; a private,
// loopback or unparsable address gets no location.
func (e *Enricher) Enrich(ev *event.Event) {
	if e.city != nil || e.asn != nil {
		if ip, ok := publicAddr(ev.RemoteAddress); ok {
			e.city.lookupCity(ip, &ev.Geo)
			e.asn.lookupASN(ip, &ev.Geo)
			coarsen(&ev.Geo, e.precision)
		}
	}
	if e.device != nil && ev.UserAgent != "" {
		ev.Device = e.device.parse(ev.UserAgent)
	}
}

// Location precisions (Options.Precision).
const (
	PrecisionCity    = "city"
	PrecisionRegion  = "region"
	PrecisionCountry = "country"
)

// coarsen drops what precision does not keep of g.
func coarsen(g *event.Geo, precision string) {
	switch precision {
	case PrecisionCountry:
		g.RegionCode, g.Region = "", ""
		fallthrough
	case PrecisionRegion:
		g.City, g.Latitude, g.Longitude, g.AccuracyRadius = "", 0, 0, 0
	}
}

// Geo returns what the databases say of addr (an IP address, as in an
// event's remoteAddress).
func (e *Enricher) Geo(addr string) event.Geo {
	var g event.Geo
	if ip, ok := publicAddr(addr); ok {
		e.city.lookupCity(ip, &g)
		e.asn.lookupASN(ip, &g)
	}
	return g
}

// Reload re-opens the database files that changed since they were opened,
// now, without waiting for them to look the same twice. A file that fails
// to open or verify leaves the one in use serving; the errors are returned.
func (e *Enricher) Reload() error {
	return errors.Join(e.city.reload(true, e.log), e.asn.reload(true, e.log))
}

// Close stops the reload checks and closes the databases. Enrich must not be
// called after Close.
func (e *Enricher) Close() error {
	e.once.Do(func() { close(e.stop) })
	e.done.Wait()
	return errors.Join(e.city.close(), e.asn.close())
}

func (e *Enricher) poll(every time.Duration) {
	defer e.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			for _, d := range []*dbFile{e.city, e.asn} {
				if err := d.reload(false, e.log); err != nil {
					e.log.Error("reloading GeoIP database", "error", err)
				}
			}
		}
	}
}

// publicAddr parses addr and reports whether it is a globally routable
// unicast address: private (RFC 1918, fc00::/7), loopback, link-local,
// carrier-grade NAT (100.64.0.0/10), unspecified and multicast addresses
// have no location.
func publicAddr(addr string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return ip, false
	}
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || cgnat.Contains(ip) {
		return ip, false
	}
	return ip.WithZone(""), true
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")
