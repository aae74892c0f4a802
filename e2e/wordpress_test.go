package e2e

// What the real WordPress (Debian 12's wordpress 6.1.9, PHP 8.2 php-fpm, behind
// Caddy's php_fastcgi, no loginguard) answers, as TestWordPressDirect asserts.
// Set up with e2e/wordpress/setup.sh: administrator wpadmin /
// wpadmin-right-pass-1 / wpadmin@example.com.
//
// wp-login.php (POST log, pwd, wp-submit=Log+In, testcookie=1, with the
// cookie wordpress_test_cookie=WP%20Cookie%20check as a browser sends it):
//   - right password: 302 to <site>/wp-admin/ with
//       Set-Cookie: wordpress_logged_in_<H>=wpadmin%7C<expiry>%7C<token>%7C<hmac>; path=/; HttpOnly
//     where H = md5 of the site URL ("http://127.0.0.1:<port>", so it changes
//     with the port), <token> 43 [A-Za-z0-9], <hmac> 64 hex; the value always
//     starts with the account's stored login (wpadmin), whatever spelling was
//     posted, and "|" is sent percent-encoded (%7C). Two wordpress_<H> cookies
//     (same format, another hmac) for path=/wp-admin and /wp-content/plugins,
//     and wordpress_test_cookie again. Plain http: no wordpress_sec_ cookies.
//   - every failure is a 200 with the login form again and a
//     <div id="login_error"> holding (exact text):
//       wrong password:   <strong>Error:</strong> The password you entered for the username <strong>wpadmin</strong> is incorrect.
//       email, wrong pw:  <strong>Error:</strong> The password you entered for the email address <strong>wpadmin@example.com</strong> is incorrect.
//       unknown user:     <strong>Error:</strong> The username <strong>nosuchuser</strong> is not registered on this site. If you are unsure of your username, try your email address instead.
//       unknown email:    Unknown email address. Check again or try your username.   (no "Error:" prefix in 6.1)
//       no test cookie:   <strong>Error:</strong> Cookies are blocked or not supported by your browser. ...
//     (the last one: testcookie=1 posted without the wordpress_test_cookie
//     cookie. It replaces any other error, so a wrong password and a right
//     one both answer it with a 200; but for the right password WordPress has
//     already logged in and sets the same working wordpress_logged_in_/
//     wordpress_ cookies as on a 302. Without testcookie=1 there is no check.)
//     The username shown is the sanitized one as posted (WPADMIN stays WPADMIN,
//     wp<b>admin shows as wpadmin).
//   - Caddy passes php-fpm's CGI "Status: 302 Found" header on to the client.
//
// xmlrpc.php (always HTTP 200, text/xml):
//   - wp.getUsersBlogs right: <params> with an array of one struct {isAdmin,
//     url, blogid, blogName, xmlrpc}; wrong: <fault> {faultCode 403,
//     faultString "Incorrect username or password."} (xmlrpcFault below, exact).
//   - system.multicall: a <params> array with one entry per call: a success is
//     an array holding the method's result ([[{blog}]]), a failure a struct
//     {faultCode 403, faultString}. Once one call of a request failed to log
//     in, WordPress refuses every later login in that request without checking
//     the password (wp_xmlrpc_server::login, $auth_failed): wrong, wrong, right
//     answers three 403 faults; right, wrong, wrong answers a success and two
//     faults.
//
// REST /wp-json/wp/v2/users/me with HTTP Basic:
//   - wpadmin + application password: 200, JSON {"id":1,"slug":"wpadmin",...}.
//   - wrong password, the account's login password, an unknown user, or no
//     Authorization at all: the same 401, body
//       {"code":"rest_not_logged_in","message":"You are not currently logged in.","data":{"status":401}}
//     (WordPress 6.1 looks the user up only after its application-password
//     error check, so "incorrect_password" never reaches the client here.)
//
// Spellings of the username posted as log= with the right password:
//
//   posted log (form-encoded)     | WordPress reads        | logs in? | why
//   ------------------------------+------------------------+----------+---------------------------------------
//   log=wpadmin                   | wpadmin                | yes 302  |
//   log=WPADMIN                   | WPADMIN                | yes 302  | MariaDB's _ci collation
//   log=wpadmin%00                | "wpadmin\x00"          | yes 302  | sanitize_user (strip_tags drops NUL)
//   log=+wpadmin+                 | " wpadmin "            | yes 302  | sanitize_user trims
//   log=wp%3Cb%3Eadmin            | wp<b>admin             | yes 302  | sanitize_user strips tags
//   log=wp%2500admin              | wp%00admin (literal)   | yes 302  | sanitize_user drops %XX octets
//   log=wp%C3%A4dmin              | wpädmin                | yes 302  | sanitize_user remove_accents
//   log=wpadmin%40example.com     | wpadmin@example.com    | yes 302  | login by email
//   log=decoy&log=wpadmin         | wpadmin                | yes 302  | PHP keeps the last repeat
//   +log=wpadmin (" log")         | log=wpadmin            | yes 302  | PHP drops leading spaces of names
//   log%5B%5D=wpadmin (log[])     | array                  | no 500   | PHP fatal TypeError in strip_tags: "critical error" page
//   extras:                       |                        |          |
//   log=WPADMIN%40EXAMPLE.COM     | WPADMIN@EXAMPLE.COM    | yes 302  | email lookup is case-insensitive
//   log=wpadmin%0A                | "wpadmin\n"            | yes 302  | sanitize_user trims
//   log=wp%26amp%3Badmin          | wp&amp;admin           | yes 302  | sanitize_user drops entities
//   log=wp+admin                  | "wp admin"             | no 200   | unknown username
//
// Every success sets wordpress_logged_in_<H>=wpadmin%7C...: the cookie names
// the canonical login, not the spelling posted.

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// wpClient waits long: a cold php-fpm on a loaded 2-core machine is slow.
var wpClient = &http.Client{
	Timeout:       90 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// wpDo sends req and returns the response with its body read.
func wpDo(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := wpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// wpLoginForm posts a raw form body to wp-login.php the way a browser does
// (with WordPress's test cookie).
func wpLoginForm(t testing.TB, base, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/wp-login.php", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "wordpress_test_cookie=WP%20Cookie%20check")
	return wpDo(t, req)
}

func wpXMLRPC(t testing.TB, base, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/xmlrpc.php", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml")
	return wpDo(t, req)
}

// wpCookieHash is WordPress's COOKIEHASH: md5 of the site URL.
func wpCookieHash(siteURL string) string {
	h := md5.Sum([]byte(siteURL))
	return hex.EncodeToString(h[:])
}

// loggedInCookieRE is the value of a wordpress_logged_in_ (and wordpress_)
// cookie: login|expiry|token|hmac, the bars percent-encoded.
var loggedInCookieRE = regexp.MustCompile(`^wpadmin%7C(\d{10})%7C[A-Za-z0-9]{43}%7C[0-9a-f]{64}$`)

// loginErrorRE extracts the login form's error.
var loginErrorRE = regexp.MustCompile(`(?s)<div id="login_error">\t(.*?)<br />`)

// The exact failure texts of wp-login.php (WordPress 6.1).
const (
	wpWrongPasswordText = `<strong>Error:</strong> The password you entered for the username <strong>wpadmin</strong> is incorrect.`
	wpWrongEmailPwText  = `<strong>Error:</strong> The password you entered for the email address <strong>wpadmin@example.com</strong> is incorrect.`
	wpUnknownUserText   = `<strong>Error:</strong> The username <strong>nosuchuser</strong> is not registered on this site. If you are unsure of your username, try your email address instead.`
	wpUnknownEmailText  = `Unknown email address. Check again or try your username.`
	wpNoTestCookieText  = `<strong>Error:</strong> Cookies are blocked or not supported by your browser.`
	wpCriticalErrorText = `There has been a critical error on this website.`
)

// xmlrpcFault is WordPress's whole answer to a wrong XML-RPC password.
const xmlrpcFault = `<?xml version="1.0" encoding="UTF-8"?>
<methodResponse>
  <fault>
    <value>
      <struct>
        <member>
          <name>faultCode</name>
          <value><int>403</int></value>
        </member>
        <member>
          <name>faultString</name>
          <value><string>Incorrect username or password.</string></value>
        </member>
      </struct>
    </value>
  </fault>
</methodResponse>
`

func TestWordPressDirect(t *testing.T) {
	wp := startWordPress(t)
	c := startWordPressCaddy(t, wp, "", "")
	base := c.url
	hash := wpCookieHash(base)
	loggedIn := "wordpress_logged_in_" + hash

	// checkLoggedIn asserts a successful wp-login.php answer.
	checkLoggedIn := func(t *testing.T, resp *http.Response, body string) {
		t.Helper()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("status %d, want 302; error: %q", resp.StatusCode, loginError(body))
		}
		if loc := resp.Header.Get("Location"); loc != base+"/wp-admin/" {
			t.Errorf("Location %q, want %q", loc, base+"/wp-admin/")
		}
		var got *http.Cookie
		for _, ck := range resp.Cookies() {
			if strings.HasPrefix(ck.Name, "wordpress_logged_in_") {
				got = ck
			}
		}
		if got == nil {
			t.Fatalf("no wordpress_logged_in_ cookie; Set-Cookie: %q", resp.Header.Values("Set-Cookie"))
		}
		if got.Name != loggedIn {
			t.Errorf("cookie name %q, want %q (md5 of %q)", got.Name, loggedIn, base)
		}
		if !loggedInCookieRE.MatchString(got.Value) || got.Path != "/" || !got.HttpOnly {
			t.Errorf("logged-in cookie %q (path %q, httponly %v), want wpadmin%%7C<expiry>%%7C<token>%%7C<hmac>; path=/; HttpOnly", got.Value, got.Path, got.HttpOnly)
		}
	}
	// checkFailed asserts a failed wp-login.php answer with the given error.
	checkFailed := func(t *testing.T, resp *http.Response, body, wantErr string) {
		t.Helper()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		for _, ck := range resp.Cookies() {
			if strings.HasPrefix(ck.Name, "wordpress_logged_in_") {
				t.Errorf("failed login set %s", ck.Name)
			}
		}
		if got := loginError(body); !strings.HasPrefix(got, wantErr) {
			t.Errorf("login error %q, want it to start with %q", got, wantErr)
		}
	}
	form := func(log, pwd string) string {
		return "log=" + log + "&pwd=" + pwd + "&wp-submit=Log+In&testcookie=1"
	}

	t.Run("login form", func(t *testing.T) {
		resp, body := wpLoginForm(t, base, form("wpadmin", wp.Password))
		checkLoggedIn(t, resp, body)
		// The other cookies of a success.
		var authPaths []string
		for _, ck := range resp.Cookies() {
			if ck.Name == "wordpress_"+hash {
				if !loggedInCookieRE.MatchString(ck.Value) {
					t.Errorf("auth cookie value %q", ck.Value)
				}
				authPaths = append(authPaths, ck.Path)
			}
		}
		if strings.Join(authPaths, ",") != "/wp-content/plugins,/wp-admin" {
			t.Errorf("wordpress_<hash> cookie paths %q, want /wp-content/plugins and /wp-admin", authPaths)
		}
		t.Logf("success: Status header %q, Set-Cookie %q", resp.Header.Get("Status"), resp.Header.Values("Set-Cookie"))

		resp, body = wpLoginForm(t, base, form("wpadmin", "wrong-pass"))
		checkFailed(t, resp, body, wpWrongPasswordText)
		if !strings.Contains(body, wpWrongPasswordText+` <a href="`+base+`/wp-login.php?action=lostpassword">Lost your password?</a>`) {
			t.Errorf("wrong password: the body lacks %q", wpWrongPasswordText)
		}

		resp, body = wpLoginForm(t, base, form("wpadmin%40example.com", "wrong-pass"))
		checkFailed(t, resp, body, wpWrongEmailPwText)

		resp, body = wpLoginForm(t, base, form("nosuchuser", "wrong-pass"))
		checkFailed(t, resp, body, wpUnknownUserText)

		resp, body = wpLoginForm(t, base, form("nobody%40example.com", "wrong-pass"))
		checkFailed(t, resp, body, wpUnknownEmailText)

		// testcookie=1 without WordPress's test cookie: the cookie error
		// replaces any other, so a wrong password reads like a right one...
		noCookie := func(body string) (*http.Response, string) {
			req, _ := http.NewRequest(http.MethodPost, base+"/wp-login.php", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return wpDo(t, req)
		}
		resp, body = noCookie(form("wpadmin", "wrong-pass"))
		checkFailed(t, resp, body, wpNoTestCookieText)
		// ...and the right password answers the same 200 with that error, but
		// WordPress has logged in and sets working session cookies.
		resp, body = noCookie(form("wpadmin", wp.Password))
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(loginError(body), wpNoTestCookieText) {
			t.Errorf("right password without the test cookie: %d %q", resp.StatusCode, loginError(body))
		}
		var session []string
		for _, ck := range resp.Cookies() {
			if ck.Name == loggedIn || (ck.Name == "wordpress_"+hash && ck.Path == "/wp-admin") {
				session = append(session, ck.Name+"="+ck.Value)
			}
		}
		if len(session) != 2 {
			t.Fatalf("right password without the test cookie set %q, want the logged-in and auth cookies", resp.Header.Values("Set-Cookie"))
		}
		req, _ := http.NewRequest(http.MethodGet, base+"/wp-admin/profile.php", nil)
		req.Header.Set("Cookie", strings.Join(session, "; "))
		resp, body = wpDo(t, req)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="your-profile"`) {
			t.Errorf("wp-admin with the cookies of the 200: %d (Location %q), want the profile page", resp.StatusCode, resp.Header.Get("Location"))
		}
		// Without testcookie=1 there is no cookie check at all: 302.
		resp, body = noCookie("log=wpadmin&pwd=" + wp.Password)
		checkLoggedIn(t, resp, body)
	})

	t.Run("xmlrpc", func(t *testing.T) {
		resp, body := wpXMLRPC(t, base, getUsersBlogsCall(wp.User, wp.Password))
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
			t.Fatalf("right password: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		v, fault := parseXMLRPC(t, body)
		if fault != nil {
			t.Fatalf("right password: fault %v", fault)
		}
		checkBlogs(t, v, base)
		t.Logf("success:\n%s", body)

		resp, body = wpXMLRPC(t, base, getUsersBlogsCall(wp.User, "wrong-pass"))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("wrong password: status %d", resp.StatusCode)
		}
		if body != xmlrpcFault {
			t.Errorf("wrong password answered:\n%s\nwant:\n%s", body, xmlrpcFault)
		}
		if _, fault := parseXMLRPC(t, body); !isFault403(fault) {
			t.Errorf("fault %v", fault)
		}

		// system.multicall: two wrong, then the right one. The first failure
		// makes WordPress refuse the rest of the request's logins.
		resp, body = wpXMLRPC(t, base, multicallGetUsersBlogs(wp.User, "wrong-1", "wrong-2", wp.Password))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("multicall: status %d", resp.StatusCode)
		}
		v, fault = parseXMLRPC(t, body)
		if fault != nil {
			t.Fatalf("multicall: fault %v", fault)
		}
		res, ok := v.([]any)
		if !ok || len(res) != 3 {
			t.Fatalf("multicall (wrong, wrong, right) answered %#v, want 3 results", v)
		}
		for i, r := range res {
			if m, _ := r.(map[string]any); !isFault403(m) {
				t.Errorf("multicall (wrong, wrong, right) result %d: %#v, want a 403 fault struct", i, r)
			}
		}
		t.Logf("multicall (wrong, wrong, right):\n%s", body)

		// The right one first: it succeeds, then the wrong ones fail.
		_, body = wpXMLRPC(t, base, multicallGetUsersBlogs(wp.User, wp.Password, "wrong-1", "wrong-2"))
		v, fault = parseXMLRPC(t, body)
		res, ok = v.([]any)
		if fault != nil || !ok || len(res) != 3 {
			t.Fatalf("multicall (right, wrong, wrong) answered %#v / %v", v, fault)
		}
		if wrapped, ok := res[0].([]any); !ok || len(wrapped) != 1 {
			t.Errorf("multicall success entry %#v, want an array of one result", res[0])
		} else {
			checkBlogs(t, wrapped[0], base)
		}
		for i, r := range res[1:] {
			if m, _ := r.(map[string]any); !isFault403(m) {
				t.Errorf("multicall (right, wrong, wrong) result %d: %#v, want a 403 fault", i+1, r)
			}
		}
		t.Logf("multicall (right, wrong, wrong):\n%s", body)
	})

	t.Run("rest basic auth", func(t *testing.T) {
		get := func(user, pass string) (*http.Response, string) {
			req, _ := http.NewRequest(http.MethodGet, base+"/wp-json/wp/v2/users/me", nil)
			if user != "" {
				req.SetBasicAuth(user, pass)
			}
			return wpDo(t, req)
		}
		resp, body := get(wp.User, wp.AppPassword)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("application password: %d %s", resp.StatusCode, body)
		}
		var me struct {
			ID   int    `json:"id"`
			Slug string `json:"slug"`
		}
		if err := json.Unmarshal([]byte(body), &me); err != nil || me.ID != 1 || me.Slug != "wpadmin" {
			t.Errorf("users/me answered %s (%v)", body, err)
		}
		const notLoggedIn = `{"code":"rest_not_logged_in","message":"You are not currently logged in.","data":{"status":401}}`
		for _, c := range []struct{ name, user, pass string }{
			{"wrong password", wp.User, "wrong-pass"},
			{"login password", wp.User, wp.Password},
			{"unknown user", "nosuchuser", wp.AppPassword},
			{"no credentials", "", ""},
		} {
			resp, body := get(c.user, c.pass)
			if resp.StatusCode != http.StatusUnauthorized || body != notLoggedIn {
				t.Errorf("%s: %d %s, want 401 %s", c.name, resp.StatusCode, body, notLoggedIn)
			}
		}
	})

	t.Run("username spellings", func(t *testing.T) {
		for _, c := range []struct {
			log    string // the form's log field(s), encoded
			status int    // 302: logged in
		}{
			{"log=wpadmin", 302},
			{"log=WPADMIN", 302},
			{"log=wpadmin%00", 302},
			{"log=+wpadmin+", 302},
			{"log=wp%3Cb%3Eadmin", 302},
			{"log=wp%2500admin", 302},
			{"log=wp%C3%A4dmin", 302},
			{"log=wpadmin%40example.com", 302},
			{"log=decoy&log=wpadmin", 302},
			{"+log=wpadmin", 302},
			{"log%5B%5D=wpadmin", 500},
			{"log=WPADMIN%40EXAMPLE.COM", 302},
			{"log=wpadmin%0A", 302},
			{"log=wp%26amp%3Badmin", 302},
			{"log=wp+admin", 200},
		} {
			t.Run(c.log, func(t *testing.T) {
				resp, body := wpLoginForm(t, base, c.log+"&pwd="+wp.Password+"&wp-submit=Log+In&testcookie=1")
				switch c.status {
				case 302:
					checkLoggedIn(t, resp, body)
				case 200:
					checkFailed(t, resp, body, `<strong>Error:</strong> The username <strong>wp admin</strong> is not registered on this site.`)
				case 500:
					if resp.StatusCode != 500 || !strings.Contains(body, wpCriticalErrorText) {
						t.Errorf("status %d, want 500 with %q", resp.StatusCode, wpCriticalErrorText)
					}
					for _, ck := range resp.Cookies() {
						if strings.HasPrefix(ck.Name, "wordpress_logged_in_") {
							t.Errorf("set %s", ck.Name)
						}
					}
				}
			})
		}
	})
}

// loginError returns the text of wp-login.php's error box ("" when none).
func loginError(body string) string {
	if m := loginErrorRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

func xmlString(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func getUsersBlogsCall(user, pass string) string {
	return `<?xml version="1.0"?><methodCall><methodName>wp.getUsersBlogs</methodName><params>` +
		`<param><value><string>` + xmlString(user) + `</string></value></param>` +
		`<param><value><string>` + xmlString(pass) + `</string></value></param>` +
		`</params></methodCall>`
}

// multicallGetUsersBlogs is one system.multicall with a wp.getUsersBlogs per password.
func multicallGetUsersBlogs(user string, passwords ...string) string {
	var calls strings.Builder
	for _, p := range passwords {
		fmt.Fprintf(&calls, `<value><struct>`+
			`<member><name>methodName</name><value><string>wp.getUsersBlogs</string></value></member>`+
			`<member><name>params</name><value><array><data>`+
			`<value><string>%s</string></value><value><string>%s</string></value>`+
			`</data></array></value></member></struct></value>`, xmlString(user), xmlString(p))
	}
	return `<?xml version="1.0"?><methodCall><methodName>system.multicall</methodName><params><param><value><array><data>` +
		calls.String() + `</data></array></value></param></params></methodCall>`
}

// checkBlogs asserts wp.getUsersBlogs' result for the admin.
func checkBlogs(t *testing.T, v any, base string) {
	t.Helper()
	blogs, ok := v.([]any)
	if !ok || len(blogs) != 1 {
		t.Fatalf("getUsersBlogs answered %#v, want one blog", v)
	}
	b, _ := blogs[0].(map[string]any)
	if b["isAdmin"] != true || b["blogid"] != "1" || b["url"] != base+"/" || b["xmlrpc"] != base+"/xmlrpc.php" || b["blogName"] != "loginguard e2e" {
		t.Errorf("blog %#v", blogs[0])
	}
}

func isFault403(m map[string]any) bool {
	return len(m) == 2 && m["faultCode"] == int64(403) && m["faultString"] == "Incorrect username or password."
}

// xmlrpcValue is an XML-RPC <value>, decoded by decode.
type xmlrpcValue struct {
	Inner   string  `xml:",chardata"`
	String  *string `xml:"string"`
	Int     *string `xml:"int"`
	I4      *string `xml:"i4"`
	Boolean *string `xml:"boolean"`
	Array   *struct {
		Values []xmlrpcValue `xml:"data>value"`
	} `xml:"array"`
	Struct *struct {
		Members []struct {
			Name  string      `xml:"name"`
			Value xmlrpcValue `xml:"value"`
		} `xml:"member"`
	} `xml:"struct"`
}

// decode returns the Go value: string, int64, bool, []any, map[string]any.
func (v xmlrpcValue) decode() any {
	switch {
	case v.String != nil:
		return *v.String
	case v.Int != nil || v.I4 != nil:
		s := v.Int
		if s == nil {
			s = v.I4
		}
		var n int64
		fmt.Sscan(strings.TrimSpace(*s), &n)
		return n
	case v.Boolean != nil:
		return strings.TrimSpace(*v.Boolean) == "1"
	case v.Array != nil:
		out := []any{}
		for _, e := range v.Array.Values {
			out = append(out, e.decode())
		}
		return out
	case v.Struct != nil:
		out := map[string]any{}
		for _, m := range v.Struct.Members {
			out[m.Name] = m.Value.decode()
		}
		return out
	}
	return v.Inner // a bare <value>text</value> is a string
}

// parseXMLRPC decodes a methodResponse: its value, or its fault.
func parseXMLRPC(t *testing.T, body string) (any, map[string]any) {
	t.Helper()
	var r struct {
		Params []xmlrpcValue `xml:"params>param>value"`
		Fault  *xmlrpcValue  `xml:"fault>value"`
	}
	if err := xml.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("not an XML-RPC answer (%v):\n%s", err, body)
	}
	if r.Fault != nil {
		m, _ := r.Fault.decode().(map[string]any)
		return nil, m
	}
	if len(r.Params) != 1 {
		t.Fatalf("XML-RPC answer with %d params:\n%s", len(r.Params), body)
	}
	return r.Params[0].decode(), nil
}
