package policy

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/multipart"
	"slices"
	"strings"
	"unicode"
	"unsafe"
)

// unsafeString views b as a string, for a comparison that keeps no reference.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Request is what Identify reads of a login request.
type Request struct {
	// ContentType and ContentEncoding are the request's headers.
	ContentType, ContentEncoding string
	// Body is the request body as sent; Complete says it is all of it.
	Body     []byte
	Complete bool
	// Query is the raw query string of the URL.
	Query string
	// Authorization is the Authorization header (for PrincipalSpec.Basic).
	Authorization string
	// Header holds the values of the header PrincipalSpec.Header names.
	Header []string
}

// Identity is who a login request names: every value that a portal could read as
// the principal, however it parses the request.
//
// Portals read one request differently: PHP takes the last of repeated form fields
// and rewrites field names, Flask and Go the first, Express makes an array of them;
// some read the query string beside the body, some sniff JSON under a form content
// type. Identify reads the request every way a portal might and returns what each
// reading gives, so the caller can refuse or count a request that names more than
// one account instead of guessing which one the portal will use.
type Identity struct {
	// Candidates are the principals read, cleaned (Clean), distinct, in the order
	// of the request.
	Candidates []string
	// Logins is the number of login calls the request makes: one, or for an
	// XML-RPC system.multicall the number of its calls that name a principal.
	Logins int
	// Unreadable, when set, says that a place a portal could read the principal
	// from holds something that is not a plain value (an object, a nested array):
	// a portal may read it as any account.
	Unreadable string
	// Shape says what made the request unusual (a repeated field, an array, a
	// field-name variant, the query string, a body not of its declared type, a
	// multicall); "" for a plain request.
	Shape string
	// Missing says why no principal was read; set only when Candidates is empty.
	Missing string
	// NotLogin: an XML-RPC call that needs no login (pingback, system.listMethods).
	NotLogin bool
}

// identity collects candidates.
type identity struct {
	Identity
	// pw, when set, takes the values read instead (ReadPasswords reads the
	// password with the readers of the principal).
	pw *passwords
}

func (id *identity) add(v, shape string) {
	if id.pw != nil {
		id.pw.add(v, shape)
		return
	}
	c := Clean(v)
	if c == "" {
		return // names no account
	}
	if shape != "" && id.Shape == "" {
		id.Shape = shape
	}
	if slices.Contains(id.Candidates, c) {
		if id.Shape == "" {
			id.Shape = "a repeated principal"
		}
		return
	}
	id.Candidates = append(id.Candidates, strings.Clone(c))
}

func (id *identity) unreadable(why string) {
	if id.pw != nil {
		id.pw.unreadable(why)
		return
	}
	if id.Unreadable == "" {
		id.Unreadable = why
	}
}

// Identify reads the principal of a login request every way a portal might (see
// Identity). Every reading that applies is made:
//   - the JSON body at spec.JSONPointer, when the body is a JSON object, whatever
//     its declared type: members whose name differs from the pointer's last token
//     only by case or surrounding space count too, as do duplicate members and the
//     elements of an array;
//   - the form body (urlencoded, whatever its declared type, or multipart) and the
//     query string at spec.FormField: repeated fields, name[] arrays and field names
//     that a framework rewrites to the same name (case, percent-encoding, surrounding
//     space, "." and " " for "_" as PHP does) all count;
//   - HTTP Basic credentials (spec.Basic), a header (spec.Header), and XML-RPC calls
//     (spec.XMLRPC; every call of a system.multicall).
//
// contentEncoding gzip or deflate is undone first; another coding, or a body that
// is not complete, reads as nothing (Missing). The result keeps only the principals,
// never anything else of the body.
func Identify(spec PrincipalSpec, req Request) Identity {
	var id identity
	id.Logins = 1
	body, complete, ok := decodeBody(req.ContentEncoding, req.Body, req.Complete)
	switch {
	case !req.Complete || (ok && !complete):
		id.Missing = "the body is over the read limit"
		return id.Identity
	case !ok:
		id.Missing = "the body's content encoding cannot be read"
		return id.Identity
	}
	kind := mediaKind(req.ContentType)
	if spec.XMLRPC != nil && (kind == mediaUnknown || startsWithAngle(body)) {
		identifyXMLRPC(&id, spec.XMLRPC, body)
		if id.NotLogin || len(id.Candidates) > 0 || id.Unreadable != "" {
			return id.done(nil)
		}
	}
	readFields(&id, spec.JSONPointer, spec.FormField, kind, req, body)
	if spec.Basic {
		if user, ok := basicUser(req.Authorization); ok {
			id.add(user, "")
		} else if req.Authorization != "" && hasScheme(req.Authorization, "basic") {
			id.unreadable("malformed Basic credentials")
		}
	}
	if spec.Header != "" {
		for _, v := range req.Header {
			shape := ""
			if len(req.Header) > 1 {
				shape = "a repeated " + spec.Header + " header"
			}
			id.add(v, shape)
		}
	}
	return id.done(&spec)
}

// done sets Missing when nothing was read; spec (nil for none) words what was
// looked for.
func (id *identity) done(spec *PrincipalSpec) Identity {
	if len(id.Candidates) == 0 && !id.NotLogin {
		switch {
		case id.Unreadable != "":
			id.Missing = "the principal is " + id.Unreadable
		case spec != nil:
			id.Missing = "no " + describeSpec(*spec)
		default:
			id.Missing = "no principal"
		}
	}
	return id.Identity
}

// describeSpec names where spec reads the principal, for Missing.
func describeSpec(spec PrincipalSpec) string {
	var parts []string
	if spec.FormField != "" {
		parts = append(parts, "form field "+spec.FormField)
	}
	if spec.JSONPointer != "" {
		parts = append(parts, "JSON member "+spec.JSONPointer)
	}
	if spec.Basic {
		parts = append(parts, "Basic credentials")
	}
	if spec.Header != "" {
		parts = append(parts, "header "+spec.Header)
	}
	if spec.XMLRPC != nil {
		parts = append(parts, "XML-RPC username")
	}
	return strings.Join(parts, " or ")
}

func mediaName(m media) string {
	switch m {
	case mediaJSON:
		return "JSON"
	case mediaForm:
		return "a form"
	case mediaMultipart:
		return "multipart"
	}
	return "another content type"
}

func startsWithAngle(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n\xef\xbb\xbf")
	return len(b) > 0 && b[0] == '<'
}

// looseName is a form field or JSON member name as the most lenient framework
// reads it: percent-decoded again, cut at a NUL, surrounding space trimmed, lower
// case, "." and " " as "_" (PHP); an array suffix "[...]" is dropped unless the
// wanted name itself has brackets, then only a trailing "[]" or "[n]".
func looseName(name string, brackets bool) string {
	for range 3 {
		if !strings.Contains(name, "%") {
			break
		}
		name = formDecode([]byte(name))
	}
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	name = strings.TrimFunc(name, func(r rune) bool { return unicode.IsSpace(r) || r == 0 })
	name = phpNames.Replace(strings.ToLower(name))
	if !brackets {
		if i := strings.IndexByte(name, '['); i > 0 {
			name = name[:i]
		}
		return name
	}
	if strings.HasSuffix(name, "]") {
		if i := strings.LastIndexByte(name, '['); i > 0 {
			inner := name[i+1 : len(name)-1]
			if _, isIdx := arrayIndex(inner); inner == "" || isIdx {
				name = name[:i]
			}
		}
	}
	return name
}

// phpNames rewrites "." and " " in a field name to "_", as PHP does.
var phpNames = strings.NewReplacer(".", "_", " ", "_")

// nameMatch tells how a field name read from a request relates to the wanted one.
type nameMatch uint8

const (
	noMatch nameMatch = iota
	exactMatch
	looseMatch
	arrayMatch
)

type fieldMatcher struct {
	want, loose string
	brackets    bool
}

func newFieldMatcher(want string) fieldMatcher {
	b := strings.Contains(want, "[")
	return fieldMatcher{want: want, loose: looseName(want, b), brackets: b}
}

func (m fieldMatcher) match(name string) nameMatch {
	if name == m.want {
		return exactMatch
	}
	if plainName(name) {
		// Nothing in it a framework rewrites but case (the common case,
		// without allocating): looseName(name) is its lower case.
		if strings.EqualFold(name, m.loose) {
			return looseMatch
		}
		return noMatch
	}
	if looseName(name, m.brackets) != m.loose {
		return noMatch
	}
	if strings.HasSuffix(strings.TrimSpace(name), "]") {
		return arrayMatch
	}
	return looseMatch
}

// plainName reports whether a field name holds nothing that looseName changes
// but case: no "%", "[", ".", space or control character.
func plainName(name string) bool {
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c <= ' ', c == '%', c == '[', c == '.', c >= 0x7f:
			return false
		}
	}
	return true
}

func shapeOf(m nameMatch, field, where string) string {
	switch m {
	case looseMatch:
		return "a variant of the field name " + field + where
	case arrayMatch:
		return "an array " + field + "[]" + where
	}
	return ""
}

// identifyForm reads an urlencoded body (or query string).
func identifyForm(id *identity, field string, body []byte, shape string) {
	m := newFieldMatcher(field)
	n := 0
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
		if len(key) > 4*len(field)+64 {
			continue // far too long to be the field under any spelling
		}
		var k nameMatch
		if bytes.IndexByte(key, '%') < 0 && bytes.IndexByte(key, '+') < 0 {
			k = m.match(unsafeString(key))
		} else {
			k = m.match(formDecode(key))
		}
		if k == noMatch {
			continue
		}
		n++
		s := shape
		if s == "" {
			s = shapeOf(k, field, "")
		}
		if s == "" && n > 1 {
			s = "a repeated field " + field
		}
		id.add(formDecode(value), s)
	}
}

// identifyMultipart reads a multipart/form-data body: every part named like the
// field that is not a file.
func identifyMultipart(id *identity, field, contentType string, body []byte) {
	b := boundary(contentType)
	if b == "" {
		id.Missing = "the multipart body has no boundary"
		return
	}
	m := newFieldMatcher(field)
	mr := multipart.NewReader(bytes.NewReader(body), b)
	n := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			id.unreadable("in a malformed multipart body")
			return
		}
		k := m.match(p.FormName())
		if k == noMatch || p.FileName() != "" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(p, MaxBody))
		if err != nil {
			id.unreadable("in a malformed multipart body")
			return
		}
		n++
		s := shapeOf(k, field, "")
		if s == "" && n > 1 {
			s = "a repeated part " + field
		}
		id.add(string(data), s)
	}
}

// identifyJSON reads a JSON object body: the members of the pointer's parent whose
// name matches its last token.
func identifyJSON(id *identity, pointer string, body []byte, shape string) {
	var arr [8]string
	tokens, err := pointerTokens(pointer, arr[:0])
	if err != nil || len(tokens) == 0 {
		return
	}
	s := jsonScanner{d: body, complete: true}
	if len(body) >= 3 && body[0] == 0xEF && body[1] == 0xBB && body[2] == 0xBF {
		s.d = body[3:]
	}
	if _, err := s.skip(s.ws(0), 0); err != nil {
		if shape == "" {
			id.unreadable("in a malformed JSON body")
		}
		return
	}
	pos := s.ws(0)
	for _, tok := range tokens[:len(tokens)-1] {
		if pos >= len(s.d) || s.d[pos] != '{' {
			return
		}
		next, found, err := s.member(pos, tok)
		if err != nil || !found {
			return
		}
		pos = s.ws(next)
	}
	if pos >= len(s.d) || s.d[pos] != '{' {
		return
	}
	last := tokens[len(tokens)-1]
	want := strings.ToLower(strings.TrimSpace(last))
	n := 0
	_ = s.eachMember(pos, func(key string, valueStart int) {
		if !strings.EqualFold(strings.TrimSpace(key), want) {
			return
		}
		n++
		sh := shape
		if sh == "" && key != last {
			sh = "a variant of the JSON member " + last
		}
		if sh == "" && n > 1 {
			sh = "a duplicate JSON member " + last
		}
		v, ok := s.value(valueStart)
		switch {
		case !ok:
		case v.scalar():
			t, _ := v.text()
			id.add(t, sh)
		case v.kind == kindArray:
			jsonArray(id, &s, valueStart, "a JSON array at "+pointer)
		case v.kind == kindNull:
		default:
			id.unreadable("a JSON object")
		}
	})
}

// jsonArray adds the scalar elements of the array at s.d[i].
func jsonArray(id *identity, s *jsonScanner, i int, shape string) {
	i = s.ws(i + 1)
	for i < len(s.d) && s.d[i] != ']' {
		end, err := s.skip(i, 1)
		if err != nil {
			return
		}
		if v, ok := s.value(i); ok && v.scalar() {
			t, _ := v.text()
			id.add(t, shape)
		} else if ok && v.kind != kindNull {
			id.unreadable("a nested JSON value")
		}
		i = s.ws(end)
		if i < len(s.d) && s.d[i] == ',' {
			i = s.ws(i + 1)
		}
	}
}

// eachMember calls fn with the unescaped name and value start of every member of
// the object at s.d[i] == '{'. The name may share memory with the document: fn
// must not keep it.
func (s *jsonScanner) eachMember(i int, fn func(key string, valueStart int)) error {
	i = s.ws(i + 1)
	if i < len(s.d) && s.d[i] == '}' {
		return nil
	}
	for {
		if i >= len(s.d) || s.d[i] != '"' {
			return errJSONSyntax
		}
		end, plain, err := s.str(i)
		if err != nil {
			return err
		}
		raw := s.d[i+1 : end-1]
		key := unsafeString(raw) // fn keeps no reference to it
		if !plain {
			key = string(appendJSONString(nil, raw))
		}
		i = s.ws(end)
		if i >= len(s.d) || s.d[i] != ':' {
			return errJSONSyntax
		}
		i = s.ws(i + 1)
		start := i
		if i, err = s.skip(i, 1); err != nil {
			return err
		}
		fn(key, start)
		i = s.ws(i)
		if i >= len(s.d) {
			return errJSONEOF
		}
		switch s.d[i] {
		case ',':
			i = s.ws(i + 1)
		case '}':
			return nil
		default:
			return errJSONSyntax
		}
	}
}

// hasScheme reports whether an Authorization value uses scheme (case-insensitive).
func hasScheme(auth, scheme string) bool {
	s, _, _ := strings.Cut(strings.TrimSpace(auth), " ")
	return strings.EqualFold(s, scheme)
}

// basicUser returns the user of HTTP Basic credentials.
func basicUser(auth string) (string, bool) {
	if !hasScheme(auth, "basic") {
		return "", false
	}
	_, enc, _ := strings.Cut(strings.TrimSpace(auth), " ")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return "", false
	}
	user, _, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", false
	}
	return user, true
}

// readFields reads the JSON member at ptr and the form field (from a form or
// multipart body, and from the query string) into id, every way a portal
// might: the principal's reading and the password's share it.
func readFields(id *identity, ptr, field string, kind media, req Request, body []byte) {
	if ptr != "" && startsWithBrace(body) {
		shape := ""
		if kind != mediaJSON {
			shape = "a JSON body sent as " + mediaName(kind)
		}
		identifyJSON(id, ptr, body, shape)
	}
	if field == "" {
		return
	}
	switch kind {
	case mediaMultipart:
		identifyMultipart(id, field, req.ContentType, body)
	case mediaForm:
		identifyForm(id, field, body, "")
	default:
		if !startsWithBrace(body) {
			identifyForm(id, field, body, "a form body sent as "+mediaName(kind))
		}
	}
	identifyForm(id, field, []byte(req.Query), "the query string")
}
