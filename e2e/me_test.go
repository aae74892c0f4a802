package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/enrich/enrichtest"
	"github.com/loginguard/loginguard/selfservice"
)

// meConfig is Caddyfile.example with the sign-ins page on the portal's site
// (at its default path), client IPs taken from X-Forwarded-For and a city
// database; store replaces the example's store line ("store off" also
// leaves out the admin API's site, which needs the store).
func meConfig(t *testing.T, store string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	cf := string(b)
	for _, r := range []struct{ anchor, with string }{
		{"admin {$CADDY_ADMIN:localhost:2019}\n", "admin {$CADDY_ADMIN:localhost:2019}\n\t" + trustXFF + "\n"},
		{"store sqlite {$LOGINGUARD_DB}\n", store + "\n"},
		{"\treverse_proxy {$PORTAL_UPSTREAM:127.0.0.1:9080}\n", "\tloginguard_me {\n\t\tsession_cookie portal_session\n\t}\n\treverse_proxy {$PORTAL_UPSTREAM:127.0.0.1:9080}\n"},
	} {
		if !strings.Contains(cf, r.anchor) {
			t.Fatalf("Caddyfile.example has no %q to add the sign-ins page to", r.anchor)
		}
		cf = strings.Replace(cf, r.anchor, r.with, 1)
	}
	if store == "store off" { // the admin API needs the store
		i := strings.Index(cf, "http://:{$LOGINGUARD_ADMIN_PORT")
		if i < 0 {
			t.Fatal("Caddyfile.example has no admin API site to leave out")
		}
		cf = cf[:i]
	}
	return cf
}

// signIns GETs the sign-ins page with the cookie (nil: none) and query.
func (s *stack) signIns(cookie *http.Cookie, query string, hdr ...string) (*http.Response, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+"/.loginguard/me/logins"+query, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return s.do(req)
}

// TestMeSignIns: a portal user who logged in through the gateway sees their
// own logins and failures (with location and device) at the sign-ins page,
// as JSON or as an escaped HTML table, and nobody else's; no cookie, a forged
// one and one whose session was logged out get 401; with the log store off,
// 404.
func TestMeSignIns(t *testing.T) {
	cityDB := enrichtest.Write(t, t.TempDir(), "city.mmdb", enrichtest.Build(t, "GeoLite2-City", false,
		enrichtest.Net{CIDR: "81.2.69.0/24", Rec: enrichtest.GeoLiteCity("GB", "ENG", "England", "London", 51.5142, -0.0931, 10)}))
	s := newStack(t, stackOptions{Caddyfile: meConfig(t, "store sqlite {$LOGINGUARD_DB}"), Env: []string{"LOGINGUARD_GEOIP_CITY=" + cityDB}})

	const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	const markupUA = `<script>alert('ua')</script>`
	login := func(email, password, ip, ua string) *http.Cookie {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"email": email, "password": password})
		resp, body := s.post("/api/login", "application/json", string(b), "X-Forwarded-For", ip, "User-Agent", ua)
		for _, c := range resp.Cookies() {
			if c.Name == "portal_session" {
				return c
			}
		}
		if password == "correct-horse" {
			t.Fatalf("login of %s: %s %s, no session cookie", email, resp.Status, body)
		}
		return nil
	}
	login("active@example.com", "wrong", "81.2.69.160", chrome)
	active := login("active@example.com", "correct-horse", "198.51.100.7", markupUA)
	login("markup@example.com", "wrong", "198.51.100.9", "curl/8.5.0")
	markup := login("markup@example.com", "correct-horse", "81.2.69.161", chrome)

	// The events reach the log store through its queue: wait for them.
	view := func(c *http.Cookie, n int) (selfservice.View, string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp, body := s.signIns(c, "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("sign-ins: %s %s", resp.Status, body)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			var v selfservice.View
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatalf("sign-ins body %s: %v", body, err)
			}
			if len(v.Logins) >= n || time.Now().After(deadline) {
				return v, body
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	v, body := view(active, 2)
	if v.Identity != "active@example.com" || v.DisplayName != "Active User" || len(v.Logins) != 2 {
		t.Fatalf("active's page: %s", body)
	}
	ok, bad := v.Logins[0], v.Logins[1]
	if !ok.Success || ok.IP != "198.51.100.7" || ok.UserAgent != markupUA {
		t.Errorf("newest row %+v, want the success from 198.51.100.7", ok)
	}
	if bad.Success || bad.Reason != "BAD_CREDENTIALS" || bad.ReasonText != "Wrong password" || bad.Location != "London, ENG, GB" ||
		bad.Browser != "Chrome" || bad.OS != "Windows" || bad.DeviceType != "desktop" || bad.IP != "81.2.69.160" {
		t.Errorf("older row %+v, want the wrong password from London, Chrome on Windows", bad)
	}
	for _, leak := range []string{"markup", "198.51.100.9", "81.2.69.161", active.Value} {
		if strings.Contains(body, leak) {
			t.Errorf("active's page shows %q: %s", leak, body)
		}
	}

	v, body = view(markup, 2)
	if v.Identity != "markup@example.com" || len(v.Logins) != 2 || !v.Logins[0].Success || v.Logins[1].Browser != "curl" {
		t.Errorf("markup's page: %s", body)
	}
	for _, leak := range []string{"active@", "198.51.100.7", "81.2.69.160", markup.Value} {
		if strings.Contains(body, leak) {
			t.Errorf("markup's page shows %q: %s", leak, body)
		}
	}

	// The HTML fragment: the display name and the user agent escaped.
	resp, html := s.signIns(markup, "?format=html")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("HTML: %s %s %s", resp.Status, resp.Header.Get("Content-Type"), html)
	}
	if want := `<caption>Recent sign-ins of &lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt; Markup User</caption>`; !strings.Contains(html, want) {
		t.Errorf("HTML lacks %s:\n%s", want, html)
	}
	_, html2 := s.signIns(active, "", "Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	if want := `title="&lt;script&gt;alert(&#39;ua&#39;)&lt;/script&gt;"`; !strings.Contains(html2, want) {
		t.Errorf("HTML lacks %s:\n%s", want, html2)
	}
	for _, h := range []string{html, html2} {
		if strings.Contains(h, "<script") || !strings.Contains(h, `<table class="loginguard-signins">`) {
			t.Errorf("HTML is not a table without script:\n%s", h)
		}
	}

	unauthorized := func(what string, c *http.Cookie) {
		t.Helper()
		resp, body := s.signIns(c, "")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"name":"AuthenticationRequired"`) ||
			resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %s %s (Cache-Control %q), want 401 AuthenticationRequired", what, resp.Status, body, resp.Header.Get("Cache-Control"))
		}
		if c != nil && strings.Contains(body, c.Value) {
			t.Errorf("%s: the answer echoes the cookie: %s", what, body)
		}
	}
	unauthorized("no cookie", nil)
	unauthorized("a forged cookie", &http.Cookie{Name: "portal_session", Value: strings.Repeat("ab", 16)})
	unauthorized("active's cookie under another name", &http.Cookie{Name: "other_session", Value: active.Value})

	// Logged out.
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/logout", nil)
	req.AddCookie(active)
	if resp, body := s.do(req); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %s %s", resp.Status, body)
	}
	// The logout route takes the session once the portal has answered, which
	// the client may see a moment before.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, _ := s.signIns(active, ""); resp.StatusCode == http.StatusUnauthorized || time.Now().After(deadline) {
			break
		}
	}
	unauthorized("a logged-out cookie", active)
	if resp, body := s.signIns(markup, ""); resp.StatusCode != 200 {
		t.Errorf("markup after active's logout: %s %s", resp.Status, body)
	}

	// The log store off: 404, saying so.
	s.reload([]byte(meConfig(t, "store off")))
	resp, body = s.signIns(markup, "")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "the login log is off") {
		t.Errorf("store off: %s %s, want 404 saying the login log is off", resp.Status, body)
	}
}
