package policy

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// LookupJSON returns the value at an RFC 6901 pointer in a JSON document as a string
// (strings as is, numbers and booleans in their JSON text, null/objects/arrays → ok=false).
//
// The document is scanned in place, without building it: only the value found is
// copied. doc must hold one well-formed JSON value; anything after that value is
// ignored. When an object has the same member name more than once, the last one counts,
// as with encoding/json and most other parsers. Strings are unescaped and invalid UTF-8
// or lone surrogates become U+FFFD. An invalid pointer gives ok=false.
func LookupJSON(doc []byte, pointer string) (string, bool) {
	var arr [8]string
	tokens, err := pointerTokens(pointer, arr[:0])
	if err != nil {
		return "", false
	}
	v, ok := lookupJSON(doc, tokens, true)
	if !ok {
		return "", false
	}
	return v.text()
}

// ValidPointer reports an error for a malformed pointer ("" is the whole doc, else must start with "/").
// A "~" must be followed by 0 or 1, and the pointer must be valid UTF-8.
func ValidPointer(p string) error {
	if p == "" {
		return nil
	}
	if p[0] != '/' {
		return fmt.Errorf("json pointer %q must be empty or start with \"/\"", p)
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("json pointer %q is not valid UTF-8", p)
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '~' && (i+1 == len(p) || (p[i+1] != '0' && p[i+1] != '1')) {
			return fmt.Errorf("json pointer %q: \"~\" at offset %d must be followed by 0 or 1", p, i)
		}
	}
	return nil
}

// pointerTokens appends the unescaped reference tokens of p to dst.
func pointerTokens(p string, dst []string) ([]string, error) {
	if err := ValidPointer(p); err != nil {
		return dst, err
	}
	if p == "" {
		return dst, nil
	}
	p = p[1:]
	for {
		tok, rest, more := strings.Cut(p, "/")
		if strings.IndexByte(tok, '~') >= 0 {
			// ~1 first, then ~0, as RFC 6901 §4 says.
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		}
		dst = append(dst, tok)
		if !more {
			return dst, nil
		}
		p = rest
	}
}

// jsonKind is the kind of a JSON value.
type jsonKind uint8

const (
	kindNone jsonKind = iota
	kindString
	kindNumber
	kindBool
	kindNull
	kindObject
	kindArray
)

// jsonValue is a value found in a document, pointing into it.
type jsonValue struct {
	kind jsonKind
	// raw is the literal text of a number or boolean, or the still escaped contents of
	// a string (between the quotes).
	raw []byte
	// plain says that a string's raw contents are its value: no escapes, valid UTF-8.
	plain bool
}

// scalar reports whether the value is a string, number or boolean.
func (v jsonValue) scalar() bool {
	return v.kind == kindString || v.kind == kindNumber || v.kind == kindBool
}

// bytes returns the value of a scalar, unescaped. It shares memory with the document
// when no unescaping is needed.
func (v jsonValue) bytes() []byte {
	if v.kind != kindString || v.plain {
		return v.raw
	}
	return appendJSONString(make([]byte, 0, len(v.raw)), v.raw)
}

// text returns a scalar as a new string; ok is false for null, objects and arrays.
func (v jsonValue) text() (string, bool) {
	if !v.scalar() {
		return "", false
	}
	if v.kind != kindString || v.plain {
		return string(v.raw), true
	}
	return string(appendJSONString(make([]byte, 0, len(v.raw)), v.raw)), true
}

var (
	errJSONEOF    = errors.New("unexpected end of JSON input")
	errJSONSyntax = errors.New("invalid JSON")
	errJSONDepth  = errors.New("JSON nested too deeply")
)

// maxJSONDepth bounds nesting, as encoding/json does.
const maxJSONDepth = 10000

// jsonScanner walks a document in place.
type jsonScanner struct {
	d []byte
	// complete says d is the whole document. When false, d may be a truncated prefix:
	// a member found before the cut still counts (the first one, then), and a number
	// or literal that ends exactly at the cut is not trusted.
	complete bool
}

// lookupJSON finds the value at tokens in doc. See jsonScanner.complete.
func lookupJSON(doc []byte, tokens []string, complete bool) (jsonValue, bool) {
	s := jsonScanner{d: doc, complete: complete}
	if len(doc) >= 3 && doc[0] == 0xEF && doc[1] == 0xBB && doc[2] == 0xBF {
		s.d = doc[3:] // a UTF-8 byte order mark, which some parsers accept
	}
	pos := s.ws(0)
	for _, tok := range tokens {
		if pos >= len(s.d) {
			return jsonValue{}, false
		}
		var (
			next  int
			found bool
			err   error
		)
		switch s.d[pos] {
		case '{':
			next, found, err = s.member(pos, tok)
		case '[':
			idx, isIdx := arrayIndex(tok)
			if !isIdx {
				return jsonValue{}, false // "-" or a name: no such element
			}
			next, found, err = s.element(pos, idx)
		default:
			return jsonValue{}, false
		}
		if err != nil || !found {
			return jsonValue{}, false
		}
		pos = next
	}
	return s.value(pos)
}

// arrayIndex parses an RFC 6901 array index: "0" or digits without a leading zero.
func arrayIndex(tok string) (int, bool) {
	if tok == "" || len(tok) > 9 || (tok[0] == '0' && len(tok) > 1) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// ws returns the index of the first non-white-space byte at or after i.
func (s *jsonScanner) ws(i int) int {
	for i < len(s.d) {
		switch s.d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// member scans the object starting at s.d[i] == '{' and returns the start of the value
// of the last member named key. A complete document is scanned to the end of the object;
// in one that may be cut, the first member named key counts.
func (s *jsonScanner) member(i int, key string) (valueStart int, found bool, err error) {
	i = s.ws(i + 1)
	if i >= len(s.d) {
		return 0, false, errJSONEOF
	}
	if s.d[i] == '}' {
		return 0, false, nil
	}
	for {
		if i >= len(s.d) {
			return valueStart, found, errJSONEOF
		}
		if s.d[i] != '"' {
			return valueStart, found, errJSONSyntax
		}
		end, plain, err := s.str(i)
		if err != nil {
			return valueStart, found, err
		}
		match := jsonKeyEquals(s.d[i+1:end-1], plain, key)
		i = s.ws(end)
		if i >= len(s.d) {
			return valueStart, found, errJSONEOF
		}
		if s.d[i] != ':' {
			return valueStart, found, errJSONSyntax
		}
		i = s.ws(i + 1)
		if match && !s.complete {
			// The value may be cut: the caller looks into it as far as it goes.
			return i, true, nil
		}
		start := i
		i, err = s.skip(i, 1)
		if err != nil {
			return valueStart, found, err
		}
		if match {
			valueStart, found = start, true
		}
		i = s.ws(i)
		if i >= len(s.d) {
			return valueStart, found, errJSONEOF
		}
		switch s.d[i] {
		case ',':
			i = s.ws(i + 1)
		case '}':
			return valueStart, found, nil
		default:
			return valueStart, found, errJSONSyntax
		}
	}
}

// element scans the array starting at s.d[i] == '[' and returns the start of element idx.
// A complete document is scanned to the end of the array.
func (s *jsonScanner) element(i, idx int) (valueStart int, found bool, err error) {
	i = s.ws(i + 1)
	if i >= len(s.d) {
		return 0, false, errJSONEOF
	}
	if s.d[i] == ']' {
		return 0, false, nil
	}
	for n := 0; ; n++ {
		if n == idx && !s.complete {
			return i, true, nil // see member
		}
		start := i
		i, err = s.skip(i, 1)
		if err != nil {
			return valueStart, found, err
		}
		if n == idx {
			valueStart, found = start, true
		}
		i = s.ws(i)
		if i >= len(s.d) {
			return valueStart, found, errJSONEOF
		}
		switch s.d[i] {
		case ',':
			i = s.ws(i + 1)
		case ']':
			return valueStart, found, nil
		default:
			return valueStart, found, errJSONSyntax
		}
	}
}

// value returns the value starting at s.d[i].
func (s *jsonScanner) value(i int) (jsonValue, bool) {
	if i >= len(s.d) {
		return jsonValue{}, false
	}
	end, err := s.skip(i, 0)
	if err != nil {
		return jsonValue{}, false
	}
	switch c := s.d[i]; {
	case c == '"':
		raw := s.d[i+1 : end-1]
		return jsonValue{kind: kindString, raw: raw, plain: jsonPlain(raw)}, true
	case c == '{':
		return jsonValue{kind: kindObject}, true
	case c == '[':
		return jsonValue{kind: kindArray}, true
	case c == 't' || c == 'f':
		return jsonValue{kind: kindBool, raw: s.d[i:end]}, true
	case c == 'n':
		return jsonValue{kind: kindNull}, true
	default:
		return jsonValue{kind: kindNumber, raw: s.d[i:end]}, true
	}
}

// skip returns the index just after the value starting at s.d[i], checking its syntax.
func (s *jsonScanner) skip(i, depth int) (int, error) {
	if i >= len(s.d) {
		return i, errJSONEOF
	}
	switch c := s.d[i]; {
	case c == '"':
		end, _, err := s.str(i)
		return end, err
	case c == '{':
		return s.skipObject(i, depth+1)
	case c == '[':
		return s.skipArray(i, depth+1)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number(i)
	}
	return i, errJSONSyntax
}

func (s *jsonScanner) skipObject(i, depth int) (int, error) {
	if depth > maxJSONDepth {
		return i, errJSONDepth
	}
	i = s.ws(i + 1)
	if i < len(s.d) && s.d[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(s.d) {
			return i, errJSONEOF
		}
		if s.d[i] != '"' {
			return i, errJSONSyntax
		}
		end, _, err := s.str(i)
		if err != nil {
			return end, err
		}
		i = s.ws(end)
		if i >= len(s.d) {
			return i, errJSONEOF
		}
		if s.d[i] != ':' {
			return i, errJSONSyntax
		}
		i, err = s.skip(s.ws(i+1), depth)
		if err != nil {
			return i, err
		}
		i = s.ws(i)
		if i >= len(s.d) {
			return i, errJSONEOF
		}
		switch s.d[i] {
		case ',':
			i = s.ws(i + 1)
		case '}':
			return i + 1, nil
		default:
			return i, errJSONSyntax
		}
	}
}

func (s *jsonScanner) skipArray(i, depth int) (int, error) {
	if depth > maxJSONDepth {
		return i, errJSONDepth
	}
	i = s.ws(i + 1)
	if i < len(s.d) && s.d[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		i, err = s.skip(i, depth)
		if err != nil {
			return i, err
		}
		i = s.ws(i)
		if i >= len(s.d) {
			return i, errJSONEOF
		}
		switch s.d[i] {
		case ',':
			i = s.ws(i + 1)
		case ']':
			return i + 1, nil
		default:
			return i, errJSONSyntax
		}
	}
}

// str scans the string starting at s.d[i] == '"' and returns the index after its closing
// quote and whether its contents need no unescaping (no escapes, valid UTF-8).
func (s *jsonScanner) str(i int) (end int, plain bool, err error) {
	d := s.d
	plain = true
	high := false
	start := i + 1
	for i++; i < len(d); {
		c := d[i]
		if 0x20 <= c && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		switch {
		case c == '"':
			if high && plain {
				plain = utf8.Valid(d[start:i])
			}
			return i + 1, plain, nil
		case c == '\\':
			plain = false
			if i+1 >= len(d) {
				return i, false, errJSONEOF
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(d) {
						return k, false, errJSONEOF
					}
					if unhex(d[k]) < 0 {
						return k, false, errJSONSyntax
					}
				}
				i += 6
			default:
				return i, false, errJSONSyntax
			}
		case c < 0x20:
			return i, false, errJSONSyntax
		default:
			high = true
			i++
		}
	}
	return i, false, errJSONEOF
}

// literal checks for true, false or null at s.d[i].
func (s *jsonScanner) literal(i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(s.d) {
			return i + k, errJSONEOF
		}
		if s.d[i+k] != lit[k] {
			return i + k, errJSONSyntax
		}
	}
	return s.ended(i + len(lit))
}

// number scans a number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func (s *jsonScanner) number(i int) (int, error) {
	d := s.d
	if d[i] == '-' {
		i++
	}
	if i < len(d) && d[i] == '0' {
		i++
	} else if j, err := s.digits(i); err != nil {
		return j, err
	} else {
		i = j
	}
	if i < len(d) && d[i] == '.' {
		j, err := s.digits(i + 1)
		if err != nil {
			return j, err
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j, err := s.digits(i)
		if err != nil {
			return j, err
		}
		i = j
	}
	return s.ended(i)
}

// digits scans one or more decimal digits at s.d[i].
func (s *jsonScanner) digits(i int) (int, error) {
	if i >= len(s.d) {
		return i, errJSONEOF
	}
	if s.d[i] < '0' || s.d[i] > '9' {
		return i, errJSONSyntax
	}
	for i < len(s.d) && '0' <= s.d[i] && s.d[i] <= '9' {
		i++
	}
	return i, nil
}

// ended accepts a number or literal ending at i, unless the document may have been
// cut right there.
func (s *jsonScanner) ended(i int) (int, error) {
	if i == len(s.d) && !s.complete {
		return i, errJSONEOF
	}
	return i, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// jsonPlain reports whether raw string contents need no unescaping.
func jsonPlain(raw []byte) bool {
	high := false
	for _, c := range raw {
		if c == '\\' {
			return false
		}
		if c >= utf8.RuneSelf {
			high = true
		}
	}
	return !high || utf8.Valid(raw)
}

// hex4 decodes the four hex digits at raw[0:4], or returns -1.
func hex4(raw []byte) rune {
	if len(raw) < 4 {
		return -1
	}
	var r rune
	for _, c := range raw[:4] {
		h := unhex(c)
		if h < 0 {
			return -1
		}
		r = r<<4 | rune(h)
	}
	return r
}

// appendJSONString appends the unescaped value of raw (the checked contents of a JSON
// string) to dst. Invalid UTF-8 and lone surrogates become U+FFFD.
func appendJSONString(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) {
			esc := raw[i+1]
			i += 2
			switch esc {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(raw[i:])
				if r < 0 {
					return utf8.AppendRune(dst, utf8.RuneError)
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						r2 = hex4(raw[i+2:])
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
			default: // '"', '\\', '/'
				dst = append(dst, esc)
			}
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, raw[i:i+size]...)
		}
		i += size
	}
	return dst
}

// jsonKeyEquals reports whether the member name with raw contents equals key.
func jsonKeyEquals(raw []byte, plain bool, key string) bool {
	if plain {
		return string(raw) == key
	}
	var buf [128]byte
	return string(appendJSONString(buf[:0], raw)) == key
}
