package policy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/loginguard/loginguard/event"
)

// checkPrincipal fails t unless p is a principal Identify may return.
func checkPrincipal(t *testing.T, p string) {
	t.Helper()
	if p == "" {
		t.Fatal("an empty candidate")
	}
	if !utf8.ValidString(p) {
		t.Fatalf("principal %q is not valid UTF-8", p)
	}
	for _, r := range p {
		if isControl(r) {
			t.Fatalf("principal %q holds control character %U", p, r)
		}
	}
	if n := utf8.RuneCountInString(p); n > MaxPrincipalRunes {
		t.Fatalf("principal has %d runes", n)
	}
	first, _ := utf8.DecodeRuneInString(p)
	last, _ := utf8.DecodeLastRuneInString(p)
	if p != "" && (unicode.IsSpace(first) || unicode.IsSpace(last)) {
		t.Fatalf("principal %q has surrounding white space", p)
	}
	if Clean(p) != p {
		t.Fatalf("principal %q is not clean", p)
	}
}

func FuzzIdentify(f *testing.F) {
	f.Add("/email", "email", "application/json", "", []byte(`{"email":"a@x","password":"p"}`), "", true)
	f.Add("/user/name", "user", "application/json; charset=utf-8", "", []byte(`{"user":{"name":"b\u0000\n"}}`), "", true)
	f.Add("/a~1b", "a", "application/problem+json", "", []byte(`{"a/b":[12.5e3,"x"]}`), "", true)
	f.Add("/email", "email", "application/x-www-form-urlencoded", "", []byte(`email=%E2%80%A8x%00&email=y&+email=z`), "email=q", true)
	f.Add("/email", "email", "", "", []byte(`  {"email":"\ud800","Email":"w"}`), "", true)
	f.Add("/email", "email", "", "", []byte("email=\xff\xfe+x&email[]=y"), "", true)
	f.Add("/email", "email", "multipart/form-data; boundary=XyZ", "",
		[]byte("--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nm@x\r\n--XyZ--\r\n"), "", true)
	f.Add("/email", "email", "application/x-www-form-urlencoded", "gzip",
		[]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xffJ\xcdM\xcc\xcc\xb1MO\xaf\x00\x04\x00\x00\xff\xff"), "", false)
	f.Add("/email", "email", "text/xml", "", []byte(xmlrpcCall("system.multicall", "")), "", true)
	f.Fuzz(func(t *testing.T, pointer, field, contentType, contentEncoding string, body []byte, query string, complete bool) {
		spec := PrincipalSpec{JSONPointer: pointer, FormField: field, Basic: true, Header: "X-User", XMLRPC: DefaultXMLRPC()}
		id := Identify(spec, Request{ContentType: contentType, ContentEncoding: contentEncoding, Body: body, Complete: complete, Query: query,
			Authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(field+":hunter2")), Header: []string{pointer}})
		for _, c := range id.Candidates {
			checkPrincipal(t, c)
			if c == "hunter2" && field != "hunter2" && pointer != "hunter2" && !bytes.Contains(body, []byte("hunter2")) && !strings.Contains(query, "hunter2") {
				t.Fatalf("the Basic password came out as a candidate: %q", id.Candidates)
			}
			if k := DefaultCanonical.Key(c); DefaultCanonical.Key(k) != k {
				t.Fatalf("canonical form not stable: %q -> %q -> %q", c, k, DefaultCanonical.Key(k))
			}
		}
		if (len(id.Candidates) == 0) != (id.Missing != "" || id.NotLogin) && !(id.NotLogin && len(id.Candidates) == 0) {
			t.Fatalf("identity %+v: Missing must be set exactly when nothing was read", id)
		}
		if id.Logins < 0 {
			t.Fatalf("Logins %d", id.Logins)
		}
	})
}

// fuzzRules uses every kind of condition.
var fuzzRules = []Rule{
	{Outcome: "success", Status: []string{"2xx", "302"}, Cookie: "SESSION", Location: "^/home"},
	{Outcome: "success", Status: []string{"200-204"}, JSON: "/user/id", JSONMatch: "^[0-9a-f-]+$"},
	{Outcome: "failure", Status: []string{"401", "403"}, JSON: "/error/code", Reasons: map[string]string{
		"disabled": "DISABLED", "locked": "LOCKED", "1001": "NOT_APPROVED", "true": "MFA_REQUIRED"}},
	{Outcome: "failure", Reason: "BAD_CREDENTIALS", Header: map[string]string{"X-Login-Error": "(?i)bad"}},
	{Outcome: "failure", Reason: "ACCOUNT_NOT_FOUND", Body: "(?i)not found"},
	{Outcome: "failure", Reason: "UPSTREAM_ERROR", Status: []string{"5xx"}, JSON: "/"},
	{Outcome: "failure", Status: []string{"4xx"}},
}

// checkVerdict fails t unless v is a valid verdict of a classifier with n rules.
func checkVerdict(t *testing.T, v Verdict, n int) {
	t.Helper()
	if v.Rule < -1 || v.Rule >= n {
		t.Fatalf("verdict %+v: rule out of range [-1, %d)", v, n)
	}
	if v.Success && v.Reason != "" {
		t.Fatalf("verdict %+v: a success with a reason", v)
	}
	if !v.Success {
		if _, ok := event.ParseReason(string(v.Reason)); !ok {
			t.Fatalf("verdict %+v: a failure without a valid reason", v)
		}
	}
}

func FuzzClassify(f *testing.F) {
	f.Add(200, "", "SESSION=abc; Max-Age=60", "/home", "", []byte(nil), []byte(nil))
	f.Add(403, "", "", "", "", []byte(`{"error":{"code":"Locked"}}`), []byte(`[{"outcome":"failure","json":"/a","reasons":{"x":"LOCKED"}}]`))
	f.Add(401, "Bad password", "SESSION=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "", "gzip",
		[]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\xcb\xcb/Q"), []byte(`[]`))
	f.Add(500, "", "", "", "deflate", []byte("x\x9c\xab\x06\x00"), []byte(`[{"outcome":"success","status":["5xx"],"cookie":"a"}]`))
	f.Add(0, "", "", "", "br", []byte(`{"user":{"id":"12ab"}}`), []byte(`[{"outcome":"failure","body":"(","status":["6xx"]}]`))
	base, err := Compile(fuzzRules)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, loginError, setCookie, location, contentEncoding string, body, rulesJSON []byte) {
		h := http.Header{}
		for k, v := range map[string]string{"X-Login-Error": loginError, "Set-Cookie": setCookie, "Location": location, "Content-Encoding": contentEncoding} {
			if v != "" {
				h.Set(k, v)
			}
		}
		resp := Response{Status: status, Header: h, Body: body}
		checkVerdict(t, base.Classify(resp), len(fuzzRules))

		// Rules from the fuzzer too: Compile must not panic, and what compiles classifies.
		var rules []Rule
		if json.Unmarshal(rulesJSON, &rules) != nil {
			return
		}
		c, err := Compile(rules)
		if err != nil {
			return
		}
		checkVerdict(t, c.Classify(resp), len(rules))
	})
}

func FuzzLookupJSON(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[0,{"c":"\u00e9"}]},"dup":1,"dup":2}`), "/a/b/1/c")
	f.Add([]byte(`[1,"x",true,null,{}]`), "/1")
	f.Add([]byte(`{"a~b":{"c/d":-1.0e-5}}`), "/a~0b/c~1d")
	f.Add([]byte(`{"s":"\ud83d\ude00\udc00"}`), "/s")
	f.Add([]byte(`"top"`), "")
	f.Add([]byte(`{"a":1} {"a":2}`), "/a")
	f.Fuzz(func(t *testing.T, doc []byte, pointer string) {
		got, ok := LookupJSON(doc, pointer)
		if ok && !utf8.ValidString(got) {
			t.Fatalf("LookupJSON(%q, %q) = %q: invalid UTF-8", doc, pointer, got)
		}
		// encoding/json reads the first value the same way (it, too, ignores what follows),
		// except that it refuses a byte order mark.
		if !bytes.HasPrefix(doc, []byte("\xEF\xBB\xBF")) {
			want, wantOK := refLookup(doc, pointer)
			if got != want || ok != wantOK {
				t.Fatalf("LookupJSON(%q, %q) = %q, %v; encoding/json says %q, %v", doc, pointer, got, ok, want, wantOK)
			}
		}
		// A document that may be cut: no panic, and what it gives is whole.
		var arr [8]string
		tokens, err := pointerTokens(pointer, arr[:0])
		if err != nil {
			return
		}
		for _, n := range []int{len(doc), len(doc) / 2, len(doc) - 1} {
			if n < 0 {
				continue
			}
			v, pok := lookupJSON(doc[:n], tokens, false)
			if s, sok := v.text(); pok && sok && !utf8.ValidString(s) {
				t.Fatalf("lookupJSON(incomplete %q, %q) = %q: invalid UTF-8", doc[:n], pointer, s)
			}
		}
	})
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", " a ", "a\x00b", "\xff", "\u2028x\u2029", "é", "a\u0085"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c := Clean(s); c != "" {
			checkPrincipal(t, c)
		}
	})
}
