package selfservice_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/sqlite"
	"github.com/loginguard/loginguard/selfservice"
)

var now = time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)

// store opens a real SQLite login log holding evs.
func store(t *testing.T, evs ...event.Event) logstore.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "logins.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Deliver(ctx, evs); err != nil {
		t.Fatal(err)
	}
	return s
}

// ev is a login event of email (portal source, portal id portal) at now-ago;
// reason "" is a success.
func ev(email, portal string, ago time.Duration, reason event.Reason) event.Event {
	e := event.Event{ID: event.NewID(), Source: event.SourcePortal, Email: event.Str(email),
		EventDate: now.Add(-ago), EventType: event.LoginSuccess, RemoteAddress: "81.2.69.160",
		UserAgent: "Mozilla/5.0 test"}
	if portal != "" {
		e.PortalID = event.Str(portal)
	}
	if reason != "" {
		e.EventType, e.Reason = event.LoginFailure, reason
	}
	return e
}

func TestRecentShowsOnlyTheOwnersLogins(t *testing.T) {
	mine1 := ev("tom@example.com", "p1", 3*time.Hour, "")
	mine1.DisplayName = event.Str("Tom (old name)")
	mine2 := ev("tom@example.com", "p1", 2*time.Hour, event.BadCredentials)
	mine2.Geo = event.Geo{City: "London", RegionCode: "ENG", Region: "England", Country: "GB"}
	mine2.Device = event.Device{Browser: "Chrome", OS: "Windows", DeviceType: "desktop"}
	mine3 := ev("tom@example.com", "p1", time.Hour, "")
	mine3.DisplayName = event.Str("Tom")
	logout := ev("tom@example.com", "p1", 30*time.Minute, "")
	logout.EventType = event.Logout
	locked := ev("tom@example.com", "p1", 20*time.Minute, "")
	locked.EventType = event.AccountLocked
	manager := event.Event{ID: event.NewID(), Source: event.SourceManager, Principal: event.Str("tom@example.com"),
		EventDate: now.Add(-10 * time.Minute), EventType: event.LoginSuccess}
	s := store(t, mine1, mine2, mine3, logout, locked, manager,
		ev("ann@example.com", "p1", 5*time.Minute, ""),            // another user
		ev("tom@example.com", "p2", 4*time.Minute, ""),            // another portal's Tom
		ev("tom@example.com", "", 3*time.Minute, ""),              // a route with no portal id
		ev("tom@example.com", "p1", 40*24*time.Hour, ""),          // too old
		ev("tom@example.com.evil", "p1", 2*time.Minute, ""),       // a longer email
		ev("TOM@EXAMPLE.COM", "p1", 50*time.Minute, event.Locked), // the same, in capitals
	)
	owner := selfservice.Owner{Source: event.SourcePortal, Identity: "tom@example.com", PortalID: "p1"}
	v, err := selfservice.Recent(context.Background(), s, owner, selfservice.Query{Since: now.Add(-30 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range v.Logins {
		got = append(got, l.Time.Format("15:04")+" "+string(l.Reason))
	}
	want := []string{"11:10 LOCKED", "11:00 ", "10:00 BAD_CREDENTIALS", "09:00 "}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("logins %q, want %q", got, want)
	}
	if v.DisplayName != "Tom" || v.Identity != "tom@example.com" {
		t.Errorf("identity %q, display name %q; want tom@example.com, the newest name Tom", v.Identity, v.DisplayName)
	}
	if l := v.Logins[2]; l.Success || l.Location != "London, ENG, GB" || l.Device() != "Chrome on Windows (desktop)" || l.ReasonText != "Wrong password" || l.IP != "81.2.69.160" {
		t.Errorf("failure row %+v (device %q)", l, l.Device())
	}

	// Limit keeps the newest.
	v, err = selfservice.Recent(context.Background(), s, owner, selfservice.Query{Limit: 2, Since: now.Add(-30 * 24 * time.Hour)})
	if err != nil || len(v.Logins) != 2 || v.Logins[0].Reason != event.Locked || !v.Logins[1].Success {
		t.Errorf("limit 2: %+v, %v; want the two newest", v.Logins, err)
	}
}

// A portal route without a portal id: the store cannot filter on "no portal
// id" (an empty filter field does not filter), so it returns the other
// portals' events of that email too, and Owns must drop them; the first page
// of two then holds one of Tom's, the second two, of which one is wanted.
func TestRecentWithoutPortalIDKeepsOtherPortalsOut(t *testing.T) {
	s := store(t,
		ev("tom@example.com", "", 30*time.Minute, event.BadCredentials),
		ev("tom@example.com", "p3", 40*time.Minute, ""),
		ev("tom@example.com", "", time.Hour, ""),
		ev("tom@example.com", "", 2*time.Hour, ""),
		ev("tom@example.com", "p2", 3*time.Hour, ""),
	)
	owner := selfservice.Owner{Source: event.SourcePortal, Identity: "tom@example.com"}
	v, err := selfservice.Recent(context.Background(), s, owner, selfservice.Query{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Logins) != 2 || v.Logins[0].Reason != event.BadCredentials || !v.Logins[1].Success ||
		!v.Logins[1].Time.Equal(now.Add(-time.Hour)) {
		t.Fatalf("logins %+v; want the failure 30m ago and the success 1h ago (no other portal's, no more than 2)", v.Logins)
	}
}

func TestRecentRefusesAnOwnerWithoutIdentity(t *testing.T) {
	s := store(t, ev("tom@example.com", "", time.Hour, ""))
	for _, o := range []selfservice.Owner{
		{Source: event.SourcePortal},
		{Source: "", Identity: "tom@example.com"},
	} {
		if v, err := selfservice.Recent(context.Background(), s, o, selfservice.Query{}); err == nil {
			t.Errorf("owner %+v: %+v, want an error", o, v)
		}
	}
}

func TestHTMLEscapesAndHasNoScript(t *testing.T) {
	v := selfservice.View{
		Identity:    "tom@example.com",
		DisplayName: `<script>alert("name")</script>`,
		Logins: []selfservice.Login{
			{Time: now, Success: true, Location: "Zürich, ZH, CH", Browser: "Firefox", OS: "Linux", DeviceType: "desktop", IP: "192.0.2.1"},
			{Time: now.Add(-time.Hour), Reason: event.BadCredentials, ReasonText: "Wrong password",
				UserAgent: `<script>alert('ua')</script><img src=x onerror=alert(1)>`, IP: "198.51.100.7"},
		},
	}
	var b bytes.Buffer
	if err := selfservice.WriteHTML(&b, v); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script", "<img", "<style", "<link", "javascript:"} {
		if strings.Contains(strings.ToLower(out), bad) {
			t.Errorf("fragment contains %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{
		`<caption>Recent sign-ins of &lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;</caption>`,
		`<td title="&lt;script&gt;alert(&#39;ua&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;">&lt;script&gt;alert(&#39;ua&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</td>`,
		`<tr class="success"><td><time datetime="2026-12-10T12:00:00Z">2026-12-10 12:00 UTC</time></td><td>Signed in</td><td>Zürich, ZH, CH</td><td>Firefox on Linux (desktop)</td><td>192.0.2.1</td></tr>`,
		`<tr class="failure"><td><time datetime="2026-12-10T11:00:00Z">2026-12-10 11:00 UTC</time></td><td>Failed: Wrong password</td><td>Unknown</td>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("fragment lacks %s:\n%s", want, out)
		}
	}

	b.Reset()
	if err := selfservice.WriteHTML(&b, selfservice.View{Since: now}); err != nil {
		t.Fatal(err)
	}
	if want := `<tr><td colspan="5">No sign-ins since 2026-12-10 12:00 UTC.</td></tr>`; !strings.Contains(b.String(), want) {
		t.Errorf("empty fragment lacks %s:\n%s", want, b.String())
	}
}

func TestDevice(t *testing.T) {
	for _, c := range []struct {
		l    selfservice.Login
		want string
	}{
		{selfservice.Login{Browser: "Safari", OS: "iOS", DeviceType: "mobile"}, "Safari on iOS (mobile)"},
		{selfservice.Login{Browser: "curl", DeviceType: "bot", UserAgent: "curl/8"}, "curl (bot)"},
		{selfservice.Login{OS: "Android"}, "Android"},
		{selfservice.Login{DeviceType: "tv"}, "tv"},
		{selfservice.Login{UserAgent: "odd/1"}, "odd/1"},
		{selfservice.Login{}, "Unknown device"},
	} {
		if got := c.l.Device(); got != c.want {
			t.Errorf("Device of %+v = %q, want %q", c.l, got, c.want)
		}
	}
}

// page serves a Page over s (nil: the store is off) for the owner that the
// X-Test-Owner header names (none: no session).
func page(s logstore.Store) *httptest.Server {
	p := &selfservice.Page{
		Store: func() selfservice.Querier {
			if s == nil {
				return nil
			}
			return s
		},
		Owner: func(r *http.Request) (selfservice.Owner, bool, error) {
			id := r.Header.Get("X-Test-Owner")
			return selfservice.Owner{Source: event.SourcePortal, Identity: id, PortalID: "p1"}, id != "", nil
		},
		Now: func() time.Time { return now },
	}
	return httptest.NewServer(p)
}

func get(t *testing.T, srv *httptest.Server, method, query string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+"/"+query, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPage(t *testing.T) {
	srv := page(store(t, ev("tom@example.com", "p1", time.Hour, ""), ev("ann@example.com", "p1", time.Hour, "")))
	defer srv.Close()
	check := func(resp *http.Response, body string, status int, ctype, contains string) {
		t.Helper()
		if resp.StatusCode != status || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || !strings.Contains(body, contains) {
			t.Errorf("%d %s %s; want %d %s containing %s", resp.StatusCode, resp.Header.Get("Content-Type"), body, status, ctype, contains)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
	}
	resp, body := get(t, srv, "GET", "")
	check(resp, body, 401, "application/json", `{"name":"AuthenticationRequired","message":"sign in to the portal to see your sign-ins"}`)

	resp, body = get(t, srv, "GET", "", "X-Test-Owner", "tom@example.com")
	check(resp, body, 200, "application/json", `"identity":"tom@example.com"`)
	var v selfservice.View
	if err := json.Unmarshal([]byte(body), &v); err != nil || len(v.Logins) != 1 || !v.Since.Equal(now.Add(-selfservice.DefaultSince)) {
		t.Errorf("view %+v, %v; want Tom's one login since 30 days ago", v, err)
	}

	resp, body = get(t, srv, "GET", "?format=html", "X-Test-Owner", "tom@example.com")
	check(resp, body, 200, "text/html", `<td>Signed in</td>`)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("HTML without a CSP that forbids everything: %q", csp)
	}
	resp, body = get(t, srv, "GET", "", "X-Test-Owner", "tom@example.com", "Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	check(resp, body, 200, "text/html", `<table class="loginguard-signins">`)
	resp, body = get(t, srv, "GET", "", "X-Test-Owner", "tom@example.com", "Accept", "application/json, text/html")
	check(resp, body, 200, "application/json", `"logins":[`)

	resp, body = get(t, srv, "GET", "?format=xml", "X-Test-Owner", "tom@example.com")
	check(resp, body, 400, "application/json", `"message":"format: want json or html"`)
	resp, body = get(t, srv, "POST", "", "X-Test-Owner", "tom@example.com")
	check(resp, body, 405, "application/json", `"name":"MethodNotAllowed"`)
	if resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("405 Allow %q", resp.Header.Get("Allow"))
	}

	off := page(nil)
	defer off.Close()
	resp, body = get(t, off, "GET", "", "X-Test-Owner", "tom@example.com")
	check(resp, body, 404, "application/json", `the login log is off`)
}

// Owns is what keeps another account's events off the page whatever the store
// returns.
func TestOwns(t *testing.T) {
	portal := selfservice.Owner{Source: event.SourcePortal, Identity: "tom@example.com", PortalID: "p1"}
	manager := selfservice.Owner{Source: event.SourceManager, Identity: "Tom"}
	mgr := func(principal string, typ event.Type) event.Event {
		return event.Event{Source: event.SourceManager, Principal: event.Str(principal), EventType: typ}
	}
	logout := ev("tom@example.com", "p1", 0, "")
	logout.EventType = event.Logout
	asManager := ev("tom@example.com", "p1", 0, "")
	asManager.Source = event.SourceManager
	noEmail := ev("tom@example.com", "p1", 0, "")
	noEmail.Email, noEmail.Principal = nil, event.Str("tom@example.com")
	for _, c := range []struct {
		name string
		o    selfservice.Owner
		ev   event.Event
		want bool
	}{
		{"own success", portal, ev("tom@example.com", "p1", 0, ""), true},
		{"own failure, other case", portal, ev("Tom@Example.COM", "p1", 0, event.BadCredentials), true},
		{"another email", portal, ev("ann@example.com", "p1", 0, ""), false},
		{"a longer email", portal, ev("tom@example.com.evil", "p1", 0, ""), false},
		{"another portal", portal, ev("tom@example.com", "p2", 0, ""), false},
		{"no portal id", portal, ev("tom@example.com", "", 0, ""), false},
		{"a logout", portal, logout, false},
		{"a manager event", portal, asManager, false},
		{"no email", portal, noEmail, false},
		{"no owner", selfservice.Owner{Source: event.SourcePortal}, ev("", "", 0, ""), false},
		{"manager's own", manager, mgr("Tom", event.LoginFailure), true},
		{"manager, other case", manager, mgr("tom", event.LoginSuccess), false},
		{"manager, locked", manager, mgr("Tom", event.AccountLocked), false},
		{"manager, a portal event", manager, ev("Tom", "", 0, ""), false},
	} {
		if got := c.o.Owns(c.ev); got != c.want {
			t.Errorf("%s: Owns = %v, want %v", c.name, got, c.want)
		}
	}
}
