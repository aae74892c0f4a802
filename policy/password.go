package policy

import (
	"crypto/sha1"
	"encoding/base64"
	"slices"
	"strings"
)

// PasswordSpec says where a login request carries the password, as
// PrincipalSpec does for the principal. Set the same kinds of body as the
// principal's: a password not read is a password not checked.
type PasswordSpec struct {
	// JSONPointer is an RFC 6901 pointer into a JSON body, e.g. "/password".
	JSONPointer string `json:"json,omitempty"`
	// FormField is a field of an urlencoded or multipart form body (and of the
	// query string), e.g. "password" (WordPress: "pwd").
	FormField string `json:"form,omitempty"`
	// Basic reads the password of HTTP Basic credentials.
	Basic bool `json:"basic,omitempty"`
	// XMLRPC reads the password of XML-RPC calls: the parameter after the
	// username that the spec places (WordPress's xmlrpc.php: DefaultXMLRPC()).
	XMLRPC *XMLRPCSpec `json:"xmlrpc,omitempty"`
}

// Passwords is what ReadPasswords found: the SHA-1 sums of every value a
// portal could read as the password. The passwords themselves are not kept.
type Passwords struct {
	// SHA1 holds the sums of the distinct non-empty passwords read, in the
	// order of the request. A request whose password field is repeated, an
	// array, a variant of the field's name, or also in the query string gives
	// one sum per distinct value: the portal may check any one of them, so
	// check them all (the request is as weak as its weakest candidate).
	SHA1 [][20]byte
	// Shape says what made the request unusual, as Identity.Shape does; ""
	// for a plain request.
	Shape string
	// Unreadable, when set, says that a place a portal could read the
	// password from holds something that is not a plain value.
	Unreadable string
	// Missing says why no password was read; set only when SHA1 is empty.
	Missing string
}

// passwords collects the sums.
type passwords struct {
	Passwords
}

func (p *passwords) add(v, shape string) {
	if v == "" {
		return // an empty password is no password to check
	}
	sum := sha1.Sum([]byte(v))
	if shape != "" && p.Shape == "" {
		p.Shape = shape
	}
	if slices.Contains(p.SHA1, sum) {
		if p.Shape == "" {
			p.Shape = "a repeated password"
		}
		return
	}
	p.SHA1 = append(p.SHA1, sum)
}

func (p *passwords) unreadable(why string) {
	if p.Unreadable == "" {
		p.Unreadable = why
	}
}

// ReadPasswords reads the password of a login request every way a portal
// might, as Identify reads the principal (see Identify for the readings:
// JSON members differing by case or space, duplicate members and arrays;
// repeated form fields, name[] arrays, field names a framework rewrites, the
// query string; multipart parts; gzip and deflate bodies), and returns the
// SHA-1 sum of each distinct value. Values are taken exactly as sent: no
// trimming, no normalisation. Each value is hashed as soon as it is read and
// no copy of it is kept.
func ReadPasswords(spec PasswordSpec, req Request) Passwords {
	var p passwords
	id := identity{pw: &p} // the principal's readers, feeding p
	body, complete, ok := decodeBody(req.ContentEncoding, req.Body, req.Complete)
	switch {
	case !req.Complete || (ok && !complete):
		p.Missing = "the body is over the read limit"
		return p.Passwords
	case !ok:
		p.Missing = "the body's content encoding cannot be read"
		return p.Passwords
	}
	kind := mediaKind(req.ContentType)
	if spec.XMLRPC != nil && (kind == mediaUnknown || startsWithAngle(body)) {
		passwordsXMLRPC(&p, spec.XMLRPC, body)
		if len(p.SHA1) > 0 || p.Unreadable != "" {
			return p.done(spec)
		}
	}
	readFields(&id, spec.JSONPointer, spec.FormField, kind, req, body)
	if spec.FormField != "" && len(p.SHA1) == 0 && id.Missing != "" {
		p.Missing = id.Missing // a multipart body without a boundary
	}
	if spec.Basic {
		if pw, ok := basicPassword(req.Authorization); ok {
			p.add(pw, "")
		} else if req.Authorization != "" && hasScheme(req.Authorization, "basic") {
			p.unreadable("malformed Basic credentials")
		}
	}
	return p.done(spec)
}

func (p *passwords) done(spec PasswordSpec) Passwords {
	if len(p.SHA1) > 0 {
		p.Missing = ""
		return p.Passwords
	}
	switch {
	case p.Unreadable != "":
		p.Missing = "the password is " + p.Unreadable
	default:
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
		if spec.XMLRPC != nil {
			parts = append(parts, "XML-RPC password")
		}
		if len(parts) == 0 {
			p.Missing = "no password"
		} else {
			p.Missing = "no " + strings.Join(parts, " or ")
		}
	}
	return p.Passwords
}

// basicPassword returns the password of HTTP Basic credentials.
func basicPassword(auth string) (string, bool) {
	if !hasScheme(auth, "basic") {
		return "", false
	}
	_, enc, _ := strings.Cut(strings.TrimSpace(auth), " ")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return "", false
	}
	_, pw, ok := strings.Cut(string(raw), ":")
	return pw, ok
}

// passwordsXMLRPC reads the password of an XML-RPC call, or of every call of a
// system.multicall: the parameter after the username.
func passwordsXMLRPC(p *passwords, spec *XMLRPCSpec, body []byte) {
	method, params, err := parseMethodCall(body)
	if err != nil {
		p.unreadable("in a malformed XML-RPC call")
		return
	}
	one := func(method string, params []xvalue, shape string) {
		if noLoginMethods[method] || method == "system.multicall" {
			return
		}
		i := spec.param(method) + 1
		if i >= len(params) {
			return
		}
		if v := params[i]; v.scalar {
			p.add(v.text, shape)
		} else {
			p.unreadable("an XML-RPC array or struct")
		}
	}
	if method != "system.multicall" {
		one(method, params, "")
		return
	}
	if len(params) != 1 || params[0].array == nil {
		p.unreadable("in a malformed system.multicall")
		return
	}
	for _, c := range params[0].array {
		m, ok := c.members["methodName"]
		ps, okp := c.members["params"]
		if ok && m.scalar && okp {
			one(m.text, ps.array, "an XML-RPC system.multicall")
		}
	}
}
