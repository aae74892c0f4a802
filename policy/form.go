package policy

import (
	"bytes"
	"io"
	"mime/multipart"
	"strings"
)

// extractForm returns the value of field in an application/x-www-form-urlencoded body.
// Keys and values are percent-decoded ("+" is a space); a malformed escape is kept as
// is. When the body is incomplete, the pair cut by the end is ignored. A field given
// more than once with different values gives ok=false.
func extractForm(field string, body []byte, complete bool) (string, bool) {
	if field == "" {
		return "", false
	}
	if !complete {
		i := bytes.LastIndexByte(body, '&')
		if i < 0 {
			return "", false
		}
		body = body[:i]
	}
	var (
		val   string
		found bool
	)
	for len(body) > 0 {
		pair := body
		if i := bytes.IndexByte(body, '&'); i >= 0 {
			pair, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		key, value := pair, pair[len(pair):]
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			key, value = pair[:i], pair[i+1:]
		}
		if !formEquals(key, field) {
			continue
		}
		v := formDecode(value)
		if !found {
			val, found = v, true
			continue
		}
		if v != val && Clean(v) != Clean(val) {
			return "", false
		}
	}
	return val, found
}

// formEquals reports whether the percent-encoded raw decodes to want.
func formEquals(raw []byte, want string) bool {
	j := 0
	for i := 0; i < len(raw); j++ {
		c, n := formByte(raw, i)
		i += n
		if j >= len(want) || want[j] != c {
			return false
		}
	}
	return j == len(want)
}

// formDecode returns the percent-decoded raw as a new string.
func formDecode(raw []byte) string {
	if bytes.IndexByte(raw, '%') < 0 && bytes.IndexByte(raw, '+') < 0 {
		return string(raw)
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		c, n := formByte(raw, i)
		b.WriteByte(c)
		i += n
	}
	return b.String()
}

// formByte decodes the byte at raw[i] and says how many bytes of raw it took.
func formByte(raw []byte, i int) (byte, int) {
	switch c := raw[i]; c {
	case '+':
		return ' ', 1
	case '%':
		if i+2 < len(raw) {
			hi, lo := unhex(raw[i+1]), unhex(raw[i+2])
			if hi >= 0 && lo >= 0 {
				return byte(hi<<4 | lo), 3
			}
		}
		return c, 1
	default:
		return c, 1
	}
}

// extractMultipart returns the value of field in a multipart/form-data body. Parts
// with a file name are files, not fields. When the body is incomplete, a part cut by the
// end is ignored; when it is complete, a malformed body gives ok=false. A field given
// more than once with different values gives ok=false.
func extractMultipart(field, contentType string, body []byte, complete bool) (string, bool) {
	if field == "" {
		return "", false
	}
	b := boundary(contentType)
	if b == "" {
		return "", false
	}
	mr := multipart.NewReader(bytes.NewReader(body), b)
	var (
		val   string
		found bool
	)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if complete {
				return "", false
			}
			break
		}
		if p.FormName() != field || p.FileName() != "" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(p, MaxBody))
		if err != nil {
			if complete {
				return "", false
			}
			break
		}
		v := string(data)
		if !found {
			val, found = v, true
			continue
		}
		if v != val && Clean(v) != Clean(val) {
			return "", false
		}
	}
	return val, found
}
