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
