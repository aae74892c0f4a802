package policy

import (
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PrincipalSpec says where a login request carries the principal.
//
// An empty JSONPointer means JSON bodies carry no principal and an empty FormField
// means form bodies carry none: when a portal accepts both kinds of body on a login
// route, set both, or clients can dodge the lockout by switching formats.
type PrincipalSpec struct {
	// JSONPointer is an RFC 6901 pointer into a JSON body, e.g. "/email" or "/user/name".
	JSONPointer string `json:"json,omitempty"`
	// FormField is a field of an urlencoded or multipart form body (and of the
	// query string), e.g. "email".
	FormField string `json:"form,omitempty"`
	// Basic reads the user of HTTP Basic credentials (Authorization: Basic).
	Basic bool `json:"basic,omitempty"`
	// Header names a request header that carries the principal.
	Header string `json:"header,omitempty"`
	// XMLRPC reads the username of XML-RPC calls (WordPress's xmlrpc.php).
	XMLRPC *XMLRPCSpec `json:"xmlrpc,omitempty"`
}

// MaxPrincipalRunes is the length to which Clean cuts a principal.
const MaxPrincipalRunes = 256

// startsWithBrace reports whether b starts with "{" after white space (and a UTF-8
// byte order mark).
func startsWithBrace(b []byte) bool {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		b = b[3:]
	}
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}

// media is the kind of a request body, by its media type.
type media uint8

const (
	mediaUnknown media = iota
	mediaJSON
	mediaForm
	mediaMultipart
)

// mediaKind classifies a Content-Type value without allocating.
func mediaKind(ct string) media {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok || typ == "" || sub == "" {
		return mediaUnknown
	}
	switch {
	case strings.EqualFold(typ, "application") && strings.EqualFold(sub, "json"):
		return mediaJSON
	case len(sub) > len("+json") && strings.EqualFold(sub[len(sub)-len("+json"):], "+json"):
		return mediaJSON
	case strings.EqualFold(typ, "application") && strings.EqualFold(sub, "x-www-form-urlencoded"):
		return mediaForm
	case strings.EqualFold(typ, "multipart") && strings.EqualFold(sub, "form-data"):
		return mediaMultipart
	}
	return mediaUnknown
}

// boundary returns the boundary parameter of a multipart Content-Type.
func boundary(ct string) string {
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return params["boundary"]
}

// Clean makes a principal safe for logs and keys: trims surrounding white space, replaces
// control characters (C0, C1, DEL, U+2028/2029) and invalid UTF-8 with U+FFFD, and cuts it
// to 256 runes.
//
// White space left at the end by the cut is trimmed too, so Clean(Clean(s)) == Clean(s).
// A string that needs no change is returned as is, without allocating.
func Clean(s string) string {
	s = strings.TrimSpace(s)
	n := 0
	for i := 0; i < len(s); n++ {
		if n == MaxPrincipalRunes {
			return cleanSlow(s)
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return cleanSlow(s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || isControl(r) {
			return cleanSlow(s)
		}
		i += size
	}
	return s
}

func cleanSlow(s string) string {
	var b strings.Builder
	b.Grow(min(len(s), MaxPrincipalRunes*utf8.UTFMax))
	for i, n := 0, 0; i < len(s) && n < MaxPrincipalRunes; n++ {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || isControl(r) {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return strings.TrimRightFunc(b.String(), unicode.IsSpace)
}

// isControl reports C0 and C1 controls, DEL and the line and paragraph separators.
func isControl(r rune) bool {
	return r < 0x20 || (0x7f <= r && r <= 0x9f) || r == 0x2028 || r == 0x2029
}
