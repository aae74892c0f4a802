package e2e

// TestFrameworkPortalsDirect pins, without Caddy, which principal each
// framework portal (e2e/portals, started by startFrameworkPortal) reads from
// one login body, and whether the login with the right password succeeds: the
// premise of a differential test that the gateway in front of a portal and
// the portal never disagree about the account an attempt is for.
//
// Observed matrix (V = victim@example.com, D = decoy@example.com, password
// right-password; "ok" = 200 with a session, otherwise 401 and the key the
// portal counted). The go column is cmd/demoportal (r.PostForm.Get: body only,
// first of repeats; encoding/json into a map: last duplicate key; no trimming),
// observed with curl and its own accounts substituted (V = active@example.com,
// D = disabled@example.com, whose right password answers 403); it is not part of
// this test. It counts the principal lower-cased but untrimmed under GET
// /api/_received, "" when none was read, and answers 400 BAD_REQUEST then.
//
//	case                         body (urlencoded unless said)        php        express    flask      django     go
//	form                         email=V                              V ok       V ok       V ok       V ok       V ok
//	form-repeated                email=V&email=D                      D ok       <array>    V ok       D ok       V ok
//	form-brackets                email[]=V                            <array>    <array>    <missing>  <missing>  "" 400
//	form-plain-then-brackets     email=V&email[]=D                    <array>    <array>    V ok       V ok       V ok
//	form-bracket-key             email[a]=V                           <object>   <object>   <missing>  <missing>  "" 400
//	form-leading-space-name      +email=V                             V ok       <missing>  <missing>  <missing>  "" 400
//	form-leading-space-dup       email=D&+email=V                     V ok       D ok       D ok       D ok       D ok
//	form-nul-in-name-dup         email=D&email%00x=V                  V ok       D ok       D ok       D ok       D ok
//	form-upper-value             email=VICTIM@Example.COM             V ok       V ok       V ok       V ok       V ok
//	form-spaces-value            email=+V+ (" V ")                    V ok       V ok       V ok       V ok       " v " 401
//	form-nbsp-value              email=V%C2%A0                        "V\u00a0" 401 V ok       V ok       V ok       "v\u00a0" 401
//	form-after-1000-fields       password, f1..f1000, then email=V    <missing>  <missing>  V ok       <missing>  V ok
//	form-upper-content-type      APPLICATION/X-WWW-FORM-URLENCODED    V ok       V ok       V ok       <missing>  V ok
//	multipart                    email=V                              V ok       V ok       V ok       V ok       V ok
//	multipart-repeated           email=V, email=D                     D ok       <array>    V ok       D ok       V ok
//	multipart-brackets           email[]=V                            <array>    <array>    <missing>  <missing>  "" 400
//	json                         {"email":V}                          V ok       V ok       V ok       V ok       V ok
//	json-duplicate-keys          {"email":D,"email":V}                V ok       V ok       V ok       V ok       V ok
//	json-escaped-key             {"em\u0061il":V}                     V ok       V ok       V ok       V ok       V ok
//	json-array-value             {"email":[V]}                        <array>    <array>    <array>    <array>    "" 400
//	json-bom                     UTF-8 BOM + {"email":V}              <missing>  V ok       V ok       V ok       "" 400
//	json-as-text-plain           text/plain + {"email":V}             <missing>  <missing>  V ok       <missing>  V ok
//	json-upper-content-type      APPLICATION/JSON + {"email":V}       <missing>  V ok       V ok       <missing>  V ok
//	form-as-json                 application/json + email=V           <missing>  <missing>  <missing>  <missing>  "" 400
//	json-as-form                 urlencoded + {"email":V}             <missing>  <missing>  <missing>  <missing>  "" 400
//
// Why: PHP keeps the last of repeated fields, makes name[] and name[k] arrays,
// drops leading spaces of field names, cuts names at a NUL byte, ignores fields
// past max_input_vars (1000), trims only ASCII whitespace, and its JSON branch
// (str_contains($_SERVER['CONTENT_TYPE'], 'application/json')) is
// case-sensitive and json_decode refuses a BOM. Express (qs via
// express.urlencoded({extended:true}), multer for multipart) turns repeats and
// [] into arrays and refuses a form of more than 1000 fields (413, counted as
// <missing>); express.json() ignores text/plain. Flask's request.form takes
// the first of repeats, has no field limit for urlencoded bodies, and
// get_json(force=True) parses any non-form body as JSON. Django's request.POST
// takes the last of repeats, refuses more than 1000 fields
// (TooManyFieldsSent) and compares the Content-Type case-sensitively (neither
// the upper-case form nor the upper-case JSON type is read). Every JSON parser
// keeps the last duplicate key.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"mime/multipart"
	"regexp"
	"strings"
	"testing"
)

// fwOutcome is what one login did at a portal: the key it counted and whether
// it succeeded.
type fwOutcome struct {
	key string
	ok  bool
}

var (
	fwOkV = fwOutcome{fwVictim, true}
	fwOkD = fwOutcome{fwDecoy, true}
)

func fwFail(key string) fwOutcome { return fwOutcome{key: key} }

// fwCase is one login body sent to every framework portal.
type fwCase struct {
	name, contentType, body string
	want                    map[string]fwOutcome // by portal kind
}

// fwAll is the same outcome at every portal, with exceptions by kind.
func fwAll(o fwOutcome, except map[string]fwOutcome) map[string]fwOutcome {
	m := map[string]fwOutcome{}
	for _, k := range fwKinds {
		m[k] = o
	}
	maps.Copy(m, except)
	return m
}

// fwMultipart is a multipart/form-data body of name, value pairs.
func fwMultipart(pairs ...string) (contentType, body string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if err := w.SetBoundary("loginguard-e2e-boundary-7f3a"); err != nil {
		panic(err)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := w.WriteField(pairs[i], pairs[i+1]); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return w.FormDataContentType(), b.String()
}

// fwCases are the login bodies of TestFrameworkPortalsDirect, the rows of the
// matrix at the top of this file.
func fwCases() []fwCase {
	const (
		form = "application/x-www-form-urlencoded"
		js   = "application/json"
		pw   = "&password=" + fwPassword
	)
	var filler strings.Builder
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(&filler, "f%d=x&", i)
	}
	jsonV := `{"email":"victim@example.com","password":"right-password"}`
	mpCT, mp := fwMultipart("email", fwVictim, "password", fwPassword)
	mpRepCT, mpRep := fwMultipart("email", fwVictim, "email", fwDecoy, "password", fwPassword)
	mpArrCT, mpArr := fwMultipart("email[]", fwVictim, "password", fwPassword)
	return []fwCase{
		{"form", form, "email=victim@example.com" + pw, fwAll(fwOkV, nil)},
		{"form-repeated", form, "email=victim@example.com&email=decoy@example.com" + pw, map[string]fwOutcome{
			"php": fwOkD, "express": fwFail("<array>"), "flask": fwOkV, "django": fwOkD}},
		{"form-brackets", form, "email[]=victim@example.com" + pw, map[string]fwOutcome{
			"php": fwFail("<array>"), "express": fwFail("<array>"), "flask": fwFail("<missing>"), "django": fwFail("<missing>")}},
		{"form-plain-then-brackets", form, "email=victim@example.com&email[]=decoy@example.com" + pw, map[string]fwOutcome{
			"php": fwFail("<array>"), "express": fwFail("<array>"), "flask": fwOkV, "django": fwOkV}},
		{"form-bracket-key", form, "email[a]=victim@example.com" + pw, map[string]fwOutcome{
			"php": fwFail("<object>"), "express": fwFail("<object>"), "flask": fwFail("<missing>"), "django": fwFail("<missing>")}},
		{"form-leading-space-name", form, "+email=victim@example.com" + pw,
			fwAll(fwFail("<missing>"), map[string]fwOutcome{"php": fwOkV})},
		{"form-leading-space-dup", form, "email=decoy@example.com&+email=victim@example.com" + pw,
			fwAll(fwOkD, map[string]fwOutcome{"php": fwOkV})},
		{"form-nul-in-name-dup", form, "email=decoy@example.com&email%00x=victim@example.com" + pw,
			fwAll(fwOkD, map[string]fwOutcome{"php": fwOkV})},
		{"form-upper-value", form, "email=VICTIM@Example.COM" + pw, fwAll(fwOkV, nil)},
		{"form-spaces-value", form, "email=+victim@example.com+" + pw, fwAll(fwOkV, nil)},
		{"form-nbsp-value", form, "email=victim@example.com%C2%A0" + pw,
			fwAll(fwOkV, map[string]fwOutcome{"php": fwFail(fwVictim + "\u00a0")})},
		{"form-after-1000-fields", form, "password=" + fwPassword + "&" + filler.String() + "email=victim@example.com",
			fwAll(fwFail("<missing>"), map[string]fwOutcome{"flask": fwOkV})},
		{"form-upper-content-type", strings.ToUpper(form), "email=victim@example.com" + pw,
			fwAll(fwOkV, map[string]fwOutcome{"django": fwFail("<missing>")})},
		{"multipart", mpCT, mp, fwAll(fwOkV, nil)},
		{"multipart-repeated", mpRepCT, mpRep, map[string]fwOutcome{
			"php": fwOkD, "express": fwFail("<array>"), "flask": fwOkV, "django": fwOkD}},
		{"multipart-brackets", mpArrCT, mpArr, map[string]fwOutcome{
			"php": fwFail("<array>"), "express": fwFail("<array>"), "flask": fwFail("<missing>"), "django": fwFail("<missing>")}},
		{"json", js, jsonV, fwAll(fwOkV, nil)},
		{"json-duplicate-keys", js, `{"email":"decoy@example.com","email":"victim@example.com","password":"right-password"}`, fwAll(fwOkV, nil)},
		{"json-escaped-key", js, `{"em\u0061il":"victim@example.com","password":"right-password"}`, fwAll(fwOkV, nil)},
		{"json-array-value", js, `{"email":["victim@example.com"],"password":"right-password"}`, fwAll(fwFail("<array>"), nil)},
		{"json-bom", js, "\uFEFF" + jsonV, fwAll(fwOkV, map[string]fwOutcome{"php": fwFail("<missing>")})},
		{"json-as-text-plain", "text/plain", jsonV, fwAll(fwFail("<missing>"), map[string]fwOutcome{"flask": fwOkV})},
		{"json-upper-content-type", "APPLICATION/JSON", jsonV, fwAll(fwOkV, map[string]fwOutcome{
			"php": fwFail("<missing>"), "django": fwFail("<missing>")})},
		{"form-as-json", js, "email=victim@example.com" + pw, fwAll(fwFail("<missing>"), nil)},
		{"json-as-form", form, jsonV, fwAll(fwFail("<missing>"), nil)},
	}
}

var fwSessionCookieRE = regexp.MustCompile(`^session=[0-9a-f]{32}; Path=/; HttpOnly$`)

func TestFrameworkPortalsDirect(t *testing.T) {
	cases := fwCases()
	for _, kind := range fwKinds {
		t.Run(kind, func(t *testing.T) {
			p := startFrameworkPortal(t, kind)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					want, ok := tc.want[kind]
					if !ok {
						t.Fatalf("case %s has no outcome for %s", tc.name, kind)
					}
					p.reset()
					resp, body := p.post(tc.contentType, tc.body)
					got := p.received()
					if len(got) != 1 || got[want.key] != 1 {
						t.Errorf("received %v, want {%q: 1}", got, want.key)
					}
					if !want.ok {
						if resp.StatusCode != 401 || !strings.Contains(body, `"BAD_CREDENTIALS"`) {
							t.Errorf("login answered %d %s, want 401 BAD_CREDENTIALS", resp.StatusCode, body)
						}
						if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
							t.Errorf("failed login set cookies %q", c)
						}
						return
					}
					var r struct {
						OK    bool   `json:"ok"`
						Email string `json:"email"`
					}
					if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &r) != nil || !r.OK || r.Email != want.key {
						t.Errorf("login answered %d %s, want 200 {\"ok\":true,\"email\":%q}", resp.StatusCode, body, want.key)
					}
					if c := resp.Header.Values("Set-Cookie"); len(c) != 1 || !fwSessionCookieRE.MatchString(c[0]) {
						t.Errorf("Set-Cookie %q, want one session=<32 hex>; Path=/; HttpOnly", c)
					}
				})
			}
			// Counts add up across logins, and reset clears them.
			p.reset()
			for range 2 {
				p.post("application/json", `{"email":"decoy@example.com","password":"wrong"}`)
			}
			p.post("application/json", `{"password":"right-password"}`)
			if got, want := p.received(), map[string]int{fwDecoy: 2, "<missing>": 1}; !maps.Equal(got, want) {
				t.Errorf("received %v after three logins, want %v", got, want)
			}
			p.reset()
			if got := p.received(); len(got) != 0 {
				t.Errorf("received %v after reset, want {}", got)
			}
		})
	}
}
