package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

// diffCaddyfile puts loginguard, configured as the README's quick recipe for a
// JSON-or-form login, in front of a framework portal's POST /login.
const diffCaddyfile = `{
	admin {$CADDY_ADMIN}
	loginguard {
		connector events file {$LOGINGUARD_EVENTS}
	}
}
http://:{$LOGINGUARD_PORT} {
	bind 127.0.0.1
	loginguard /login {
		principal json /email
		principal form email
		rule success {
			status 200
			cookie session
		}
		rule failure BAD_CREDENTIALS {
			status 401
		}
	}
	reverse_proxy {$PORTAL_UPSTREAM}
}
`

// diffPortal is one portal under test, reached through loginguard.
type diffPortal struct {
	kind                 string
	path                 string // the login route
	victim, decoy, right string
	received             func() map[string]int
	key                  func(string) string // the portal's own key of a principal
	stack                *stack
	successStatus        int
	successCookie        string
}

// diffShape is one way to spell a login request.
type diffShape struct {
	name string
	// build returns the content type, content encoding, query string and body of
	// an attempt at victim (v) with password p, with decoy d as a distraction.
	build func(v, d, p string) (ct, ce, query string, body []byte)
}

func form(body string) func(v, d, p string) (string, string, string, []byte) {
	return formAs("application/x-www-form-urlencoded", body)
}

func formAs(ct, body string) func(v, d, p string) (string, string, string, []byte) {
	return func(v, d, p string) (string, string, string, []byte) {
		r := strings.NewReplacer("{V}", url.QueryEscape(v), "{D}", url.QueryEscape(d), "{P}", url.QueryEscape(p), "{VU}", url.QueryEscape(strings.ToUpper(v)))
		return ct, "", "", []byte(r.Replace(body))
	}
}

func jsonAs(ct, body string) func(v, d, p string) (string, string, string, []byte) {
	return func(v, d, p string) (string, string, string, []byte) {
		r := strings.NewReplacer("{V}", v, "{D}", d, "{P}", p)
		return ct, "", "", []byte(r.Replace(body))
	}
}

func multipartOf(pairs ...string) func(v, d, p string) (string, string, string, []byte) {
	return func(v, d, p string) (string, string, string, []byte) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		r := strings.NewReplacer("{V}", v, "{D}", d, "{P}", p)
		for i := 0; i+1 < len(pairs); i += 2 {
			w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="` + pairs[i] + `"`}})
			_, _ = w.Write([]byte(r.Replace(pairs[i+1])))
		}
		_ = mw.Close()
		return mw.FormDataContentType(), "", "", buf.Bytes()
	}
}

// diffShapes are the request shapes every portal is tried with: each could make
// a portal read another principal than a naive gateway, or none at all.
var diffShapes = []diffShape{
	{"plain form", form("email={V}&password={P}")},
	{"repeated field, decoy last", form("email={V}&email={D}&password={P}")},
	{"repeated field, victim last", form("email={D}&email={V}&password={P}")},
	{"array field", form("email[]={V}&password={P}")},
	{"array of decoy and victim", form("email[]={D}&email[]={V}&password={P}")},
	{"field and array", form("email={D}&email[]={V}&password={P}")},
	{"keyed array", form("email[a]={V}&password={P}")},
	{"leading space in the name", form("+email={V}&password={P}")},
	{"decoy, then name with a space", form("email={D}&+email={V}&password={P}")},
	{"decoy, then name cut at NUL", form("email={D}&email%00x={V}&password={P}")},
	{"upper-case name", form("EMAIL={V}&password={P}")},
	{"percent-encoded name", form("e%6dail={V}&password={P}")},
	{"decoy, then encoded name", form("email={D}&e%6dail={V}&password={P}")},
	{"dotted name (PHP: e_mail)", form("email={D}&email.={V}&password={P}")},
	{"upper-case value", form("email={VU}&password={P}")},
	{"surrounding spaces", form("email=+{V}+&password={P}")},
	{"trailing NUL", form("email={V}%00&password={P}")},
	{"trailing no-break space", form("email={V}%C2%A0&password={P}")},
	{"zero-width space", form("email=%E2%80%8B{V}&password={P}")},
	{"full-width first letter", func(v, d, p string) (string, string, string, []byte) {
		return "application/x-www-form-urlencoded", "", "", []byte("email=" + url.QueryEscape("ｖ"+v[1:]) + "&password=" + url.QueryEscape(p))
	}},
	{"double-encoded @", func(v, d, p string) (string, string, string, []byte) {
		return "application/x-www-form-urlencoded", "", "", []byte("email=" + strings.Replace(v, "@", "%2540", 1) + "&password=" + url.QueryEscape(p))
	}},
	{"64 KiB of padding first", func(v, d, p string) (string, string, string, []byte) {
		return "application/x-www-form-urlencoded", "", "", []byte("pad=" + strings.Repeat("x", 65<<10) + "&email=" + url.QueryEscape(v) + "&password=" + url.QueryEscape(p))
	}},
	{"1000 fields first", func(v, d, p string) (string, string, string, []byte) {
		return "application/x-www-form-urlencoded", "", "", []byte("password=" + url.QueryEscape(p) + strings.Repeat("&f=1", 1000) + "&email=" + url.QueryEscape(v))
	}},
	{"query string decoy, body victim", func(v, d, p string) (string, string, string, []byte) {
		return "application/x-www-form-urlencoded", "", "email=" + url.QueryEscape(d), []byte("email=" + url.QueryEscape(v) + "&password=" + url.QueryEscape(p))
	}},
	{"query string victim, body decoy", func(v, d, p string) (string, string, string, []byte) {
		return "application/x-www-form-urlencoded", "", "email=" + url.QueryEscape(v), []byte("email=" + url.QueryEscape(d) + "&password=" + url.QueryEscape(p))
	}},
	{"no content type", formAs("", "email={V}&password={P}")},
	{"content type in capitals", formAs("APPLICATION/X-WWW-FORM-URLENCODED", "email={V}&password={P}")},
	{"gzip-encoded form", func(v, d, p string) (string, string, string, []byte) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write([]byte("email=" + url.QueryEscape(v) + "&password=" + url.QueryEscape(p)))
		_ = zw.Close()
		return "application/x-www-form-urlencoded", "gzip", "", buf.Bytes()
	}},
	{"multipart", multipartOf("email", "{V}", "password", "{P}")},
	{"multipart, repeated part", multipartOf("email", "{D}", "email", "{V}", "password", "{P}")},
	{"multipart array", multipartOf("email[]", "{V}", "password", "{P}")},
	{"JSON", jsonAs("application/json", `{"email":"{V}","password":"{P}"}`)},
	{"JSON duplicate key", jsonAs("application/json", `{"email":"{D}","email":"{V}","password":"{P}"}`)},
	{"JSON escaped key", jsonAs("application/json", `{"em\u0061il":"{V}","password":"{P}"}`)},
	{"JSON array value", jsonAs("application/json", `{"email":["{V}"],"password":"{P}"}`)},
	{"JSON array of decoy and victim", jsonAs("application/json", `{"email":["{D}","{V}"],"password":"{P}"}`)},
	{"JSON object value", jsonAs("application/json", `{"email":{"$ne":null},"password":"{P}"}`)},
	{"JSON capitalised key", jsonAs("application/json", `{"email":"{D}","Email":"{V}","password":"{P}"}`)},
	{"JSON with a BOM", jsonAs("application/json", "\ufeff"+`{"email":"{V}","password":"{P}"}`)},
	{"JSON sent as text/plain", jsonAs("text/plain", `{"email":"{V}","password":"{P}"}`)},
	{"JSON content type in capitals", jsonAs("APPLICATION/JSON", `{"email":"{V}","password":"{P}"}`)},
	{"JSON sent as a form", jsonAs("application/x-www-form-urlencoded", `{"email":"{V}","password":"{P}"}`)},
	{"form sent as JSON", formAs("application/json", "email={V}&password={P}")},
}

// TestDifferentialLockout: for every framework portal and every request shape,
// once the victim is locked no guess in any shape reaches the portal as the
// victim, and the victim's right password in any shape is refused.
func TestDifferentialLockout(t *testing.T) {
	if len(diffShapes) < 30 {
		t.Fatalf("%d shapes, want at least 30", len(diffShapes))
	}
	for _, kind := range append([]string{"go"}, fwKinds...) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			p := newDiffPortal(t, kind)
			// Lock the victim the plain way: 5 wrong passwords reach the portal.
			for i := range 5 {
				resp, _ := p.stack.post(p.path, "application/x-www-form-urlencoded", "email="+url.QueryEscape(p.victim)+"&password=wrong")
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("wrong password %d: status %d, want the portal's 401", i+1, resp.StatusCode)
				}
			}
			before := p.received()[p.key(p.victim)]
			if before != 5 {
				t.Fatalf("the portal received %d attempts for the victim, want 5", before)
			}
			var reached, succeeded []string
			for _, sh := range diffShapes {
				for _, pass := range []string{"wrong-guess", p.right} {
					ct, ce, q, body := sh.build(p.victim, p.decoy, pass)
					target := p.stack.url + p.path
					if q != "" {
						target += "?" + q
					}
					req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
					if ct != "" {
						req.Header.Set("Content-Type", ct)
					}
					if ce != "" {
						req.Header.Set("Content-Encoding", ce)
					}
					resp, answer := p.stack.do(req)
					if p.isSuccess(resp) && strings.Contains(answer, `"email":"`+p.victim+`"`) {
						succeeded = append(succeeded, fmt.Sprintf("%s (status %d)", sh.name, resp.StatusCode))
					}
					if n := p.received()[p.key(p.victim)]; n != before {
						reached = append(reached, fmt.Sprintf("%s with %s", sh.name, pass))
						before = n
					}
				}
			}
			for _, s := range reached {
				t.Errorf("%s: reached the portal as the locked victim: %s", kind, s)
			}
			for _, s := range succeeded {
				t.Errorf("%s: the locked victim's right password got in: %s", kind, s)
			}
			// The refusals are on the record (the file is written in batches).
			counts := map[event.Reason]int{}
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				clear(counts)
				for _, e := range readEventsFrom(t, p.stack.events) {
					counts[e.Reason]++
				}
				if counts[event.Locked] > 0 && counts[event.AmbiguousPrincipal] > 0 && counts[event.MissingPrincipal] > 0 {
					break
				}
			}
			if counts[event.Locked] == 0 || counts[event.AmbiguousPrincipal] == 0 || counts[event.MissingPrincipal] == 0 {
				t.Errorf("%s: refusals by reason %v; want LOCKED, AMBIGUOUS_PRINCIPAL and MISSING_PRINCIPAL among them", kind, counts)
			}
		})
	}
}

func newDiffPortal(t *testing.T, kind string) *diffPortal {
	t.Helper()
	if kind == "go" {
		// The demo: Caddyfile.example in front of the demo portal.
		s := newStack(t, stackOptions{})
		return &diffPortal{
			kind: kind, path: "/api/login", victim: "active@example.com", decoy: "waiting@example.com", right: "correct-horse",
			received: s.received, key: strings.ToLower, stack: s, successStatus: http.StatusOK, successCookie: "portal_session",
		}
	}
	fw := startFrameworkPortal(t, kind)
	s := newStack(t, stackOptions{Caddyfile: diffCaddyfile, Upstream: fw.addr})
	return &diffPortal{
		kind: kind, path: "/login", victim: fwVictim, decoy: fwDecoy, right: fwPassword,
		received: fw.received, key: func(s string) string { return strings.ToLower(strings.TrimSpace(s)) },
		stack: s, successStatus: http.StatusOK, successCookie: "session",
	}
}

// isSuccess reports whether the portal let the attempt in: its success status
// with its session cookie (the body says as whom).
func (p *diffPortal) isSuccess(resp *http.Response) bool {
	if resp.StatusCode != p.successStatus {
		return false
	}
	for _, c := range resp.Cookies() {
		if c.Name == p.successCookie && c.Value != "" {
			return true
		}
	}
	return false
}
