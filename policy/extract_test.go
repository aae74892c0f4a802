package policy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"
	"unicode/utf8"
)

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zlibBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func flateBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// multipartBody builds a multipart/form-data body from name, value pairs; a name of the
// form "name;file" makes a file part.
func multipartBody(t testing.TB, pairs ...string) (contentType string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(pairs); i += 2 {
		name, file := strings.CutSuffix(pairs[i], ";file")
		var (
			w   interface{ Write([]byte) (int, error) }
			err error
		)
		if file {
			w, err = mw.CreateFormFile(name, "x.txt")
		} else {
			w, err = mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="` + name + `"`}})
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(pairs[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

func TestExtract(t *testing.T) {
	email := PrincipalSpec{JSONPointer: "/email", FormField: "email"}
	nested := PrincipalSpec{JSONPointer: "/user/name", FormField: "user[name]"}
	big := strings.Repeat("x", MaxBody)
	mpType, mpBody := multipartBody(t, "password", "hunter2", "email", "bob@example.com")
	mpFileType, mpFileBody := multipartBody(t, "email;file", "file@example.com", "password", "x")
	mpDupType, mpDupBody := multipartBody(t, "email", "a@x", "email", "b@x")
	mpSameType, mpSameBody := multipartBody(t, "email", "a@x", "email", " a@x ")
	mpBigType, mpBigBody := multipartBody(t, "email", "cut@example.com", "pad", big)
	mpLateType, mpLateBody := multipartBody(t, "pad", big, "email", "late@example.com")

	tests := []struct {
		name     string
		spec     PrincipalSpec
		ct       string
		body     []byte
		complete bool
		want     string
	}{
		{"json", email, "application/json", []byte(`{"email":"alice@example.com","password":"hunter2"}`), true, "alice@example.com"},
		{"json charset", email, "Application/JSON; charset=utf-8", []byte(`{"email":"alice@example.com"}`), true, "alice@example.com"},
		{"json suffix", email, "application/vnd.api+json", []byte(`{"email":"alice@example.com"}`), true, "alice@example.com"},
		{"json nested", nested, "application/json", []byte(`{"user":{"name":"bob","password":"x"}}`), true, "bob"},
		{"json escapes", PrincipalSpec{JSONPointer: "/a~1b/c~0d"}, "application/json", []byte(`{"a/b":{"c~d":"\u0062ob"}}`), true, "bob"},
		{"json number", PrincipalSpec{JSONPointer: "/id"}, "application/json", []byte(`{"id":12345}`), true, "12345"},
		{"json object", email, "application/json", []byte(`{"email":{"$ne":""}}`), true, ""},
		{"json array", email, "application/json", []byte(`{"email":["a@x"]}`), true, ""},
		{"json null", email, "application/json", []byte(`{"email":null}`), true, ""},
		{"json missing", email, "application/json", []byte(`{"mail":"a@x"}`), true, ""},
		{"json malformed", email, "application/json", []byte(`{"email":"a@x",`), true, ""},
		{"json duplicate last wins", email, "application/json", []byte(`{"email":"decoy@x","email":"victim@x"}`), true, "victim@x"},
		{"json empty", email, "application/json", []byte(`{"email":"   "}`), true, ""},
		{"json controls", email, "application/json", []byte(`{"email":" a\u0000b\nc\u2028d\u0085 "}`), true, "a\uFFFDb\uFFFDc\uFFFDd"},
		{"json incomplete", email, "application/json", []byte(`{"email":"a@x","pad":"`), false, ""},
		{"json no pointer", PrincipalSpec{FormField: "email"}, "application/json", []byte(`{"email":"a@x"}`), true, ""},
		{"json as form is not json", email, "application/json", []byte(`email=a@x`), true, ""},
		{"json gzip", email, "application/json", gzipBytes(t, []byte(`{"email":"gz@example.com"}`)), true, "gz@example.com"},
		{"json bom", email, "application/json", []byte("\xEF\xBB\xBF{\"email\":\"bom@x\"}"), true, "bom@x"},

		{"form", email, "application/x-www-form-urlencoded", []byte(`password=hunter2&email=carol%40example.com`), true, "carol@example.com"},
		{"form plus", email, "application/x-www-form-urlencoded; charset=UTF-8", []byte(`email=carol+smith`), true, "carol smith"},
		{"form encoded key", email, "application/x-www-form-urlencoded", []byte(`%65mail=k@x`), true, "k@x"},
		{"form bracket field", nested, "application/x-www-form-urlencoded", []byte(`user%5Bname%5D=dan`), true, "dan"},
		{"form bad escape kept", email, "application/x-www-form-urlencoded", []byte(`email=a%zz%4`), true, "a%zz%4"},
		{"form missing", email, "application/x-www-form-urlencoded", []byte(`mail=a@x&emails=b@x`), true, ""},
		{"form empty", email, "application/x-www-form-urlencoded", []byte(`email=&password=x`), true, ""},
		{"form no value", email, "application/x-www-form-urlencoded", []byte(`email&password=x`), true, ""},
		{"form duplicate differs", email, "application/x-www-form-urlencoded", []byte(`email=decoy@x&email=victim@x`), true, ""},
		{"form duplicate same", email, "application/x-www-form-urlencoded", []byte(`email=v@x&email=v%40x+`), true, "v@x"},
		{"form controls", email, "application/x-www-form-urlencoded", []byte(`email=a%00b%0D%0Ac%7F`), true, "a\uFFFDb\uFFFD\uFFFDc\uFFFD"},
		{"form incomplete inside", email, "application/x-www-form-urlencoded", []byte(`email=e@x&pad=xxxxx`), false, "e@x"},
		{"form incomplete cut", email, "application/x-www-form-urlencoded", []byte(`pad=x&email=e@x`), false, ""},
		{"form incomplete single", email, "application/x-www-form-urlencoded", []byte(`email=e@x`), false, ""},
		{"form too large", email, "application/x-www-form-urlencoded", []byte(`email=big@x&pad=` + big), true, "big@x"},
		{"form too large cut", email, "application/x-www-form-urlencoded", []byte(`pad=` + big + `&email=big@x`), true, ""},
		{"form deflate zlib", email, "application/x-www-form-urlencoded", zlibBytes(t, []byte(`email=z@x`)), true, "z@x"},
		{"form deflate raw", email, "application/x-www-form-urlencoded", flateBytes(t, []byte(`email=f@x`)), true, "f@x"},
		{"form no field", PrincipalSpec{JSONPointer: "/email"}, "application/x-www-form-urlencoded", []byte(`email=a@x`), true, ""},

		{"multipart", email, mpType, mpBody, true, "bob@example.com"},
		{"multipart file part is not a field", email, mpFileType, mpFileBody, true, ""},
		{"multipart duplicate differs", email, mpDupType, mpDupBody, true, ""},
		{"multipart duplicate same", email, mpSameType, mpSameBody, true, "a@x"},
		{"multipart no boundary", email, "multipart/form-data", mpBody, true, ""},
		{"multipart wrong boundary", email, "multipart/form-data; boundary=nope", mpBody, true, ""},
		{"multipart truncated, field inside", email, mpBigType, mpBigBody[:MaxBody], false, "cut@example.com"},
		{"multipart truncated, field outside", email, mpLateType, mpLateBody[:MaxBody], false, ""},
		{"multipart malformed", email, mpType, mpBody[:len(mpBody)-10], true, ""},

		{"no content type json", email, "", []byte(" \n{\"email\":\"nojson@x\"}"), true, "nojson@x"},
		{"no content type form", email, "", []byte(`email=noform@x`), true, "noform@x"},
		{"text/plain json", email, "text/plain", []byte(`{"email":"plain@x"}`), true, "plain@x"},
		{"unknown type, brace but form", email, "text/plain", []byte(`{&email=brace@x`), true, "brace@x"},
		{"garbage content type", email, "garbage", []byte(`email=g@x`), true, "g@x"},

		{"unknown encoding", email, "application/json", []byte(`{"email":"a@x"}`), true, ""},
		{"gzip corrupt", email, "application/json", []byte("\x1f\x8bnot gzip"), true, ""},
		{"empty body", email, "application/json", nil, true, ""},
	}
	encodings := map[string]string{
		"json gzip": "gzip", "form deflate zlib": "deflate", "form deflate raw": "Deflate",
		"unknown encoding": "br", "gzip corrupt": "gzip",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			complete := tt.complete
			if len(body) > MaxBody { // as the handler hands it over
				body, complete = body[:MaxBody], false
			}
			got, ok := Extract(tt.spec, tt.ct, encodings[tt.name], body, complete)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("Extract = %q, %v; want %q, %v", got, ok, tt.want, tt.want != "")
			}
		})
	}
}

func TestExtractGzipBomb(t *testing.T) {
	// 8 MiB of zeros after the principal: decoding must stop at MaxBody.
	plain := append([]byte(`email=bomb@x&pad=`), make([]byte, 8<<20)...)
	z := gzipBytes(t, plain)
	if len(z) > MaxBody {
		t.Fatalf("compressed bomb is %d bytes, want at most MaxBody", len(z))
	}
	got, ok := Extract(PrincipalSpec{FormField: "email"}, "application/x-www-form-urlencoded", "gzip", z, true)
	if !ok || got != "bomb@x" {
		t.Errorf("Extract = %q, %v; want bomb@x", got, ok)
	}
	out, complete, ok := decodeBody("gzip", z, true)
	if !ok || complete || len(out) != MaxBody {
		t.Errorf("decodeBody = %d bytes, complete %v, ok %v; want MaxBody bytes, incomplete", len(out), complete, ok)
	}
	// A JSON bomb is incomplete once decoded, so it gives nothing.
	jz := gzipBytes(t, append([]byte(`{"email":"bomb@x","pad":"`), bytes.Repeat([]byte("a"), 1<<20)...))
	if got, ok := Extract(PrincipalSpec{JSONPointer: "/email"}, "application/json", "gzip", jz, true); ok {
		t.Errorf("Extract(json bomb) = %q, want nothing", got)
	}
}

func TestExtractTruncatedGzip(t *testing.T) {
	z := gzipBytes(t, []byte(`email=trunc@x&password=hunter2&more=`+strings.Repeat("y", 1000)))
	got, ok := Extract(PrincipalSpec{FormField: "email"}, "application/x-www-form-urlencoded", "gzip", z[:len(z)-12], false)
	if !ok || got != "trunc@x" {
		t.Errorf("Extract(truncated gzip) = %q, %v; want trunc@x", got, ok)
	}
}

func TestExtractNeverReturnsThePassword(t *testing.T) {
	spec := PrincipalSpec{JSONPointer: "/email", FormField: "email"}
	bodies := []struct{ ct, body string }{
		{"application/json", `{"password":"hunter2","email":"a@x"}`},
		{"application/json", `{"email":"a@x","password":"hunter2"}`},
		{"application/x-www-form-urlencoded", `password=hunter2&email=a@x`},
		{"", `email=a@x&password=hunter2`},
	}
	for _, b := range bodies {
		got, ok := Extract(spec, b.ct, "", []byte(b.body), true)
		if !ok || got != "a@x" || strings.Contains(got, "hunter2") {
			t.Errorf("Extract(%q) = %q, %v; want a@x", b.body, got, ok)
		}
	}
}

func TestClean(t *testing.T) {
	long := strings.Repeat("é", 300)
	tests := []struct{ in, want string }{
		{"alice@example.com", "alice@example.com"},
		{"  \t alice \r\n", "alice"},
		{"\u00a0\u2028alice\u2029\u0085", "alice"},
		{"a\x00b", "a\uFFFDb"},
		{"a\x1fb\x7fc", "a\uFFFDb\uFFFDc"},
		{"a\u0080b\u009fc", "a\uFFFDb\uFFFDc"},
		{"a\u2028b\u2029c", "a\uFFFDb\uFFFDc"},
		{"a\nb", "a\uFFFDb"},
		{"a\xffb\xc3", "a\uFFFDb\uFFFD"},
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"}, // an encoded surrogate is invalid UTF-8
		{"日本語", "日本語"},
		{"\uFFFD", "\uFFFD"},
		{"", ""},
		{" \t\n", ""},
		{long, strings.Repeat("é", 256)},
		{strings.Repeat("a", 255) + " b", strings.Repeat("a", 255)}, // cut, then trimmed
		{strings.Repeat("a", 256), strings.Repeat("a", 256)},
	}
	for _, tt := range tests {
		got := Clean(tt.in)
		if got != tt.want {
			t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if again := Clean(got); again != got {
			t.Errorf("Clean(Clean(%q)) = %q, want %q", tt.in, again, got)
		}
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > MaxPrincipalRunes {
			t.Errorf("Clean(%q) = %q: invalid or too long", tt.in, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = Clean("  alice@example.com ") }); n != 0 {
		t.Errorf("Clean of a clean string allocated %v times, want 0", n)
	}
}

func TestMediaKind(t *testing.T) {
	tests := []struct {
		ct   string
		want media
	}{
		{"application/json", mediaJSON},
		{" APPLICATION/Json ; charset=utf-8", mediaJSON},
		{"application/problem+json", mediaJSON},
		{"text/x+JSON", mediaJSON},
		{"application/+json", mediaUnknown},
		{"application/jsonx", mediaUnknown},
		{"application/x-www-form-urlencoded", mediaForm},
		{"multipart/form-data; boundary=x", mediaMultipart},
		{"multipart/mixed; boundary=x", mediaUnknown},
		{"", mediaUnknown},
		{"json", mediaUnknown},
		{"/json", mediaUnknown},
	}
	for _, tt := range tests {
		if got := mediaKind(tt.ct); got != tt.want {
			t.Errorf("mediaKind(%q) = %v, want %v", tt.ct, got, tt.want)
		}
	}
}
