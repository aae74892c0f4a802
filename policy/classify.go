package policy

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loginguard/loginguard/event"
)

// Rule is one response rule of a login route. A route's rules are tried in order and
// the first rule whose conditions all hold decides the outcome; a rule without
// conditions always holds. Regular expressions are Go's (RE2) and unanchored: use ^
// and $ to anchor them, (?i) to ignore case.
type Rule struct {
	// Outcome is "success" or "failure". Required.
	Outcome string `json:"outcome"`
	// Reason is the failure reason, a name from event.Reasons. Only on failure rules;
	// default UNKNOWN. Not with Reasons, which decides the reason itself.
	Reason string `json:"reason,omitempty"`
	// Status holds response statuses, any of which must match: a status ("401"), a class
	// ("4xx") or a range ("400-499"). Default: any status.
	Status []string `json:"status,omitempty"`
	// Header maps a header name to a regexp that some value of that header must match
	// ("" for any value). A missing header does not match. Default: no header condition.
	Header map[string]string `json:"header,omitempty"`
	// Cookie is the name of a cookie the response must set (a trailing "*" matches
	// any rest of the name, e.g. wordpress_logged_in_*): a Set-Cookie with this name
	// and a non-empty value that does not expire it (Max-Age zero or less, or Expires in
	// the past; a positive Max-Age wins over Expires). Default: no cookie condition.
	Cookie string `json:"cookie,omitempty"`
	// Location is a regexp the Location header must match; a response without one does
	// not match. Default: no location condition.
	Location string `json:"location,omitempty"`
	// Body is a regexp on the inspected body: at most MaxBody bytes, decoded from gzip or
	// deflate. A body in another content coding does not match. Default: none.
	Body string `json:"body,omitempty"`
	// JSON is an RFC 6901 pointer that must exist in the JSON body with a value other
	// than null. Default: none.
	JSON string `json:"json,omitempty"`
	// JSONMatch is a regexp the value at JSON must match; the value must be a string
	// (unescaped), number or boolean (their JSON text). Needs JSON. Default: none.
	JSONMatch string `json:"json_match,omitempty"`
	// Reasons maps the value at JSON (a string, number or boolean, compared ignoring
	// case) to a failure reason; a value not in the map means the rule does not match.
	// Needs JSON; only on failure rules. Default: none.
	Reasons map[string]string `json:"reasons,omitempty"`
}

// Response is what Classify looks at of the portal's answer to a login attempt.
type Response struct {
	Status int
	Header http.Header // the response headers (Set-Cookie, Location, Content-Encoding, ...)
	Body   []byte      // at most the first MaxBody bytes as sent (maybe gzip/deflate per Content-Encoding; decode a bounded prefix, tolerating truncation)
}

// Verdict is the outcome of a login attempt.
type Verdict struct {
	Success bool
	Reason  event.Reason // "" on success
	Rule    int          // index of the deciding rule, -1 for the default
}

// Classifier decides login outcomes from portal responses with compiled rules. It is
// safe for concurrent use. A nil *Classifier has no rules.
type Classifier struct {
	rules     []compiledRule
	needsBody bool
	now       func() time.Time
}

type compiledRule struct {
	success   bool
	reason    event.Reason
	status    []statusRange
	header    []headerCond
	cookie    string
	location  *regexp.Regexp
	body      *regexp.Regexp
	json      []string // pointer tokens; nil when the rule has no JSON condition
	hasJSON   bool
	jsonMatch *regexp.Regexp
	reasons   []reasonCase
}

type statusRange struct{ lo, hi int }

type headerCond struct {
	name string // canonical
	re   *regexp.Regexp
}

type reasonCase struct {
	value  []byte
	reason event.Reason
}

// Compile checks and compiles rules. Errors name the field: `rules[2].body: invalid regexp: ...`,
// `rules[0].outcome: must be "success" or "failure"`, `rules[1].reason: unknown reason "FOO"`,
// `rules[3].status: "6xx" is not a status, class (4xx) or range (400-499)`, reasons on a success rule, etc.
func Compile(rules []Rule) (*Classifier, error) {
	c := &Classifier{now: time.Now}
	for i, r := range rules {
		cr, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("rules[%d].%w", i, err)
		}
		c.needsBody = c.needsBody || cr.body != nil || cr.hasJSON
		c.rules = append(c.rules, cr)
	}
	return c, nil
}

// fieldError is an error about one field of a rule; Compile prefixes the rule.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

func fieldErr(field, format string, args ...any) error {
	return &fieldError{field: field, err: fmt.Errorf(format, args...)}
}

func compileRegexp(field, expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fieldErr(field, "invalid regexp: %w", err)
	}
	return re, nil
}

func compileRule(r Rule) (compiledRule, error) {
	var cr compiledRule
	switch r.Outcome {
	case "success":
		cr.success = true
	case "failure":
	case "":
		return cr, fieldErr("outcome", `must be "success" or "failure"`)
	default:
		return cr, fieldErr("outcome", `must be "success" or "failure", not %q`, r.Outcome)
	}

	// reason, reasons
	if cr.success {
		if r.Reason != "" {
			return cr, fieldErr("reason", "not allowed on a success rule")
		}
		if len(r.Reasons) > 0 {
			return cr, fieldErr("reasons", "not allowed on a success rule")
		}
	} else {
		cr.reason = event.Unknown
		if r.Reason != "" {
			reason, ok := event.ParseReason(r.Reason)
			if !ok {
				return cr, fieldErr("reason", "unknown reason %q", r.Reason)
			}
			if len(r.Reasons) > 0 {
				return cr, fieldErr("reason", "not allowed with reasons, which decides the reason")
			}
			cr.reason = reason
		}
	}
	if len(r.Reasons) > 0 {
		if r.JSON == "" {
			return cr, fieldErr("reasons", "needs json (the pointer to the value it maps)")
		}
		keys := make([]string, 0, len(r.Reasons))
		for k := range r.Reasons {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			reason, ok := event.ParseReason(r.Reasons[k])
			if !ok {
				return cr, fieldErr(fmt.Sprintf("reasons[%q]", k), "unknown reason %q", r.Reasons[k])
			}
			for _, prev := range cr.reasons {
				if bytes.EqualFold(prev.value, []byte(k)) {
					return cr, fieldErr("reasons", "%q and %q are the same value ignoring case", prev.value, k)
				}
			}
			cr.reasons = append(cr.reasons, reasonCase{value: []byte(k), reason: reason})
		}
	}

	// status
	for _, s := range r.Status {
		sr, ok := parseStatus(s)
		if !ok {
			return cr, fieldErr("status", "%q is not a status, class (4xx) or range (400-499)", s)
		}
		cr.status = append(cr.status, sr)
	}

	// header
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !validToken(name) {
			return cr, fieldErr("header", "%q is not a valid header name", name)
		}
		re, err := regexp.Compile(r.Header[name]) // "" matches any value
		if err != nil {
			return cr, fieldErr("header["+name+"]", "invalid regexp: %w", err)
		}
		cr.header = append(cr.header, headerCond{name: http.CanonicalHeaderKey(name), re: re})
	}

	// cookie
	if r.Cookie != "" && !validToken(r.Cookie) {
		return cr, fieldErr("cookie", "%q is not a valid cookie name", r.Cookie)
	}
	cr.cookie = r.Cookie

	// location, body
	var err error
	if cr.location, err = compileRegexp("location", r.Location); err != nil {
		return cr, err
	}
	if cr.body, err = compileRegexp("body", r.Body); err != nil {
		return cr, err
	}

	// json, json_match
	if r.JSON != "" {
		tokens, err := pointerTokens(r.JSON, nil)
		if err != nil {
			return cr, &fieldError{field: "json", err: err}
		}
		cr.json, cr.hasJSON = tokens, true
	}
	if r.JSONMatch != "" && !cr.hasJSON {
		return cr, fieldErr("json_match", "needs json (the pointer to the value it matches)")
	}
	if cr.jsonMatch, err = compileRegexp("json_match", r.JSONMatch); err != nil {
		return cr, err
	}
	return cr, nil
}

// parseStatus parses "401", "4xx" or "400-499".
func parseStatus(s string) (statusRange, bool) {
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		l, okl := parseCode(lo)
		h, okh := parseCode(hi)
		return statusRange{l, h}, okl && okh && l <= h
	}
	if len(s) == 3 && (s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X') && '1' <= s[0] && s[0] <= '5' {
		base := int(s[0]-'0') * 100
		return statusRange{base, base + 99}, true
	}
	code, ok := parseCode(s)
	return statusRange{code, code}, ok
}

// parseCode parses a three-digit status from 100 to 599.
func parseCode(s string) (int, bool) {
	if len(s) != 3 {
		return 0, false
	}
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, _ := strconv.Atoi(s)
	return n, 100 <= n && n <= 599
}

// validToken reports whether s is an RFC 9110 token, as header and cookie names are.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// NeedsBody reports whether any rule looks at the body (so the handler can skip capturing it).
func (c *Classifier) NeedsBody() bool {
	return c != nil && c.needsBody
}

// Classify decides the outcome of a login attempt from the portal's response: the first
// rule whose conditions all hold decides (Verdict.Rule is its index). When none does
// (Verdict.Rule is -1):
//
//   - with no rules at all: 2xx is a success, 401 a BAD_CREDENTIALS failure, 5xx an
//     UPSTREAM_ERROR failure and anything else an UNKNOWN failure;
//   - with rules: 5xx is an UPSTREAM_ERROR failure and anything else an UNKNOWN failure.
//
// A body that cannot be decoded (an unsupported Content-Encoding) holds no body or json
// condition. Classify never fails; a truncated body is inspected as far as it goes.
func (c *Classifier) Classify(r Response) Verdict {
	if c == nil || len(c.rules) == 0 {
		switch {
		case 200 <= r.Status && r.Status <= 299:
			return Verdict{Success: true, Rule: -1}
		case r.Status == http.StatusUnauthorized:
			return Verdict{Reason: event.BadCredentials, Rule: -1}
		case 500 <= r.Status && r.Status <= 599:
			return Verdict{Reason: event.UpstreamError, Rule: -1}
		default:
			return Verdict{Reason: event.Unknown, Rule: -1}
		}
	}
	now := c.now
	if now == nil {
		now = time.Now
	}
	in := inspection{status: r.Status, header: r.Header, raw: r.Body}
	for i := range c.rules {
		reason, ok := c.rules[i].match(&in, now)
		if !ok {
			continue
		}
		if c.rules[i].success {
			return Verdict{Success: true, Rule: i}
		}
		return Verdict{Reason: reason, Rule: i}
	}
	if 500 <= r.Status && r.Status <= 599 {
		return Verdict{Reason: event.UpstreamError, Rule: -1}
	}
	return Verdict{Reason: event.Unknown, Rule: -1}
}

// inspection holds the response being classified and, once a rule needs it, its
// decoded body.
type inspection struct {
	status   int
	header   http.Header
	raw      []byte
	decoded  bool
	body     []byte
	complete bool
	bodyOK   bool
}

func (in *inspection) decodedBody() ([]byte, bool) {
	if !in.decoded {
		in.decoded = true
		in.body, in.complete, in.bodyOK = decodeBody(in.header.Get("Content-Encoding"), in.raw, len(in.raw) < MaxBody)
	}
	return in.body, in.bodyOK
}

// match reports whether all conditions of the rule hold, and the failure reason.
func (cr *compiledRule) match(in *inspection, now func() time.Time) (event.Reason, bool) {
	if len(cr.status) > 0 {
		ok := false
		for _, s := range cr.status {
			if s.lo <= in.status && in.status <= s.hi {
				ok = true
				break
			}
		}
		if !ok {
			return "", false
		}
	}
	if cr.location != nil && !anyMatch(cr.location, in.header.Values("Location")) {
		return "", false
	}
	for _, h := range cr.header {
		if !anyMatch(h.re, in.header[h.name]) {
			return "", false
		}
	}
	if cr.cookie != "" && !setsCookie(in.header["Set-Cookie"], cr.cookie, now) {
		return "", false
	}
	if cr.body == nil && !cr.hasJSON {
		return cr.reason, true
	}
	body, ok := in.decodedBody()
	if !ok {
		return "", false
	}
	reason := cr.reason
	if cr.hasJSON {
		v, found := lookupJSON(body, cr.json, in.complete)
		if !found || v.kind == kindNull {
			return "", false
		}
		if cr.jsonMatch != nil || len(cr.reasons) > 0 {
			if !v.scalar() {
				return "", false
			}
			val := v.bytes()
			if cr.jsonMatch != nil && !cr.jsonMatch.Match(val) {
				return "", false
			}
			if len(cr.reasons) > 0 {
				found := false
				for _, rc := range cr.reasons {
					if bytes.EqualFold(val, rc.value) {
						reason, found = rc.reason, true
						break
					}
				}
				if !found {
					return "", false
				}
			}
		}
	}
	if cr.body != nil && !cr.body.Match(body) {
		return "", false
	}
	return reason, true
}

func anyMatch(re *regexp.Regexp, values []string) bool {
	for _, v := range values {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

// setsCookie reports whether one of the Set-Cookie lines sets the cookie name to a
// non-empty value without expiring it.
func setsCookie(lines []string, name string, now func() time.Time) bool {
	_, ok := SetCookieValue(lines, name, now)
	return ok
}

// SetCookieValue returns the value of the first Set-Cookie line that sets a cookie
// named pattern (a trailing "*" matches any rest of the name: WordPress's
// wordpress_logged_in_<hash>) to a non-empty value without expiring it.
func SetCookieValue(lines []string, pattern string, now func() time.Time) (string, bool) {
	prefix, wild := strings.CutSuffix(pattern, "*")
	for _, line := range lines {
		// Cheap check before parsing: the line must start with the name.
		rest := strings.TrimLeft(line, " \t")
		if !strings.HasPrefix(rest, prefix) {
			continue
		}
		if rest = strings.TrimLeft(rest[len(prefix):], " \t"); !wild && !strings.HasPrefix(rest, "=") {
			continue
		}
		c, err := http.ParseSetCookie(line)
		if err != nil || c.Value == "" || (c.Name != pattern && !(wild && strings.HasPrefix(c.Name, prefix))) {
			continue
		}
		switch {
		case c.MaxAge < 0:
			continue
		case c.MaxAge > 0:
			return c.Value, true
		case !c.Expires.IsZero() && !c.Expires.After(now()):
			continue
		}
		return c.Value, true
	}
	return "", false
}
