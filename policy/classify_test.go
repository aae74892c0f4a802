package policy

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

func TestCompileErrors(t *testing.T) {
	ok := Rule{Outcome: "success", Status: []string{"2xx"}}
	tests := []struct {
		name  string
		rules []Rule
		want  string // the whole error, or its start when it ends with "..."
	}{
		{"outcome missing", []Rule{{}}, `rules[0].outcome: must be "success" or "failure"`},
		{"outcome wrong", []Rule{ok, {Outcome: "Success"}}, `rules[1].outcome: must be "success" or "failure", not "Success"`},
		{"reason unknown", []Rule{ok, {Outcome: "failure", Reason: "FOO"}}, `rules[1].reason: unknown reason "FOO"`},
		{"reason lower case", []Rule{{Outcome: "failure", Reason: "disabled"}}, `rules[0].reason: unknown reason "disabled"`},
		{"reason on success", []Rule{{Outcome: "success", Reason: "DISABLED"}}, `rules[0].reason: not allowed on a success rule`},
		{"reasons on success", []Rule{{Outcome: "success", JSON: "/s", Reasons: map[string]string{"x": "DISABLED"}}}, `rules[0].reasons: not allowed on a success rule`},
		{"reasons without json", []Rule{{Outcome: "failure", Reasons: map[string]string{"x": "DISABLED"}}}, `rules[0].reasons: needs json...`},
		{"reasons unknown reason", []Rule{{Outcome: "failure", JSON: "/s", Reasons: map[string]string{"locked": "LOCKED", "x": "NOPE"}}}, `rules[0].reasons["x"]: unknown reason "NOPE"`},
		{"reasons case clash", []Rule{{Outcome: "failure", JSON: "/s", Reasons: map[string]string{"Locked": "LOCKED", "locked": "DISABLED"}}}, `rules[0].reasons: "Locked" and "locked" are the same value ignoring case`},
		{"reason with reasons", []Rule{{Outcome: "failure", Reason: "DISABLED", JSON: "/s", Reasons: map[string]string{"x": "LOCKED"}}}, `rules[0].reason: not allowed with reasons...`},
		{"status class", []Rule{ok, ok, ok, {Outcome: "failure", Status: []string{"401", "6xx"}}}, `rules[3].status: "6xx" is not a status, class (4xx) or range (400-499)`},
		{"status number", []Rule{{Outcome: "failure", Status: []string{"99"}}}, `rules[0].status: "99" is not a status, class (4xx) or range (400-499)`},
		{"status range backwards", []Rule{{Outcome: "failure", Status: []string{"499-400"}}}, `rules[0].status: "499-400" is not a status...`},
		{"status range open", []Rule{{Outcome: "failure", Status: []string{"400-"}}}, `rules[0].status: "400-" is not a status...`},
		{"status empty", []Rule{{Outcome: "failure", Status: []string{""}}}, `rules[0].status: "" is not a status...`},
		{"header name", []Rule{{Outcome: "failure", Header: map[string]string{"X Bad": "x"}}}, `rules[0].header: "X Bad" is not a valid header name`},
		{"header regexp", []Rule{{Outcome: "failure", Header: map[string]string{"X-Ok": "a", "X-Error": "("}}}, `rules[0].header[X-Error]: invalid regexp: ...`},
		{"cookie name", []Rule{{Outcome: "success", Cookie: "a=b"}}, `rules[0].cookie: "a=b" is not a valid cookie name`},
		{"location regexp", []Rule{{Outcome: "success", Location: "[z-a]"}}, `rules[0].location: invalid regexp: ...`},
		{"body regexp", []Rule{ok, ok, {Outcome: "failure", Body: "a**"}}, `rules[2].body: invalid regexp: ...`},
		{"json pointer", []Rule{{Outcome: "failure", JSON: "status"}}, `rules[0].json: json pointer "status" must be empty or start with "/"`},
		{"json pointer escape", []Rule{{Outcome: "failure", JSON: "/a~2"}}, `rules[0].json: json pointer "/a~2": ...`},
		{"json_match without json", []Rule{{Outcome: "failure", JSONMatch: "x"}}, `rules[0].json_match: needs json...`},
		{"json_match regexp", []Rule{{Outcome: "failure", JSON: "/a", JSONMatch: "(?P<>x)"}}, `rules[0].json_match: invalid regexp: ...`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(tt.rules)
			if err == nil {
				t.Fatalf("Compile succeeded, want %s", tt.want)
			}
			if c != nil {
				t.Error("Compile returned a classifier with its error")
			}
			if prefix, cut := strings.CutSuffix(tt.want, "..."); cut {
				if !strings.HasPrefix(err.Error(), prefix) {
					t.Errorf("Compile error = %q, want it to start with %q", err, prefix)
				}
			} else if err.Error() != tt.want {
				t.Errorf("Compile error = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestCompileFromJSONConfig(t *testing.T) {
	const config = `[
		{"outcome": "failure", "reason": "DISABLED", "status": ["403"], "header": {"x-reason": "(?i)disabled"}},
		{"outcome": "failure", "json": "/error/code", "reasons": {"locked": "LOCKED", "1001": "NOT_APPROVED"}},
		{"outcome": "success", "status": ["200-299", "3xx"], "cookie": "SESSION", "location": "^/home", "body": "ok", "json": "/user", "json_match": "."},
		{"outcome": "failure"}
	]`
	var rules []Rule
	if err := json.Unmarshal([]byte(config), &rules); err != nil {
		t.Fatal(err)
	}
	c, err := Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	if !c.NeedsBody() {
		t.Error("NeedsBody = false, want true")
	}
	back, err := json.Marshal(rules[2])
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"outcome":"success","status":["200-299","3xx"],"cookie":"SESSION","location":"^/home","body":"ok","json":"/user","json_match":"."}`
	if string(back) != want {
		t.Errorf("rule marshals as %s, want %s", back, want)
	}
}

func TestNeedsBody(t *testing.T) {
	for _, tt := range []struct {
		rules []Rule
		want  bool
	}{
		{nil, false},
		{[]Rule{{Outcome: "success", Status: []string{"2xx"}, Cookie: "s", Header: map[string]string{"X": ""}, Location: "/"}}, false},
		{[]Rule{{Outcome: "success", Status: []string{"2xx"}}, {Outcome: "failure", Body: "x"}}, true},
		{[]Rule{{Outcome: "failure", JSON: "/a"}}, true},
	} {
		c, err := Compile(tt.rules)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.NeedsBody(); got != tt.want {
			t.Errorf("NeedsBody(%+v) = %v, want %v", tt.rules, got, tt.want)
		}
	}
	var nilC *Classifier
	if nilC.NeedsBody() {
		t.Error("nil classifier needs a body")
	}
}

func mustCompile(t testing.TB, rules ...Rule) *Classifier {
	t.Helper()
	c, err := Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestClassifyDefaults(t *testing.T) {
	empty := mustCompile(t)
	var nilC *Classifier
	withRules := mustCompile(t, Rule{Outcome: "success", Status: []string{"204"}})
	tests := []struct {
		c      *Classifier
		status int
		want   Verdict
	}{
		{empty, 200, Verdict{Success: true, Rule: -1}},
		{empty, 204, Verdict{Success: true, Rule: -1}},
		{empty, 401, Verdict{Reason: event.BadCredentials, Rule: -1}},
		{empty, 403, Verdict{Reason: event.Unknown, Rule: -1}},
		{empty, 302, Verdict{Reason: event.Unknown, Rule: -1}},
		{empty, 500, Verdict{Reason: event.UpstreamError, Rule: -1}},
		{empty, 503, Verdict{Reason: event.UpstreamError, Rule: -1}},
		{empty, 0, Verdict{Reason: event.Unknown, Rule: -1}},
		{nilC, 200, Verdict{Success: true, Rule: -1}},
		{nilC, 401, Verdict{Reason: event.BadCredentials, Rule: -1}},
		{withRules, 204, Verdict{Success: true, Rule: 0}},
		{withRules, 200, Verdict{Reason: event.Unknown, Rule: -1}},
		{withRules, 401, Verdict{Reason: event.Unknown, Rule: -1}},
		{withRules, 502, Verdict{Reason: event.UpstreamError, Rule: -1}},
		{withRules, 999, Verdict{Reason: event.Unknown, Rule: -1}},
	}
	for _, tt := range tests {
		if got := tt.c.Classify(Response{Status: tt.status}); got != tt.want {
			t.Errorf("Classify(%d) with %d rules = %+v, want %+v", tt.status, len(tt.c.rulesOrNil()), got, tt.want)
		}
	}
}

func (c *Classifier) rulesOrNil() []compiledRule {
	if c == nil {
		return nil
	}
	return c.rules
}

func TestClassifyConditions(t *testing.T) {
	now := time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		rule Rule
		resp Response
		want bool
	}{
		{"no condition", Rule{Outcome: "failure"}, Response{Status: 200}, true},
		{"status exact", Rule{Outcome: "failure", Status: []string{"401"}}, Response{Status: 401}, true},
		{"status exact miss", Rule{Outcome: "failure", Status: []string{"401"}}, Response{Status: 403}, false},
		{"status class", Rule{Outcome: "failure", Status: []string{"4XX"}}, Response{Status: 429}, true},
		{"status class miss", Rule{Outcome: "failure", Status: []string{"4xx"}}, Response{Status: 500}, false},
		{"status range", Rule{Outcome: "failure", Status: []string{"400-403"}}, Response{Status: 403}, true},
		{"status range miss", Rule{Outcome: "failure", Status: []string{"400-403"}}, Response{Status: 404}, false},
		{"status any of", Rule{Outcome: "failure", Status: []string{"200", "302"}}, Response{Status: 302}, true},

		{"header", Rule{Outcome: "failure", Header: map[string]string{"x-login-error": "^disabled$"}}, Response{Header: hdr("X-Login-Error", "disabled")}, true},
		{"header any value", Rule{Outcome: "failure", Header: map[string]string{"X-E": "b"}}, Response{Header: hdr("X-E", "a", "X-E", "b")}, true},
		{"header miss", Rule{Outcome: "failure", Header: map[string]string{"X-E": "^b$"}}, Response{Header: hdr("X-E", "bb")}, false},
		{"header missing", Rule{Outcome: "failure", Header: map[string]string{"X-E": ""}}, Response{Header: hdr("X-F", "b")}, false},
		{"header present", Rule{Outcome: "failure", Header: map[string]string{"X-E": ""}}, Response{Header: hdr("X-E", "")}, true},
		{"headers all", Rule{Outcome: "failure", Header: map[string]string{"X-A": "1", "X-B": "2"}}, Response{Header: hdr("X-A", "1", "X-B", "3")}, false},

		{"location", Rule{Outcome: "success", Location: "^/portal/home"}, Response{Status: 302, Header: hdr("Location", "/portal/home?x=1")}, true},
		{"location miss", Rule{Outcome: "success", Location: "^/portal/home"}, Response{Status: 302, Header: hdr("Location", "/login?error")}, false},
		{"location missing", Rule{Outcome: "success", Location: "."}, Response{Status: 302}, false},

		{"cookie", Rule{Outcome: "success", Cookie: "SESSION"}, Response{Header: hdr("Set-Cookie", "SESSION=abc; Path=/; HttpOnly")}, true},
		{"cookie among others", Rule{Outcome: "success", Cookie: "SESSION"}, Response{Header: hdr("Set-Cookie", "lang=en", "Set-Cookie", "SESSION=abc")}, true},
		{"cookie other name", Rule{Outcome: "success", Cookie: "SESSION"}, Response{Header: hdr("Set-Cookie", "SESSIONX=abc")}, false},
		{"cookie empty value", Rule{Outcome: "success", Cookie: "SESSION"}, Response{Header: hdr("Set-Cookie", "SESSION=; Path=/")}, false},
		{"cookie max-age 0", Rule{Outcome: "success", Cookie: "SESSION"}, Response{Header: hdr("Set-Cookie", "SESSION=x; Max-Age=0")}, false},
		{"cookie max-age negative", Rule{Outcome: "success", Cookie: "SESSION"}, Response{Header: hdr("Set-Cookie", "SESSION=x; Max-Age=-1")}, false},
		{"cookie expires past", Rule{Outcome: "success", Cookie: "SESSION"}, Response{Header: hdr("Set-Cookie", "SESSION=deleted; Expires=Thu, 01 Jan 1970 00:00:00 GMT")}, false},
		{"cookie expires future", Rule{Outcome: "success", Cookie: "SESSION"}, Response{Header: hdr("Set-Cookie", "SESSION=x; Expires=Wed, 01 Apr 2026 10:00:00 GMT")}, true},
		{"cookie max-age wins", Rule{Outcome: "success", Cookie: "SESSION"}, Response{Header: hdr("Set-Cookie", "SESSION=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=3600")}, true},
		{"cookie deleted then set", Rule{Outcome: "success", Cookie: "SESSION"}, Response{Header: hdr("Set-Cookie", "SESSION=; Max-Age=0", "Set-Cookie", "SESSION=new")}, true},
		{"cookie only in header", Rule{Outcome: "success", Cookie: "SESSION"}, Response{Header: hdr("Cookie", "SESSION=x")}, false},

		{"body", Rule{Outcome: "failure", Body: "(?i)invalid password"}, Response{Body: []byte("<p>Invalid password</p>")}, true},
		{"body miss", Rule{Outcome: "failure", Body: "invalid password"}, Response{Body: []byte("welcome")}, false},
		{"body gzip", Rule{Outcome: "failure", Body: "invalid password"}, Response{Header: hdr("Content-Encoding", "gzip"), Body: gzipBytes(t, []byte("invalid password"))}, true},
		{"body gzip not decoded twice", Rule{Outcome: "failure", Body: "invalid"}, Response{Header: hdr("Content-Encoding", "gzip"), Body: []byte("invalid")}, false},
		{"body unknown coding", Rule{Outcome: "failure", Body: "x"}, Response{Header: hdr("Content-Encoding", "br"), Body: []byte("x")}, false},

		{"json exists", Rule{Outcome: "failure", JSON: "/error"}, Response{Body: []byte(`{"error":{"code":1}}`)}, true},
		{"json null", Rule{Outcome: "failure", JSON: "/error"}, Response{Body: []byte(`{"error":null}`)}, false},
		{"json missing", Rule{Outcome: "failure", JSON: "/error"}, Response{Body: []byte(`{"ok":true}`)}, false},
		{"json not json", Rule{Outcome: "failure", JSON: "/error"}, Response{Body: []byte(`<html>error</html>`)}, false},
		{"json_match", Rule{Outcome: "failure", JSON: "/msg", JSONMatch: "^Bad"}, Response{Body: []byte(`{"msg":"Bad credentials"}`)}, true},
		{"json_match escaped", Rule{Outcome: "failure", JSON: "/msg", JSONMatch: "^Bad c"}, Response{Body: []byte(`{"msg":"Bad\u0020credentials"}`)}, true},
		{"json_match number", Rule{Outcome: "failure", JSON: "/code", JSONMatch: "^40[13]$"}, Response{Body: []byte(`{"code":403}`)}, true},
		{"json_match miss", Rule{Outcome: "failure", JSON: "/msg", JSONMatch: "^Bad"}, Response{Body: []byte(`{"msg":"OK"}`)}, false},
		{"json_match object", Rule{Outcome: "failure", JSON: "/msg", JSONMatch: "."}, Response{Body: []byte(`{"msg":{}}`)}, false},
		{"all conditions", Rule{Outcome: "failure", Status: []string{"4xx"}, Header: map[string]string{"Content-Type": "json"}, Body: `"status"`, JSON: "/status", JSONMatch: "LOCK"},
			Response{Status: 423, Header: hdr("Content-Type", "application/json"), Body: []byte(`{"status":"LOCKED"}`)}, true},
		{"all but one", Rule{Outcome: "failure", Status: []string{"4xx"}, Header: map[string]string{"Content-Type": "json"}, Body: `"status"`, JSON: "/status", JSONMatch: "LOCK"},
			Response{Status: 200, Header: hdr("Content-Type", "application/json"), Body: []byte(`{"status":"LOCKED"}`)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCompile(t, tt.rule)
			c.now = func() time.Time { return now }
			v := c.Classify(tt.resp)
			if got := v.Rule == 0; got != tt.want {
				t.Errorf("rule matched = %v (%+v), want %v", got, v, tt.want)
			}
			if v.Rule == 0 && v.Success != (tt.rule.Outcome == "success") {
				t.Errorf("verdict %+v for a %s rule", v, tt.rule.Outcome)
			}
		})
	}
}

func TestClassifyReasonsAndOrder(t *testing.T) {
	c := mustCompile(t,
		Rule{Outcome: "success", Status: []string{"2xx"}, Cookie: "SESSION"},
		Rule{Outcome: "failure", Status: []string{"403"}, JSON: "/error/status", Reasons: map[string]string{
			"disabled": "DISABLED", "Waiting_For_Approvement": "WAITING_FOR_APPROVEMENT", "1001": "NOT_APPROVED", "false": "REJECTED",
		}},
		Rule{Outcome: "failure", Reason: "ACCOUNT_NOT_FOUND", Status: []string{"404"}},
		Rule{Outcome: "failure", Reason: "BAD_CREDENTIALS", Status: []string{"401", "403"}},
		Rule{Outcome: "failure", Status: []string{"4xx"}},
	)
	tests := []struct {
		name string
		resp Response
		want Verdict
	}{
		{"success", Response{Status: 200, Header: hdr("Set-Cookie", "SESSION=s1")}, Verdict{Success: true, Rule: 0}},
		{"200 without session", Response{Status: 200}, Verdict{Reason: event.Unknown, Rule: -1}},
		{"reason by value", Response{Status: 403, Body: []byte(`{"error":{"status":"DISABLED"}}`)}, Verdict{Reason: event.Disabled, Rule: 1}},
		{"reason ignoring case", Response{Status: 403, Body: []byte(`{"error":{"status":"waiting_for_approvement"}}`)}, Verdict{Reason: event.WaitingForApprovement, Rule: 1}},
		{"reason from number", Response{Status: 403, Body: []byte(`{"error":{"status":1001}}`)}, Verdict{Reason: event.NotApproved, Rule: 1}},
		{"reason from bool", Response{Status: 403, Body: []byte(`{"error":{"status":false}}`)}, Verdict{Reason: event.Rejected, Rule: 1}},
		{"value not in map falls through", Response{Status: 403, Body: []byte(`{"error":{"status":"OTHER"}}`)}, Verdict{Reason: event.BadCredentials, Rule: 3}},
		{"no body falls through", Response{Status: 403}, Verdict{Reason: event.BadCredentials, Rule: 3}},
		{"fixed reason", Response{Status: 404}, Verdict{Reason: event.AccountNotFound, Rule: 2}},
		{"default reason UNKNOWN", Response{Status: 429}, Verdict{Reason: event.Unknown, Rule: 4}},
		{"5xx default", Response{Status: 502}, Verdict{Reason: event.UpstreamError, Rule: -1}},
		{"gzip body", Response{Status: 403, Header: hdr("Content-Encoding", "gzip"), Body: gzipBytes(t, []byte(`{"error":{"status":"disabled"}}`))}, Verdict{Reason: event.Disabled, Rule: 1}},
	}
	for _, tt := range tests {
		if got := c.Classify(tt.resp); got != tt.want {
			t.Errorf("%s: Classify = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestClassifyTruncatedBody(t *testing.T) {
	c := mustCompile(t,
		Rule{Outcome: "failure", JSON: "/error", Reasons: map[string]string{"locked": "LOCKED"}},
		Rule{Outcome: "failure", Reason: "DISABLED", Body: "disabled"},
	)
	// A JSON body longer than MaxBody, as the handler captures it: its first MaxBody bytes.
	long := []byte(`{"error":"locked","detail":"` + strings.Repeat("x", MaxBody) + `"}`)
	if got := c.Classify(Response{Status: 423, Body: long[:MaxBody]}); got != (Verdict{Reason: event.Locked, Rule: 0}) {
		t.Errorf("truncated JSON: %+v, want LOCKED by rule 0", got)
	}
	// The same, gzip-compressed and cut in the middle of the stream.
	big := []byte(`{"error":"locked","detail":"`)
	rnd := rand.New(rand.NewPCG(1, 2)) // incompressible filler
	for len(big) < 4*MaxBody {
		big = append(big, byte('a'+rnd.IntN(26)))
	}
	z := gzipBytes(t, big)
	if len(z) <= MaxBody {
		t.Fatalf("compressed body is only %d bytes", len(z))
	}
	if got := c.Classify(Response{Status: 423, Header: hdr("Content-Encoding", "gzip"), Body: z[:MaxBody]}); got != (Verdict{Reason: event.Locked, Rule: 0}) {
		t.Errorf("truncated gzip JSON: %+v, want LOCKED by rule 0", got)
	}
	// A text body cut short still matches a body rule on its prefix.
	text := append([]byte("account disabled "), make([]byte, MaxBody)...)
	if got := c.Classify(Response{Status: 403, Body: text[:MaxBody]}); got != (Verdict{Reason: event.Disabled, Rule: 1}) {
		t.Errorf("truncated text: %+v, want DISABLED by rule 1", got)
	}
	// A body handed over longer than MaxBody is only inspected up to MaxBody.
	tail := append(make([]byte, MaxBody), "disabled"...)
	if got := c.Classify(Response{Status: 403, Body: tail}); got.Rule != -1 {
		t.Errorf("text after MaxBody matched: %+v", got)
	}
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	c := mustCompile(t,
		Rule{Outcome: "success", Status: []string{"2xx"}, Cookie: "SESSION"},
		Rule{Outcome: "failure", JSON: "/error/status", Reasons: map[string]string{"disabled": "DISABLED", "locked": "LOCKED"}},
	)
	resp := Response{Status: 403, Header: hdr("Content-Type", "application/json"), Body: []byte(`{"error":{"status":"LOCKED","message":"too many attempts"}}`)}
	allocs := testing.AllocsPerRun(100, func() {
		if v := c.Classify(resp); v.Reason != event.Locked {
			t.Fatalf("Classify = %+v", v)
		}
	})
	if allocs != 0 {
		t.Errorf("Classify allocated %v times, want 0", allocs)
	}
}
