package policy

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

// xmlrpcCall builds a methodCall; params are the inner XML of <params>.
func xmlrpcCall(method, params string) string {
	return `<?xml version="1.0"?><methodCall><methodName>` + method + `</methodName><params>` + params + `</params></methodCall>`
}

func xmlParam(v string) string { return `<param><value><string>` + v + `</string></value></param>` }

func multicall(calls ...[2]string) string {
	var b strings.Builder
	b.WriteString(`<param><value><array><data>`)
	for _, c := range calls {
		b.WriteString(`<value><struct><member><name>methodName</name><value><string>` + c[0] + `</string></value></member>` +
			`<member><name>params</name><value><array><data><value><string>` + c[1] + `</string></value><value><string>pw</string></value></data></array></value></member></struct></value>`)
	}
	b.WriteString(`</data></array></value></param>`)
	return b.String()
}

func TestIdentify(t *testing.T) {
	email := PrincipalSpec{JSONPointer: "/email", FormField: "email"}
	nested := PrincipalSpec{JSONPointer: "/user/name", FormField: "user[name]"}
	basic := PrincipalSpec{Basic: true}
	header := PrincipalSpec{Header: "X-User"}
	xmlrpc := PrincipalSpec{XMLRPC: DefaultXMLRPC()}
	const form = "application/x-www-form-urlencoded"
	ctMP, mp := multipartBody(t, "email", "d@x", "email", "v@x", "password", "pw")
	ctMP1, mp1 := multipartBody(t, "email", "v@x", "email;file", "f@x")
	tests := []struct {
		name       string
		spec       PrincipalSpec
		req        Request
		candidates []string
		shape      bool // Shape is set
		unreadable bool
		missing    bool
		logins     int
		notLogin   bool
	}{
		{name: "form", spec: email, req: Request{ContentType: form, Body: []byte("email=v%40x&password=pw")}, candidates: []string{"v@x"}},
		{name: "repeated", spec: email, req: Request{ContentType: form, Body: []byte("email=v@x&email=d@x")}, candidates: []string{"v@x", "d@x"}, shape: true},
		{name: "repeated same", spec: email, req: Request{ContentType: form, Body: []byte("email=v@x&email=v@x")}, candidates: []string{"v@x"}, shape: true},
		{name: "array", spec: email, req: Request{ContentType: form, Body: []byte("email[]=v@x")}, candidates: []string{"v@x"}, shape: true},
		{name: "keyed array", spec: email, req: Request{ContentType: form, Body: []byte("email[a]=v@x&email[b]=d@x")}, candidates: []string{"v@x", "d@x"}, shape: true},
		{name: "leading space name", spec: email, req: Request{ContentType: form, Body: []byte("email=d@x&+email=v@x")}, candidates: []string{"d@x", "v@x"}, shape: true},
		{name: "NUL in name", spec: email, req: Request{ContentType: form, Body: []byte("email%00x=v@x")}, candidates: []string{"v@x"}, shape: true},
		{name: "dot for underscore", spec: PrincipalSpec{FormField: "user_name"}, req: Request{ContentType: form, Body: []byte("user.name=v")}, candidates: []string{"v"}, shape: true},
		{name: "underscore for dot", spec: PrincipalSpec{FormField: "user.name"}, req: Request{ContentType: form, Body: []byte("user.name=d&user_name=v")}, candidates: []string{"d", "v"}, shape: true},
		{name: "case of name", spec: email, req: Request{ContentType: form, Body: []byte("EMAIL=v@x")}, candidates: []string{"v@x"}, shape: true},
		{name: "double-encoded name", spec: email, req: Request{ContentType: form, Body: []byte("e%256dail=v@x")}, candidates: []string{"v@x"}, shape: true},
		{name: "password field never a candidate", spec: email, req: Request{ContentType: form, Body: []byte("password=email&emailx=y&pass[email]=z")}, missing: true},
		{name: "query string", spec: email, req: Request{ContentType: form, Body: []byte("email=v@x"), Query: "email=d@x"}, candidates: []string{"v@x", "d@x"}, shape: true},
		{name: "query only", spec: email, req: Request{Query: "email=v@x"}, candidates: []string{"v@x"}, shape: true},
		{name: "empty value", spec: email, req: Request{ContentType: form, Body: []byte("email=&password=x")}, missing: true},
		{name: "empty beside value", spec: email, req: Request{ContentType: form, Body: []byte("email=&email=v@x")}, candidates: []string{"v@x"}, shape: true},
		{name: "json", spec: email, req: Request{ContentType: "application/json", Body: []byte(`{"email":"v@x","password":"email"}`)}, candidates: []string{"v@x"}},
		{name: "json duplicate", spec: email, req: Request{ContentType: "application/json", Body: []byte(`{"email":"d@x","email":"v@x"}`)}, candidates: []string{"d@x", "v@x"}, shape: true},
		{name: "json case variant", spec: email, req: Request{ContentType: "application/json", Body: []byte(`{"email":"d@x"," Email ":"v@x"}`)}, candidates: []string{"d@x", "v@x"}, shape: true},
		{name: "json array", spec: email, req: Request{ContentType: "application/json", Body: []byte(`{"email":["d@x","v@x"]}`)}, candidates: []string{"d@x", "v@x"}, shape: true},
		{name: "json object", spec: email, req: Request{ContentType: "application/json", Body: []byte(`{"email":{"$ne":null}}`)}, unreadable: true, missing: true},
		{name: "json object beside", spec: email, req: Request{ContentType: "application/json", Body: []byte(`{"email":"d@x","email":{"$gt":""}}`)}, candidates: []string{"d@x"}, unreadable: true},
		{name: "json nested", spec: nested, req: Request{ContentType: "application/json", Body: []byte(`{"user":{"name":"v"}}`)}, candidates: []string{"v"}},
		{name: "json number", spec: email, req: Request{ContentType: "application/json", Body: []byte(`{"email":42}`)}, candidates: []string{"42"}},
		{name: "json as text/plain", spec: email, req: Request{ContentType: "text/plain", Body: []byte(`{"email":"v@x"}`)}, candidates: []string{"v@x"}, shape: true},
		{name: "form as json", spec: email, req: Request{ContentType: "application/json", Body: []byte(`email=v@x`)}, candidates: []string{"v@x"}, shape: true},
		{name: "malformed json", spec: email, req: Request{ContentType: "application/json", Body: []byte(`{"email":"v@x",`)}, unreadable: true, missing: true},
		{name: "multipart repeated", spec: email, req: Request{ContentType: ctMP, Body: mp}, candidates: []string{"d@x", "v@x"}, shape: true},
		{name: "multipart file ignored", spec: email, req: Request{ContentType: ctMP1, Body: mp1}, candidates: []string{"v@x"}},
		{name: "incomplete", spec: email, req: Request{ContentType: form, Body: []byte("email=v@x"), Complete: false}, missing: true},
		{name: "unknown coding", spec: email, req: Request{ContentType: form, ContentEncoding: "br", Body: []byte("email=v@x")}, missing: true},
		{name: "basic", spec: basic, req: Request{Authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte("wpadmin:secret"))}, candidates: []string{"wpadmin"}},
		{name: "basic malformed", spec: basic, req: Request{Authorization: "Basic !!!"}, unreadable: true, missing: true},
		{name: "header", spec: header, req: Request{Header: []string{"v", "d"}}, candidates: []string{"v", "d"}, shape: true},
		{name: "xmlrpc", spec: xmlrpc, req: Request{ContentType: "text/xml", Body: []byte(xmlrpcCall("wp.getUsersBlogs", xmlParam("wpadmin")+xmlParam("pw")))}, candidates: []string{"wpadmin"}},
		{name: "xmlrpc position 1", spec: xmlrpc, req: Request{ContentType: "text/xml", Body: []byte(xmlrpcCall("wp.getPosts", xmlParam("1")+xmlParam("wp&#97;dmin")+xmlParam("pw")))}, candidates: []string{"wpadmin"}},
		{name: "xmlrpc untyped value", spec: xmlrpc, req: Request{Body: []byte(xmlrpcCall("wp.getUsersBlogs", `<param><value> wpadmin </value></param>`))}, candidates: []string{"wpadmin"}},
		{name: "xmlrpc pingback", spec: xmlrpc, req: Request{ContentType: "text/xml", Body: []byte(xmlrpcCall("pingback.ping", xmlParam("a")+xmlParam("b")))}, notLogin: true},
		{name: "xmlrpc doctype", spec: xmlrpc, req: Request{ContentType: "text/xml", Body: []byte(`<!DOCTYPE x [<!ENTITY u "wpadmin">]>` + xmlrpcCall("wp.getUsersBlogs", xmlParam("&u;")))}, unreadable: true, missing: true},
		{name: "multicall one account", spec: xmlrpc, req: Request{ContentType: "text/xml", Body: []byte(xmlrpcCall("system.multicall", multicall([2]string{"wp.getUsersBlogs", "wpadmin"}, [2]string{"wp.getUsersBlogs", "wpadmin"}, [2]string{"system.listMethods", "x"})))}, candidates: []string{"wpadmin"}, shape: true, logins: 2},
		{name: "multicall two accounts", spec: xmlrpc, req: Request{ContentType: "text/xml", Body: []byte(xmlrpcCall("system.multicall", multicall([2]string{"wp.getUsersBlogs", "wpadmin"}, [2]string{"wp.getUsersBlogs", "editor"})))}, candidates: []string{"wpadmin", "editor"}, shape: true, logins: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if tt.name != "incomplete" {
				req.Complete = true
			}
			id := Identify(tt.spec, req)
			if !slices.Equal(id.Candidates, tt.candidates) {
				t.Errorf("candidates %q, want %q (identity %+v)", id.Candidates, tt.candidates, id)
			}
			if (id.Shape != "") != tt.shape {
				t.Errorf("shape %q, want set: %v", id.Shape, tt.shape)
			}
			if (id.Unreadable != "") != tt.unreadable {
				t.Errorf("unreadable %q, want set: %v", id.Unreadable, tt.unreadable)
			}
			if (id.Missing != "") != tt.missing {
				t.Errorf("missing %q, want set: %v", id.Missing, tt.missing)
			}
			if id.NotLogin != tt.notLogin {
				t.Errorf("notLogin %v, want %v", id.NotLogin, tt.notLogin)
			}
			if want := max(tt.logins, 1); !tt.notLogin && id.Logins != want {
				t.Errorf("logins %d, want %d", id.Logins, want)
			}
		})
	}
}

func TestIdentifyGzipBomb(t *testing.T) {
	// 8 MiB of zeros after the principal: decoding stops at MaxBody, and a body
	// that decodes to more than that is not read at all.
	z := gzipBytes(t, append([]byte(`email=bomb@x&pad=`), make([]byte, 8<<20)...))
	if len(z) > MaxBody {
		t.Fatalf("compressed bomb is %d bytes, want at most MaxBody", len(z))
	}
	id := Identify(PrincipalSpec{FormField: "email"}, Request{ContentType: "application/x-www-form-urlencoded", ContentEncoding: "gzip", Body: z, Complete: true})
	if len(id.Candidates) != 0 || id.Missing == "" {
		t.Errorf("bomb: %+v; want nothing read, Missing set", id)
	}
	plain := []byte(`email=zip@x&password=pw`)
	for _, c := range []struct {
		coding string
		body   []byte
	}{{"gzip", gzipBytes(t, plain)}, {"x-gzip", gzipBytes(t, plain)}, {"deflate", zlibBytes(t, plain)}, {"deflate", flateBytes(t, plain)}} {
		id = Identify(PrincipalSpec{FormField: "email"}, Request{ContentType: "application/x-www-form-urlencoded", ContentEncoding: c.coding, Body: c.body, Complete: true})
		if !slices.Equal(id.Candidates, []string{"zip@x"}) {
			t.Errorf("%s: %+v", c.coding, id)
		}
	}
}

func TestCanonical(t *testing.T) {
	wp, _ := ParseCanonical([]string{"wordpress"})
	em, _ := ParseCanonical([]string{"email"})
	none, _ := ParseCanonical([]string{"none"})
	tests := []struct {
		c       Canonical
		in, out string
	}{
		{DefaultCanonical, "WPAdmin", "wpadmin"},
		{DefaultCanonical, "wp<b>admin</b>", "wpadmin"},
		{DefaultCanonical, "wpädmin", "wpadmin"},
		{DefaultCanonical, "ｗｐａｄｍｉｎ", "wpadmin"},
		{DefaultCanonical, "wp\u200badmin\u00ad", "wpadmin"},
		{DefaultCanonical, "wpadmin\ufffd", "wpadmin"},
		{DefaultCanonical, "wp%2561dmin", "wpadmin"},
		{DefaultCanonical, "  wp   admin ", "wp admin"},
		{DefaultCanonical, "Straße", "strasse"},
		{DefaultCanonical, "a+b@x", "a+b@x"},
		{wp, "wp%00admin", "wpadmin"},
		{wp, "wp%41dmin", "wpdmin"},
		{wp, "wp&amp;admin", "wpadmin"},
		{wp, "wpadmin\x00", "wpadmin"},
		{em, "José@Example.COM", "josé@example.com"},
		{none, "WPAdmin", "WPAdmin"},
	}
	for _, tt := range tests {
		if got := tt.c.Key(tt.in); got != tt.out {
			t.Errorf("%v.Key(%q) = %q, want %q", tt.c.Steps(), tt.in, got, tt.out)
		}
	}
	if _, err := ParseCanonical([]string{"lower", "bogus"}); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("ParseCanonical(bogus) = %v; want an error naming it", err)
	}
	if _, err := ParseCanonical([]string{"percent", "octets"}); err == nil {
		t.Error("percent with octets: want an error")
	}
}

func TestXMLRPCResults(t *testing.T) {
	ok := `<value><array><data><value><array><data><value><struct><member><name>blogid</name><value><string>1</string></value></member></struct></value></data></array></value></data></array></value>`
	fault := `<value><struct><member><name>faultCode</name><value><int>403</int></value></member><member><name>faultString</name><value><string>Incorrect username or password.</string></value></member></struct></value>`
	body := `<?xml version="1.0"?><methodResponse><params><param><value><array><data>` + fault + ok[len(`<value><array><data>`):len(ok)-len(`</data></array></value>`)] + fault + `</data></array></value></param></params></methodResponse>`
	got, found := XMLRPCResults([]byte(body))
	if !found || !slices.Equal(got, []int{403, 0, 403}) {
		t.Errorf("XMLRPCResults = %v, %v; want [403 0 403]", got, found)
	}
	if _, found := XMLRPCResults([]byte(`<methodResponse><fault>` + fault + `</fault></methodResponse>`)); found {
		t.Error("a single fault read as a multicall answer")
	}
}
