package admin_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
// of turning data into markup.
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
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage"} {
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
