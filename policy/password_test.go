package policy

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"testing"
)

func sums(pws ...string) [][20]byte {
	var out [][20]byte
	for _, p := range pws {
		out = append(out, sha1.Sum([]byte(p)))
	}
	return out
}

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestReadPasswords(t *testing.T) {
	spec := PasswordSpec{JSONPointer: "/password", FormField: "password"}
	wp := PasswordSpec{FormField: "pwd", XMLRPC: DefaultXMLRPC()}
	basic := PasswordSpec{Basic: true}
	const form = "application/x-www-form-urlencoded"
	ctMP, mp := multipartBody(t, "email", "v@x", "password", "hunter2", "password", "hunter3")
	tests := []struct {
		name       string
		spec       PasswordSpec
		req        Request
		want       []string
		shape      bool
		unreadable bool
	}{
		{name: "form", spec: spec, req: Request{ContentType: form, Body: []byte("email=v%40x&password=p%40ss+word")}, want: []string{"p@ss word"}},
		{name: "not trimmed", spec: spec, req: Request{ContentType: form, Body: []byte("password=+secret+")}, want: []string{" secret "}},
		{name: "repeated", spec: spec, req: Request{ContentType: form, Body: []byte("password=one&password=two")}, want: []string{"one", "two"}, shape: true},
		{name: "repeated same", spec: spec, req: Request{ContentType: form, Body: []byte("password=one&password=one")}, want: []string{"one"}, shape: true},
		{name: "array", spec: spec, req: Request{ContentType: form, Body: []byte("password[]=one&password[]=two")}, want: []string{"one", "two"}, shape: true},
		{name: "name variant", spec: spec, req: Request{ContentType: form, Body: []byte("Password=one")}, want: []string{"one"}, shape: true},
		{name: "query string", spec: spec, req: Request{ContentType: form, Body: []byte("password=one"), Query: "password=two"}, want: []string{"one", "two"}, shape: true},
		{name: "principal field ignored", spec: spec, req: Request{ContentType: form, Body: []byte("email=password&passwordx=y")}},
		{name: "empty", spec: spec, req: Request{ContentType: form, Body: []byte("password=")}},
		{name: "json", spec: spec, req: Request{ContentType: "application/json", Body: []byte(`{"email":"v@x","password":"pa\u0073s"}`)}, want: []string{"pass"}},
		{name: "json number", spec: spec, req: Request{ContentType: "application/json", Body: []byte(`{"password":123456}`)}, want: []string{"123456"}},
		{name: "json duplicate", spec: spec, req: Request{ContentType: "application/json", Body: []byte(`{"password":"one","password":"two"}`)}, want: []string{"one", "two"}, shape: true},
		{name: "json array", spec: spec, req: Request{ContentType: "application/json", Body: []byte(`{"password":["one","two"]}`)}, want: []string{"one", "two"}, shape: true},
		{name: "json object", spec: spec, req: Request{ContentType: "application/json", Body: []byte(`{"password":{"$ne":""}}`)}, unreadable: true},
		{name: "json as text/plain", spec: spec, req: Request{ContentType: "text/plain", Body: []byte(`{"password":"one"}`)}, want: []string{"one"}, shape: true},
		{name: "gzip", spec: spec, req: Request{ContentType: form, ContentEncoding: "gzip", Body: gz(t, "password=zipped")}, want: []string{"zipped"}},
		{name: "multipart", spec: spec, req: Request{ContentType: ctMP, Body: mp}, want: []string{"hunter2", "hunter3"}, shape: true},
		{name: "basic", spec: basic, req: Request{Authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte("wpadmin:se:cret"))}, want: []string{"se:cret"}},
		{name: "basic malformed", spec: basic, req: Request{Authorization: "Basic !!"}, unreadable: true},
		{name: "wordpress form", spec: wp, req: Request{ContentType: form, Body: []byte("log=admin&pwd=letmein&wp-submit=Log+In")}, want: []string{"letmein"}},
		{name: "xmlrpc getUsersBlogs", spec: wp, req: Request{ContentType: "text/xml", Body: []byte(xmlrpcCall("wp.getUsersBlogs", xmlParam("admin")+xmlParam("letmein")))}, want: []string{"letmein"}},
		{name: "xmlrpc getPosts", spec: wp, req: Request{ContentType: "text/xml", Body: []byte(xmlrpcCall("wp.getPosts", xmlParam("1")+xmlParam("admin")+xmlParam("qwerty")))}, want: []string{"qwerty"}},
		// multicall() gives every call the password "pw".
		{name: "xmlrpc multicall", spec: wp, req: Request{ContentType: "text/xml", Body: []byte(xmlrpcCall("system.multicall", multicall([2]string{"wp.getUsersBlogs", "a"}, [2]string{"wp.getUsersBlogs", "b"})))}, want: []string{"pw"}, shape: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.Complete = true
			got := ReadPasswords(tt.spec, req)
			if !slices.Equal(got.SHA1, sums(tt.want...)) {
				t.Errorf("sums %x, want the sums of %q", got.SHA1, tt.want)
			}
			if (got.Shape != "") != tt.shape {
				t.Errorf("shape %q, want set: %v", got.Shape, tt.shape)
			}
			if (got.Unreadable != "") != tt.unreadable {
				t.Errorf("unreadable %q, want set: %v", got.Unreadable, tt.unreadable)
			}
			if (got.Missing != "") != (len(tt.want) == 0) {
				t.Errorf("missing %q with %d sums", got.Missing, len(got.SHA1))
			}
		})
	}
}

func TestReadPasswordsKnownSum(t *testing.T) {
	got := ReadPasswords(PasswordSpec{FormField: "password"}, Request{ContentType: "application/x-www-form-urlencoded", Body: []byte("password=password"), Complete: true})
	if len(got.SHA1) != 1 || hex.EncodeToString(got.SHA1[0][:]) != "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8" {
		t.Fatalf("sum of \"password\": %x", got.SHA1)
	}
}

func TestReadPasswordsIncomplete(t *testing.T) {
	got := ReadPasswords(PasswordSpec{FormField: "password"}, Request{ContentType: "application/x-www-form-urlencoded", Body: []byte("password=x")})
	if len(got.SHA1) != 0 || got.Missing != "the body is over the read limit" {
		t.Fatalf("incomplete body: %+v", got)
	}
}
