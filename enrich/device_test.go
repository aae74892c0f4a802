package enrich

import (
	"fmt"
	"testing"

	"github.com/loginguard/loginguard/event"
)

// realUAs are user agents as browsers, tools and crawlers send them, with
// what they must be read as.
var realUAs = []struct {
	ua   string
	want event.Device
}{
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		event.Device{Browser: "Chrome", OS: "Windows", DeviceType: "desktop"}},
	{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
		event.Device{Browser: "Chrome", OS: "Android", DeviceType: "mobile"}},
	{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		event.Device{Browser: "Firefox", OS: "Linux", DeviceType: "desktop"}},
	{"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
		event.Device{Browser: "Firefox", OS: "Android", DeviceType: "mobile"}},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		event.Device{Browser: "Safari", OS: "macOS", DeviceType: "desktop"}},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		event.Device{Browser: "Safari", OS: "iOS", DeviceType: "mobile"}},
	{"Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
		event.Device{Browser: "Safari", OS: "iOS", DeviceType: "tablet"}},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
		event.Device{Browser: "Edge", OS: "Windows", DeviceType: "desktop"}},
	{"curl/8.5.0", event.Device{Browser: "curl", DeviceType: "bot", Bot: true}},
	{"python-requests/2.32.3", event.Device{Browser: "python-requests", DeviceType: "bot", Bot: true}},
	{"Go-http-client/1.1", event.Device{Browser: "Go-http-client", DeviceType: "bot", Bot: true}},
	{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		event.Device{Browser: "Googlebot", DeviceType: "bot", Bot: true}},
	{"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		event.Device{Browser: "Googlebot", OS: "Android", DeviceType: "bot", Bot: true}},
	// THC Hydra's http-form modules, older and newer.
	{"Mozilla/4.0 (Hydra)", event.Device{Browser: "Hydra", DeviceType: "bot", Bot: true}},
	{"Mozilla/5.0 (Hydra)", event.Device{Browser: "Hydra", DeviceType: "bot", Bot: true}},
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
		event.Device{Browser: "HeadlessChrome", OS: "Linux", DeviceType: "bot", Bot: true}},
	{"   ", event.Device{}},
}

func TestDevice(t *testing.T) {
	e := newTest(t, Options{})
	for _, c := range realUAs {
		ev := event.Event{UserAgent: c.ua}
		e.Enrich(&ev)
		if ev.Device != c.want {
			t.Errorf("%s\n got  %+v\n want %+v", c.ua, ev.Device, c.want)
		}
		// Cached: the same answer again.
		ev.Device = event.Device{}
		e.Enrich(&ev)
		if ev.Device != c.want {
			t.Errorf("%s (cached): got %+v", c.ua, ev.Device)
		}
		if got := ParseDevice(c.ua); got != c.want {
			t.Errorf("ParseDevice(%q) = %+v", c.ua, got)
		}
	}
}

// TestDeviceCacheBounded: an attacker sending a new user agent each time
// fills the cache to its bound and no further; user agents in use stay.
func TestDeviceCacheBounded(t *testing.T) {
	d := newDeviceParser(8)
	hot := realUAs[0].ua
	for i := 0; i < 1000; i++ {
		d.parse(fmt.Sprintf("curl/%d", i))
		if got := d.parse(hot); got != realUAs[0].want {
			t.Fatalf("hot user agent read as %+v", got)
		}
		if n := len(d.cur) + len(d.old); n > 16 {
			t.Fatalf("cache holds %d entries, bound 16", n)
		}
	}
	if _, ok := d.cur[hot]; !ok {
		t.Error("the user agent in use fell out of the cache")
	}
	long := "Mozilla/5.0 (Hydra)" + string(make([]byte, 10000))
	d.parse(long)
	for k := range d.cur {
		if len(k) > maxUA {
			t.Fatalf("cached a %d-byte key", len(k))
		}
	}
}
