package caddymodule

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/enrich"
)

// Enrich adds location and device fields to every event (package enrich).
type Enrich struct {
	// City is a MaxMind DB city database (GeoLite2-City, DB-IP City Lite):
	// country, region, city and coordinates. Placeholders are replaced.
	// Default: none (no location).
	City string `json:"city,omitempty"`
	// ASN is a MaxMind DB autonomous system database (GeoLite2-ASN, DB-IP
	// ASN Lite): AS number and organisation. Default: none.
	ASN string `json:"asn,omitempty"`
	// NoDevice leaves out the device fields read from the user agent.
	// Default: false (browser, OS, device type and bot in every event).
	NoDevice bool `json:"no_device,omitempty"`
	// Reload is how often the database files are checked for a change; a
	// changed file is used without a restart. Default: 1m.
	Reload caddy.Duration `json:"reload,omitempty"`
	// Precision is how much of the location events keep, for privacy: city
	// (everything), region (no city or coordinates) or country (the
	// country and the network). Default: city.
	Precision string `json:"precision,omitempty"`
}

// enrichPool keeps the databases open across config reloads.
var enrichPool = caddy.NewUsagePool()

type pooledEnricher struct{ *enrich.Enricher }

func (p pooledEnricher) Destruct() error { return p.Close() }

// open returns the enricher of c (c nil: the device fields only) and its pool
// key, to release in Cleanup.
func (c *Enrich) open(a *App) (*enrich.Enricher, string, error) {
	if c == nil {
		c = new(Enrich)
	}
	if c.Reload < 0 {
		return nil, "", fmt.Errorf("enrich reload: must be positive")
	}
	r := caddy.NewReplacer()
	opt := enrich.Options{CityDB: r.ReplaceKnown(c.City, ""), ASNDB: r.ReplaceKnown(c.ASN, ""),
		NoDevice: c.NoDevice, ReloadInterval: time.Duration(c.Reload), Precision: c.Precision, Logger: a.logger}
	key := fmt.Sprintf("enrich:%q %q %v %v %s", opt.CityDB, opt.ASNDB, opt.NoDevice, opt.ReloadInterval, opt.Precision)
	v, _, err := enrichPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		e, err := enrich.New(opt)
		if err != nil {
			return nil, fmt.Errorf("enrich: %w", err)
		}
		return pooledEnricher{e}, nil
	})
	if err != nil {
		return nil, "", err
	}
	return v.(pooledEnricher).Enricher, key, nil
}

// parseEnrich reads
//
//	enrich {
//	    city   [<path>]
//	    asn    [<path>]
//	    device off
//	    precision city|region|country
//	    reload <interval>
//	}
func parseEnrich(d *caddyfile.Dispenser) (*Enrich, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	c := new(Enrich)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "city", "asn":
			// No path (an unset environment variable leaves no token): none.
			args := d.RemainingArgs()
			if len(args) > 1 {
				return nil, d.Errf("enrich %s: want one path", opt)
			}
			v := ""
			if len(args) == 1 {
				v = args[0]
			}
			if opt == "city" {
				c.City = v
			} else {
				c.ASN = v
			}
		case "device":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if v != "on" && v != "off" {
				return nil, d.Errf("enrich device: want on or off, got %q", v)
			}
			c.NoDevice = v == "off"
		case "precision":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			c.Precision = v
		case "reload":
			v, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			c.Reload = v
		default:
			return nil, d.Errf("enrich: unknown option %q (want city, asn, device, precision or reload)", opt)
		}
	}
	return c, nil
}
