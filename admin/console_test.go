package admin_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/loginguard/loginguard/admin/internal/admintest"
	"github.com/loginguard/loginguard/event"
)

const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// TestConsoleServesEmbeddedFiles: the console's page and assets are served
// without a token, each with its type, the strict CSP and nosniff, byte for
// byte the files under admin/console; anything else is 404.
func TestConsoleServesEmbeddedFiles(t *testing.T) {
	f := admintest.New(t, nil, nil)
	for _, c := range []struct{ path, file, ctype string }{
		{"/", "index.html", "text/html; charset=utf-8"},
		{"/index.html", "index.html", "text/html; charset=utf-8"},
		{"/console/app.js", "app.js", "text/javascript; charset=utf-8"},
		{"/console/app.css", "app.css", "text/css; charset=utf-8"},
	} {
		a := call(t, f, http.MethodGet, c.path, "", "")
		if a.status != http.StatusOK {
			t.Fatalf("GET %s: status %d: %s", c.path, a.status, a.body)
		}
		want, err := os.ReadFile(filepath.Join("console", c.file))
		if err != nil {
			t.Fatal(err)
		}
		if string(a.body) != string(want) {
			t.Errorf("GET %s: body is not console/%s", c.path, c.file)
		}
		if got := a.header.Get("Content-Type"); got != c.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.ctype)
		}
		if got := a.header.Get("Content-Security-Policy"); got != wantCSP {
			t.Errorf("GET %s: Content-Security-Policy %q, want %q", c.path, got, wantCSP)
		}
		if got := a.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", c.path, got)
		}
	}
	for _, p := range []string{"/console/", "/console/nope.js", "/console/../admin.go", "/console/%2e%2e/console.go", "/console/index.html", "/app.js"} {
		if a := call(t, f, http.MethodGet, p, "", ""); a.status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404: %s", p, a.status, a.body)
		}
	}
	if a := call(t, f, http.MethodPost, "/console/app.js", "", "x"); a.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /console/app.js: status %d, want 405", a.status)
	}
	if a := call(t, f, http.MethodHead, "/", "", ""); a.status != http.StatusOK || len(a.body) != 0 {
		t.Errorf("HEAD /: status %d, %d bytes of body", a.status, len(a.body))
	}
}

// TestConsoleHasNoInlineCode: the CSP forbids inline scripts and styles, so
// none may be in the page, and the script never uses innerHTML or other ways
// of turning data into markup (createContextualFragment, DOMParser, srcdoc).
func TestConsoleHasNoInlineCode(t *testing.T) {
	err := fs.WalkDir(os.DirFS("console"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join("console", p))
		if err != nil {
			return err
		}
		s := string(b)
		switch filepath.Ext(p) {
		case ".html":
			for _, re := range []string{`<script(?:[^>](?:[^s]|s[^r]|sr[^c]))*>\s*\S`, `<style`, `\sstyle=`, `\son[a-z]+=`, `javascript:`, `https?://`} {
				if m := regexp.MustCompile(`(?i)` + re).FindString(s); m != "" {
					t.Errorf("%s: inline code or external reference %q", p, m)
				}
			}
		case ".js":
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "createContextualFragment", "DOMParser", "srcdoc",
				"document.write", "eval(", "new Function", "localStorage"} {
				if strings.Contains(s, bad) {
					t.Errorf("%s uses %s", p, bad)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestWhoami: the endpoint tells a token's scope and needs a valid token.
func TestWhoami(t *testing.T) {
	f := admintest.New(t, nil, nil)
	for _, c := range []struct{ token, scope, name string }{
		{admintest.ReadToken, "read", ""},
		{admintest.AdminToken, "admin", "ops"},
	} {
		a := call(t, f, http.MethodGet, "/api/v1/whoami", c.token, "")
		var got struct{ Scope, Name string }
		decode(t, a, &got)
		if got.Scope != c.scope {
			t.Errorf("whoami scope %q, want %q", got.Scope, c.scope)
		}
		if c.name != "" && got.Name != c.name {
			t.Errorf("whoami name %q, want %q", got.Name, c.name)
		}
	}
	for _, tok := range []string{"", "wrong"} {
		a := call(t, f, http.MethodGet, "/api/v1/whoami", tok, "")
		var e struct{ Name string }
		_ = json.Unmarshal(a.body, &e)
		if a.status != http.StatusUnauthorized || e.Name != "AuthenticationRequired" {
			t.Errorf("whoami with token %q: %d %s", tok, a.status, a.body)
		}
	}
	if a := call(t, f, http.MethodPost, "/api/v1/whoami", admintest.AdminToken, "{}"); a.status != http.StatusMethodNotAllowed {
		t.Errorf("POST whoami: status %d, want 405", a.status)
	}
	// The console hides the admin buttons from a read token; the server
	// refuses its admin calls either way.
	if a := call(t, f, http.MethodDelete, "/api/v1/lockouts/accounts/someone", admintest.ReadToken, ""); a.status != http.StatusForbidden {
		t.Errorf("unlock with a read token: status %d, want 403", a.status)
	}
	if a := call(t, f, http.MethodPost, "/api/v1/lockouts/ips", admintest.ReadToken, `{"ip":"192.0.2.1"}`); a.status != http.StatusForbidden {
		t.Errorf("block with a read token: status %d, want 403", a.status)
	}
}

// TestConsoleReasons: the console's reason filter offers every reason an event
// can carry, in the order of event.Reasons.
func TestConsoleReasons(t *testing.T) {
	js, err := os.ReadFile(filepath.Join("console", "app.js"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)const REASONS = \[(.*?)\];`).FindSubmatch(js)
	if m == nil {
		t.Fatal("no REASONS list in console/app.js")
	}
	var got []string
	for _, q := range regexp.MustCompile(`'([A-Z_]+)'`).FindAllSubmatch(m[1], -1) {
		got = append(got, string(q[1]))
	}
	var want []string
	for _, r := range event.Reasons {
		want = append(want, string(r))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("console reasons %v, want %v", got, want)
	}
}

// Markup in the location, network and device fields of consoleDataset's
// extra event: each would run a script or add an element if the console
// parsed it as HTML.
const (
	xssCity    = `<script>window.__xss = 'city'</script>Berlin`
	xssRegion  = `<img src=x onerror="window.__xss = 'region'">`
	xssOrg     = `<b id="xss-org">Evil</b> Hosting`
	xssBrowser = `<script>window.__xss = 'browser'</script>`
	xssOS      = `<svg onload="window.__xss = 'os'">`
	xssEmailTo = "mallory@example.org"
	xssASN     = 64511
)

// consoleDataset is the fixture's data set and one failure 3 days before its
// clock from 192.0.2.66 in "DE", AS 64511, whose city, region, AS organisation,
// browser and OS are markup.
func consoleDataset() []event.Event {
	evs := admintest.Dataset()
	at := admintest.Now.Add(-72 * time.Hour)
	x := event.Event{ID: admintest.V7(at, 9000), Source: event.SourcePortal, Email: event.Str(xssEmailTo), EventDate: at,
		EventType: event.LoginFailure, RemoteAddress: "192.0.2.66", PortalID: event.Str("p1"), Reason: event.BadCredentials,
		Message: event.Str("Authentication failed -> BAD_CREDENTIALS"), UserAgent: "Mozilla/5.0 (X11)", Host: "portal.example.com", Path: "/login"}
	x.Geo = event.Geo{Country: "DE", Region: xssRegion, City: xssCity, ASN: xssASN, ASOrg: xssOrg}
	x.Device = event.Device{Browser: xssBrowser, OS: xssOS, DeviceType: event.DeviceDesktop}
	evs = append(evs, x)
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.EventDate.Compare(b.EventDate) })
	return evs
}

// since returns the events of evs at or after from, newest first.
func since(evs []event.Event, from time.Time, keep func(event.Event) bool) []event.Event {
	var out []event.Event
	for _, e := range evs {
		if !e.EventDate.Before(from) && !e.EventDate.After(admintest.Now) && keep(e) {
			out = append(out, e)
		}
	}
	slices.Reverse(out)
	return out
}

func ids(evs []event.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	slices.Sort(out)
	return out
}

func isAttempt(e event.Event) bool {
	return e.EventType == event.LoginSuccess || e.EventType == event.LoginFailure
}

// breakdownRow is a row of one of the dashboard's breakdown tables as the
// page shows it: its key, the text of its cells and its bar's segments.
type breakdownRow struct {
	Key    string
	Cells  []string
	Widths []float64
	Href   string
	Hidden bool
	// Bar is the count the bar stands for (in geoCounts' rows).
	Bar int `json:"-"`
}

// readBreakdown reads the dashboard table with the given id.
func (b *browser) readBreakdown(id string) []breakdownRow {
	b.t.Helper()
	var rows []breakdownRow
	b.eval(`[...document.querySelectorAll('#`+id+` tbody tr')].map((tr) => ({Key: tr.dataset.key,
		Cells: [...tr.querySelectorAll('th, td:not(.share)')].map((c) => c.textContent),
		Widths: [...tr.querySelectorAll('td.share rect')].map((r) => +r.getAttribute('width')),
		Href: tr.querySelector('th a').getAttribute('href'),
		Hidden: tr.querySelector('td.share svg').getAttribute('aria-hidden') === 'true'}))`, &rows)
	return rows
}

// wantLogs waits until a login-log page rendered since the last stale()
// shows exactly the events want (on one page) and the location hash has
// every parameter of query.
func (b *browser) wantLogs(what string, want []event.Event, query url.Values) {
	b.t.Helper()
	if len(want) > 20 {
		b.t.Fatalf("%s: %d events do not fit on a page", what, len(want))
	}
	cond := fmt.Sprintf(`document.querySelector('#logs-table[data-loaded]:not([data-stale])')
		&& document.getElementById('logs-total').dataset.total === '%d' && document.querySelectorAll('#logs-body tr.clickable').length === %d`,
		len(want), len(want))
	for k, vs := range query {
		cond += fmt.Sprintf(` && new URLSearchParams(location.hash.split('?')[1]).get(%s) === %s`, js(k), js(vs[0]))
	}
	b.wait(what, cond)
	var got []string
	b.eval(`[...document.querySelectorAll('#logs-body tr.clickable')].map((tr) => tr.dataset.id)`, &got)
	slices.Sort(got)
	if w := ids(want); !slices.Equal(got, w) {
		b.fail("%s: the page shows events %v, want %v", what, got, w)
	}
}

// TestConsoleLogSearchGeoFilters: the country, AS number and device type
// filters of the log search narrow the list to the events that match them
// (alone and together), are sent to the API as its parameters and kept in
// the URL (a reload keeps them, in the form and in the list), and a click on
// a row's country, AS or device type filters by it.
func TestConsoleLogSearchGeoFilters(t *testing.T) {
	f := admintest.New(t, consoleDataset(), nil)
	b := newBrowser(t, f)
	b.signIn()
	b.open("#/logs")
	b.wait("the login log", `document.querySelector('#logs-table[data-loaded]:not([data-stale])')`)
	// The form's default range: from the day 30 days before the clock to
	// the end of today.
	from := admintest.Now.AddDate(0, 0, -30).Truncate(24 * time.Hour)
	for _, c := range []struct {
		name            string
		country, asn    string
		device          string
		query           url.Values
		keep            func(event.Event) bool
		cellSel, cellRE string
	}{
		{name: "country nl", country: "nl", query: url.Values{"country": {"NL"}},
			keep: func(e event.Event) bool { return e.Geo.Country == "NL" }, cellSel: "td.geo", cellRE: `, NL$`},
		{name: "asn AS64497", asn: "AS64497", query: url.Values{"asn": {"AS64497"}},
			keep: func(e event.Event) bool { return e.Geo.ASN == 64497 }, cellSel: "td.net", cellRE: `^AS64497 Example Transit$`},
		{name: "device bot", device: "bot", query: url.Values{"deviceType": {"bot"}},
			keep: func(e event.Event) bool { return e.Device.DeviceType == "bot" }, cellSel: "td.device", cellRE: `(^|, )bot BOT$`},
		{name: "country US and desktop", country: "US", device: "desktop", query: url.Values{"country": {"US"}, "deviceType": {"desktop"}},
			keep: func(e event.Event) bool { return e.Geo.Country == "US" && e.Device.DeviceType == "desktop" }, cellSel: "td.device", cellRE: `, desktop$`},
	} {
		want := since(f.Events, from, c.keep)
		if len(want) == 0 {
			t.Fatalf("%s: the data set has no such event", c.name)
		}
		b.stale()
		b.run(c.name+": reset", chromedp.Click(chromedp.CSS("#f-reset")))
		b.wait(c.name+": the unfiltered log", `document.querySelector('#logs-table[data-loaded]:not([data-stale])') && !location.hash.includes('?')
			&& !document.getElementById('f-country').value`)
		b.eval(fmt.Sprintf(`(() => { const v = (id, x) => { document.getElementById(id).value = x; };
			v('f-country', %s); v('f-asn', %s); v('f-device', %s); return null; })()`, js(c.country), js(c.asn), js(c.device)), nil)
		b.stale()
		b.run(c.name+": applying", chromedp.Click(chromedp.CSS("#f-apply")))
		b.wantLogs(c.name, want, c.query)
		var cells []string
		b.eval(`[...document.querySelectorAll('#logs-body tr.clickable `+c.cellSel+`')].map((td) => td.textContent)`, &cells)
		re := regexp.MustCompile(c.cellRE)
		for _, cell := range cells {
			if !re.MatchString(cell) {
				t.Errorf("%s: a row's %s is %q, want %s", c.name, c.cellSel, cell, re)
			}
		}
	}
	// The filters are the page's state: a reload shows the same form and list.
	b.stale()
	b.run("reloading", chromedp.Reload())
	b.wait("the form after the reload", `document.getElementById('f-country').value === 'US' && document.getElementById('f-device').value === 'desktop'`)
	b.wantLogs("after the reload", since(f.Events, from, func(e event.Event) bool {
		return e.Geo.Country == "US" && e.Device.DeviceType == "desktop"
	}), url.Values{"country": {"US"}, "deviceType": {"desktop"}})

	// A row's country, AS and device type are links to the search by them.
	b.open("#/logs")
	b.wait("the unfiltered log", `document.querySelector('#logs-table[data-loaded]:not([data-stale]) #logs-body button.country-link')`)
	for _, c := range []struct {
		sel   string
		query url.Values
		keep  func(event.Event) bool
	}{
		{`#logs-body button.country-link[title="Show only NL"]`, url.Values{"country": {"NL"}}, func(e event.Event) bool { return e.Geo.Country == "NL" }},
		{`#logs-body button.asn-link[title="Show only 64496"]`, url.Values{"country": {"NL"}, "asn": {"64496"}},
			func(e event.Event) bool { return e.Geo.Country == "NL" && e.Geo.ASN == 64496 }},
		{`#logs-body button.device-link[title="Show only bot"]`, url.Values{"country": {"NL"}, "asn": {"64496"}, "deviceType": {"bot"}},
			func(e event.Event) bool {
				return e.Geo.Country == "NL" && e.Geo.ASN == 64496 && e.Device.DeviceType == "bot"
			}},
	} {
		b.stale()
		b.run("clicking "+c.sel, chromedp.Click(chromedp.CSS(c.sel)))
		b.wantLogs("after clicking "+c.sel, since(f.Events, admintest.Now.Add(-logsDefaultRange), c.keep), c.query)
	}
	b.clean()
}

// logsDefaultRange is the admin API's default range, the console's when no
// date is in its URL.
const logsDefaultRange = 30 * 24 * time.Hour

// TestConsoleEventLocationAndDevice: each row of the log and the event's
// details show where the client was ("City, Region, CC"), its network (AS
// number and organisation) and its device (browser, OS, device type, a bot
// marker); an event without them shows nothing there.
func TestConsoleEventLocationAndDevice(t *testing.T) {
	f := admintest.New(t, consoleDataset(), nil)
	b := newBrowser(t, f)
	b.signIn()
	b.open("#/logs?size=100")
	b.wait("the login log", `document.querySelector('#logs-table[data-loaded]:not([data-stale])') && document.querySelectorAll('#logs-body tr.clickable').length > 20`)
	type row struct{ Geo, Net, Device string }
	var rows map[string]row
	b.eval(`Object.fromEntries([...document.querySelectorAll('#logs-body tr.clickable')].map((tr) => [tr.dataset.id,
		{Geo: tr.querySelector('td.geo').textContent, Net: tr.querySelector('td.net').textContent, Device: tr.querySelector('td.device').textContent}]))`, &rows)
	want := map[string]row{
		admintest.Attacker: {"Amsterdam, NH, NL", "AS64496 Example Hosting B.V.", "python-requests, bot BOT"},
		"198.51.100.1":     {"San Francisco, CA, US", "AS64497 Example Transit", "Firefox, Linux, desktop"},
		"10.0.0.1":         {"", "", "Firefox, Linux, desktop"},
		"10.0.0.2":         {"", "", ""},
	}
	var attackerID string
	seen := map[string]bool{}
	for _, e := range since(f.Events, admintest.Now.Add(-logsDefaultRange), func(event.Event) bool { return true }) {
		w, ok := want[e.RemoteAddress]
		if !ok {
			continue
		}
		seen[e.RemoteAddress] = true
		if got, ok := rows[e.ID]; !ok || got != w {
			t.Errorf("the row of %s (%s) shows %+v, want %+v", e.ID, e.RemoteAddress, got, w)
		}
		if e.RemoteAddress == admintest.Attacker {
			attackerID = e.ID
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("the data set has events of %v, want all of %v", seen, want)
	}

	b.run("opening the attacker's event", chromedp.Click(chromedp.CSS(`#logs-body tr[data-id="`+attackerID+`"] td.date`)))
	b.wait("its details", `!document.getElementById('drawer').hidden && document.querySelector('#event-fields dd[data-field="asOrg"]')`)
	var details map[string]string
	b.eval(`Object.fromEntries([...document.querySelectorAll('#event-fields dd')].map((dd) => [dd.dataset.field, dd.textContent]))`, &details)
	for k, v := range map[string]string{"location": "Amsterdam, NH, NL", "network": "AS64496 Example Hosting B.V.", "device": "python-requests, bot BOT",
		"country": "NL", "regionCode": "NH", "region": "North Holland", "city": "Amsterdam", "latitude": "52.3759", "longitude": "4.8975",
		"asn": "64496", "asOrg": "Example Hosting B.V.", "browser": "python-requests", "deviceType": "bot", "bot": "true"} {
		if details[k] != v {
			t.Errorf("details: %s is %q, want %q", k, details[k], v)
		}
	}
	b.screenshot("event-location")
	b.clean()
}

// geoCounts are the dashboard's breakdowns computed from a data set: the
// attempts per country and device type, the failures per AS, most first (then
// by key).
func geoCounts(evs []event.Event, from time.Time) (countries, asns, devices []breakdownRow) {
	type acc struct {
		key, org                      string
		attempts, successes, failures int
	}
	tally := func(key func(event.Event) string, failuresOnly bool) []acc {
		m := map[string]*acc{}
		for _, e := range since(evs, from, isAttempt) {
			k := key(e)
			if k == "" || failuresOnly && e.EventType != event.LoginFailure {
				continue
			}
			a := m[k]
			if a == nil {
				a = &acc{key: k, org: e.Geo.ASOrg}
				m[k] = a
			}
			a.attempts++
			if e.EventType == event.LoginSuccess {
				a.successes++
			} else {
				a.failures++
			}
		}
		var out []acc
		for _, a := range m {
			out = append(out, *a)
		}
		slices.SortFunc(out, func(a, b acc) int { return cmp.Or(b.attempts-a.attempts, strings.Compare(a.key, b.key)) })
		return out
	}
	n := strconv.Itoa
	names := map[string]string{"NL": "Netherlands", "US": "United States", "DE": "Germany"}
	for _, a := range tally(func(e event.Event) string { return e.Geo.Country }, false) {
		countries = append(countries, breakdownRow{Key: a.key, Cells: []string{names[a.key] + " (" + a.key + ")", n(a.attempts), n(a.successes), n(a.failures)}, Bar: a.attempts})
	}
	for _, a := range tally(func(e event.Event) string {
		if e.Geo.ASN == 0 {
			return ""
		}
		return strconv.FormatInt(e.Geo.ASN, 10)
	}, true) {
		asns = append(asns, breakdownRow{Key: a.key, Cells: []string{"AS" + a.key, a.org, n(a.failures)}, Bar: a.failures})
	}
	for _, a := range tally(func(e event.Event) string { return e.Device.DeviceType }, false) {
		devices = append(devices, breakdownRow{Key: a.key, Cells: []string{a.key, n(a.attempts), n(a.successes), n(a.failures)}, Bar: a.attempts})
	}
	return countries, asns, devices
}

// TestConsoleDashboardGeo: the dashboard shows the attempts by country, the
// failures by AS and the attempts by device type of its range, as counted
// from the data set, the numbers in text and the bars (hidden from screen
// readers) to scale; a click on a row opens the log search of the range
// filtered by its country, AS (failures) or device type.
func TestConsoleDashboardGeo(t *testing.T) {
	f := admintest.New(t, consoleDataset(), nil)
	b := newBrowser(t, f)
	b.signIn()
	check := func(days int) {
		t.Helper()
		b.wait(fmt.Sprintf("the breakdowns of %d days", days), `document.querySelector('#country-table:not([data-stale]) tbody tr')
			&& document.querySelector('#asn-table:not([data-stale]) tbody tr') && document.querySelector('#device-table:not([data-stale]) tbody tr')`)
		from := admintest.Now.AddDate(0, 0, -days)
		wantC, wantA, wantD := geoCounts(f.Events, from)
		for _, c := range []struct {
			id   string
			want []breakdownRow
		}{{"country-table", wantC}, {"asn-table", wantA}, {"device-table", wantD}} {
			got := b.readBreakdown(c.id)
			var keys, wantKeys []string
			for _, r := range got {
				keys = append(keys, r.Key)
			}
			for _, r := range c.want {
				wantKeys = append(wantKeys, r.Key)
			}
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("%d days: %s lists %v, want %v", days, c.id, keys, wantKeys)
				continue
			}
			// The bars: the longest is the full width, the others to scale.
			var max float64
			for _, r := range got {
				max = math.Max(max, sum(r.Widths))
			}
			for i, r := range got {
				if !slices.Equal(r.Cells, c.want[i].Cells) {
					t.Errorf("%d days: %s row %s shows %q, want %q", days, c.id, r.Key, r.Cells, c.want[i].Cells)
				}
				if !r.Hidden {
					t.Errorf("%s row %s: the bar is not hidden from screen readers", c.id, r.Key)
				}
				if w := 100 * float64(c.want[i].Bar) / float64(c.want[0].Bar); max != 100 || math.Abs(sum(r.Widths)-w) > 0.01 {
					t.Errorf("%s row %s: bar %v wide, want %.2f of 100", c.id, r.Key, r.Widths, w)
				}
			}
		}
	}
	check(30)
	b.screenshot("dashboard-geo-30")
	// The range of the last 24 hours leaves out the event of 3 days ago.
	b.stale()
	b.eval(`(() => { const s = document.getElementById('dash-days'); s.value = '1'; s.dispatchEvent(new Event('change')); return null; })()`, nil)
	b.wait("the range of 24 hours", `location.hash.includes('days=1')`)
	check(1)
	b.screenshot("dashboard-geo-1")
	from := admintest.Now.AddDate(0, 0, -1)

	// A click on a country's row (not on its link) opens the log search of
	// the dashboard's range and that country.
	b.stale()
	b.run("clicking NL", chromedp.Click(chromedp.CSS(`#country-table tr[data-key="NL"] td.num`)))
	b.wantLogs("the log search of NL", since(f.Events, from, func(e event.Event) bool { return e.Geo.Country == "NL" }), url.Values{"country": {"NL"}})
	var fromParam string
	b.eval(`new URLSearchParams(location.hash.split('?')[1]).get('from')`, &fromParam)
	if got, err := time.Parse(time.RFC3339, fromParam); err != nil || got.Sub(from).Abs() > time.Minute {
		t.Errorf("the search's from is %q, want about %s", fromParam, from.Format(time.RFC3339))
	}
	// The link of an AS opens its failures.
	b.stale()
	b.run("back to the dashboard", chromedp.NavigateBack())
	b.wait("the dashboard of 24 hours", `location.hash.includes('days=1') && document.querySelector('#asn-table:not([data-stale]) tr[data-key="64497"] a')`)
	b.stale()
	b.run("clicking AS64497", chromedp.Click(chromedp.CSS(`#asn-table tr[data-key="64497"] a`)))
	b.wantLogs("the log search of AS64497", since(f.Events, from, func(e event.Event) bool {
		return e.Geo.ASN == 64497 && e.EventType == event.LoginFailure
	}), url.Values{"asn": {"64497"}, "status": {"FAILURE"}})
	b.clean()
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// TestConsoleGeoFieldsAreText: markup in an event's city, region, AS
// organisation, browser and OS is shown as text in the log's row, in the
// event's details and on the dashboard: no element, no script, no dialog,
// no blocked inline code.
func TestConsoleGeoFieldsAreText(t *testing.T) {
	f := admintest.New(t, consoleDataset(), nil)
	b := newBrowser(t, f)
	b.signIn()
	none := `document.querySelectorAll('script:not([src]), img, b#xss-org, #view svg:not(.chart):not(.share), #drawer svg').length === 0 && window.__xss === undefined`
	b.open("#/logs?email=" + url.QueryEscape(xssEmailTo))
	b.wait("its row", `document.querySelector('#logs-table[data-loaded]:not([data-stale])') && document.getElementById('logs-total').dataset.total === '1'`)
	var row struct{ Geo, Net, Device string }
	b.eval(`(() => { const tr = document.querySelector('#logs-body tr.clickable');
		return {Geo: tr.querySelector('td.geo').textContent, Net: tr.querySelector('td.net').textContent, Device: tr.querySelector('td.device').textContent}; })()`, &row)
	wantGeo, wantNet, wantDevice := xssCity+", "+xssRegion+", DE", "AS64511 "+xssOrg, xssBrowser+", "+xssOS+", desktop"
	if row.Geo != wantGeo || row.Net != wantNet || row.Device != wantDevice {
		t.Errorf("the row shows %+v, want %q, %q, %q", row, wantGeo, wantNet, wantDevice)
	}
	b.run("opening it", chromedp.Click(chromedp.CSS(`#logs-body tr.clickable td.date`)))
	b.wait("its details", `document.querySelector('#event-fields dd[data-field="city"]')`)
	var details map[string]string
	b.eval(`Object.fromEntries([...document.querySelectorAll('#event-fields dd')].map((dd) => [dd.dataset.field, dd.textContent]))`, &details)
	for k, v := range map[string]string{"location": wantGeo, "network": wantNet, "device": wantDevice,
		"city": xssCity, "region": xssRegion, "asOrg": xssOrg, "browser": xssBrowser, "os": xssOS} {
		if details[k] != v {
			t.Errorf("details: %s is %q, want %q", k, details[k], v)
		}
	}
	b.wait("no element from the event's fields", none)
	b.screenshot("xss-details")
	b.open("#/dashboard")
	b.wait("its AS on the dashboard", `document.querySelector('#asn-table:not([data-stale]) tr[data-key="64511"]')`)
	var org string
	b.eval(`document.querySelector('#asn-table tr[data-key="64511"] td').textContent`, &org)
	if org != xssOrg {
		t.Errorf("the dashboard shows the organisation of AS64511 as %q, want %q", org, xssOrg)
	}
	// Give a script that slipped through time to run.
	time.Sleep(200 * time.Millisecond)
	b.wait("no element from the event's fields", none)
	b.clean()
}
