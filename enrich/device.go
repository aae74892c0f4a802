package enrich

import (
	"strings"
	"sync"

	useragent "github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"

	"github.com/loginguard/loginguard/event"
)

// maxUA is the longest user agent prefix parsed and cached: real ones are a
// few hundred bytes, and a longer one must not cost more.
const maxUA = 512

// deviceParser parses user agents through a bounded cache of two
// generations: a hit in the old one is carried into the new one, and when
// the new one is full it becomes the old one. It keeps at most 2×size
// entries and the user agents in use stay in it.
type deviceParser struct {
	p    *useragent.Parser
	size int

	mu       sync.RWMutex
	cur, old map[string]event.Device
}

func newDeviceParser(size int) *deviceParser {
	return &deviceParser{p: useragent.NewParser(), size: size, cur: make(map[string]event.Device, size)}
}

func (d *deviceParser) parse(ua string) event.Device {
	if len(ua) > maxUA {
		ua = ua[:maxUA]
	}
	d.mu.RLock()
	dev, ok := d.cur[ua]
	d.mu.RUnlock()
	if ok {
		return dev
	}
	d.mu.Lock()
	if dev, ok = d.cur[ua]; !ok {
		if dev, ok = d.old[ua]; !ok {
			dev = parseDevice(d.p, ua)
		}
		if len(d.cur) >= d.size {
			d.old, d.cur = d.cur, make(map[string]event.Device, d.size)
		}
		d.cur[strings.Clone(ua)] = dev
	}
	d.mu.Unlock()
	return dev
}

// ParseDevice returns what the user agent ua says the client is, uncached.
func ParseDevice(ua string) event.Device {
	return parseDevice(useragent.NewParser(), ua)
}

// osNames spells the parser's OS names as their makers do.
var osNames = map[agents.OS]string{agents.OSMacOS: "macOS"}

func parseDevice(p *useragent.Parser, ua string) event.Device {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return event.Device{}
	}
	r := p.Parse(ua)
	d := event.Device{Browser: string(r.Browser()), OS: string(r.OS())}
	if n, ok := osNames[r.OS()]; ok {
		d.OS = n
	}
	switch r.Device() {
	case agents.DeviceDesktop:
		d.DeviceType = event.DeviceDesktop
	case agents.DeviceMobile:
		d.DeviceType = event.DeviceMobile
	case agents.DeviceTablet:
		d.DeviceType = event.DeviceTablet
	case agents.DeviceTV:
		d.DeviceType = event.DeviceTV
	case agents.DeviceBot:
		d.DeviceType, d.Bot = event.DeviceBot, true
	}
	if d.Browser == "" && d.OS == "" {
		// Not a browser the parser knows: a script, an HTTP library, a
		// crawler or an attack tool ("curl/8.5.0", "Mozilla/4.0 (Hydra)").
		// It is named after its product token.
		d.Browser = product(ua)
		d.DeviceType, d.Bot = event.DeviceBot, true
	}
	if d.Bot {
		d.DeviceType = event.DeviceBot
		if n := crawler(ua); n != "" {
			d.Browser = n
		} else if strings.Contains(ua, "HeadlessChrome/") {
			d.Browser = "HeadlessChrome"
		}
	}
	return d
}

// product returns the client name of a user agent that is no known browser:
// its first product token ("curl" of "curl/8.5.0"), or for "Mozilla/x (Y)"
// with nothing after the comment, the comment's first word ("Hydra").
func product(ua string) string {
	name, rest, _ := strings.Cut(ua, "/")
	name = strings.TrimSpace(name)
	if strings.EqualFold(name, "Mozilla") {
		if _, c, ok := strings.Cut(rest, "("); ok {
			c, _, _ = strings.Cut(c, ")")
			c, _, _ = strings.Cut(strings.TrimSpace(c), ";")
			if f := strings.Fields(c); len(f) > 0 && !strings.EqualFold(f[0], "compatible") {
				return f[0]
			}
		}
	}
	if i := strings.IndexAny(name, " ;("); i >= 0 {
		name = name[:i]
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// crawler returns the name of a crawler that announces itself in a
// "(compatible; Name/version; +url)" comment, such as Googlebot, or "".
func crawler(ua string) string {
	_, c, ok := strings.Cut(ua, "compatible;")
	if !ok {
		return ""
	}
	c = strings.TrimSpace(c)
	end := strings.IndexAny(c, "/;) ")
	if end <= 0 {
		return ""
	}
	return c[:end]
}
