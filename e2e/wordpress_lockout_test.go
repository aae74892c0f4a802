package e2e

// TestWordPressLockout runs Caddy with examples/wordpress.caddyfile exactly as
// shipped (its addresses come from the environment; Caddy's own admin listens
// where CADDY_ADMIN says) in front of the real WordPress, locks wpadmin with
// five wrong passwords, and then tries every door and every spelling of the
// account with a wrong and with the right password. None may log in, and none
// may reach WordPress: between Caddy and php-fpm sits fcgiCounter, a FastCGI
// pass-through that records every request php-fpm is sent, so "did not reach
// WordPress" is measured, not inferred from loginguard's own events (which are
// checked as well).

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

// fcgiRequest is one request Caddy sent php-fpm.
type fcgiRequest struct {
	Method, URI, Script string
	Auth                bool // it carried an Authorization header
}

func (r fcgiRequest) String() string {
	s := r.Method + " " + r.URI
	if r.Auth {
		s += " (Authorization)"
	}
	return s
}

// fcgiCounter is a FastCGI pass-through on a unix socket: it forwards every
// byte both ways between Caddy and php-fpm and records each request's
// parameters as they go by.
type fcgiCounter struct {
	Socket string
	ln     net.Listener
	mu     sync.Mutex
	reqs   []fcgiRequest
}

func startFCGICounter(t testing.TB, upstream string) *fcgiCounter {
	t.Helper()
	d, err := os.MkdirTemp("", "lg-wpl-") // a unix socket path has at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	c := &fcgiCounter{Socket: filepath.Join(d, "fcgi.sock")}
	c.ln, err = net.Listen("unix", c.Socket)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		c.ln.Close()
		wg.Wait()
		os.RemoveAll(d)
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			down, err := c.ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("unix", upstream, 10*time.Second)
			if err != nil {
				down.Close()
				continue
			}
			wg.Add(2)
			go func() { // php-fpm -> Caddy
				defer wg.Done()
				_, _ = io.Copy(down, up)
				down.Close()
				up.Close()
			}()
			go func() { // Caddy -> php-fpm, parsed
				defer wg.Done()
				c.relay(down, up)
				up.Close()
			}()
		}
	}()
	return c
}

// relay copies FastCGI records from down to up, recording each request once
// its FCGI_PARAMS stream ends.
func (c *fcgiCounter) relay(down, up net.Conn) {
	const fcgiParams = 4
	params := map[uint16][]byte{}
	hdr := make([]byte, 8)
	for {
		if _, err := io.ReadFull(down, hdr); err != nil {
			return
		}
		id := binary.BigEndian.Uint16(hdr[2:4])
		n := int(binary.BigEndian.Uint16(hdr[4:6])) + int(hdr[6])
		body := make([]byte, n)
		if _, err := io.ReadFull(down, body); err != nil {
			return
		}
		if hdr[1] == fcgiParams {
			content := body[:binary.BigEndian.Uint16(hdr[4:6])]
			if len(content) > 0 {
				params[id] = append(params[id], content...)
			} else {
				p := parseFCGIParams(params[id])
				delete(params, id)
				c.mu.Lock()
				c.reqs = append(c.reqs, fcgiRequest{Method: p["REQUEST_METHOD"], URI: p["REQUEST_URI"], Script: p["SCRIPT_FILENAME"], Auth: p["HTTP_AUTHORIZATION"] != ""})
				c.mu.Unlock()
			}
		}
		if _, err := up.Write(append(hdr[:8:8], body...)); err != nil {
			return
		}
	}
}

func parseFCGIParams(b []byte) map[string]string {
	m := map[string]string{}
	readLen := func() (int, bool) {
		if len(b) == 0 {
			return 0, false
		}
		if b[0]>>7 == 0 {
			n := int(b[0])
			b = b[1:]
			return n, true
		}
		if len(b) < 4 {
			return 0, false
		}
		n := int(binary.BigEndian.Uint32(b[:4]) & 0x7fffffff)
		b = b[4:]
		return n, true
	}
	for len(b) > 0 {
		nl, ok1 := readLen()
		vl, ok2 := readLen()
		if !ok1 || !ok2 || nl+vl > len(b) {
			break
		}
		m[string(b[:nl])] = string(b[nl : nl+vl])
		b = b[nl+vl:]
	}
	return m
}

// count is how many requests php-fpm was sent so far.
func (c *fcgiCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs)
}

// since returns the requests sent after the first n.
func (c *fcgiCounter) since(n int) []fcgiRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reqs[n:])
}

// recipeCaddy is a Caddy running examples/wordpress.caddyfile unchanged.
type recipeCaddy struct {
	url    string
	admin  string
	events string
	proc   *proc
}

// startRecipeCaddy runs the recipe in front of wp through fastcgiSocket; env is
// added to the recipe's environment (e.g. WP_TRUSTED_PROXIES).
func startRecipeCaddy(t *testing.T, wp *wordpress, fastcgiSocket string, env ...string) *recipeCaddy {
	t.Helper()
	dir := t.TempDir()
	c := &recipeCaddy{
		url:    fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		admin:  fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		events: filepath.Join(dir, "events.jsonl"),
	}
	recipe := filepath.Join(repoRoot, "examples", "wordpress.caddyfile")
	c.proc = start(t, dir, "caddy", append([]string{
		"WP_SITE=" + c.url,
		"WP_ROOT=" + wp.Root,
		"WP_FASTCGI=unix/" + fastcgiSocket,
		"LOGINGUARD_EVENTS=" + c.events,
		// The recipe sets no admin address; Caddy's default is CADDY_ADMIN.
		"CADDY_ADMIN=" + c.admin,
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"HOME=" + dir,
	}, env...), "run", "--config", recipe, "--adapter", "caddyfile")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(c.proc.log)
			t.Logf("caddy log:\n%s", b)
		}
	})
	waitHTTPFor(t, "http://"+c.admin+"/config/", 60*time.Second)
	waitHTTPFor(t, c.url+"/wp-login.php", 60*time.Second)
	resp, body := wpDo(t, mustRequest(t, http.MethodGet, c.url+"/wp-login.php", ""))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/wp-login.php answered %d (%s): %.500s\n%s", c.url, resp.StatusCode, wpSetupHint, body, wp.logs())
	}
	return c
}

func mustRequest(t testing.TB, method, u, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// wpLoginBody is a browser's login form post with the log field(s) given raw.
func wpLoginBody(logFields, pwd string) string {
	return logFields + "&pwd=" + url.QueryEscape(pwd) + "&wp-submit=Log+In&testcookie=1"
}

// wpBrowserLogin posts the form with WordPress's test cookie, as a browser does.
func wpBrowserLogin(t testing.TB, base, body string) (*http.Response, string) {
	t.Helper()
	req := mustRequest(t, http.MethodPost, base+"/wp-login.php", body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "wordpress_test_cookie=WP%20Cookie%20check")
	return wpDo(t, req)
}

func hasLoggedInCookie(resp *http.Response) bool {
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(strings.TrimSpace(v), "wordpress_logged_in_") {
			return true
		}
	}
	return false
}

// loggedIn reports whether an answer of the given door is a successful login.
func loggedIn(door string, resp *http.Response, body string) bool {
	if hasLoggedInCookie(resp) {
		return true
	}
	switch door {
	case "form":
		return resp.StatusCode == http.StatusFound && strings.Contains(resp.Header.Get("Location"), "/wp-admin")
	case "xmlrpc":
		return resp.StatusCode == http.StatusOK && (strings.Contains(body, "isAdmin") || strings.Contains(body, "blogName"))
	case "rest":
		return resp.StatusCode == http.StatusOK
	}
	return false
}

// gatewayCode is the code of loginguard's own JSON answer ("" for another answer).
func gatewayCode(resp *http.Response, body string) string {
	for _, c := range []string{"AUTHENTICATION_FAILED", "invalid_request"} {
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && strings.Contains(body, `"code":"`+c+`"`) {
			return c
		}
	}
	return ""
}

// waitEventsWhere polls an events file until ok holds, for up to 30 s.
func waitEventsWhere(t testing.TB, path, what string, ok func([]event.Event) bool) []event.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := readEventsFrom(t, path)
		if ok(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("events: no %s within 30 s; have:\n%s", what, eventLines(evs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countEvents(evs []event.Event, f func(event.Event) bool) int {
	n := 0
	for _, e := range evs {
		if f(e) {
			n++
		}
	}
	return n
}

func principalOf(e event.Event) string {
	if e.Principal == nil {
		return ""
	}
	return *e.Principal
}

func eventLines(evs []event.Event) string {
	var b strings.Builder
	for i, e := range evs {
		msg := ""
		if e.Message != nil {
			msg = *e.Message
		}
		fmt.Fprintf(&b, "  %2d %s %-15s principal=%q sentAs=%q reason=%s failures=%d candidates=%q path=%s msg=%q\n",
			i, e.EventDate.Format("15:04:05.000"), e.EventType, principalOf(e), e.SentAs, e.Reason, e.FailureCount, e.Candidates, e.Path, msg)
	}
	return b.String()
}

// restGet is GET /wp-json/wp/v2/users/me with HTTP Basic.
func restGet(t testing.TB, base, user, pass string) (*http.Response, string) {
	t.Helper()
	req := mustRequest(t, http.MethodGet, base+"/wp-json/wp/v2/users/me", "")
	req.SetBasicAuth(user, pass)
	return wpDo(t, req)
}

func TestWordPressLockout(t *testing.T) {
	wp := startWordPress(t)
	fc := startFCGICounter(t, wp.Socket)

	t.Run("locked account, every door and spelling", func(t *testing.T) {
		c := startRecipeCaddy(t, wp, fc.Socket)
		base := c.url
		isWPAdmin := func(e event.Event) bool { return principalOf(e) == wp.User }

		// 1. Before the lock: the owner logs in by email (loginguard learns
		// the alias from the logged-in cookie), then by username.
		n := fc.count()
		resp, body := wpBrowserLogin(t, base, wpLoginBody("log="+url.QueryEscape(wp.Email), wp.Password))
		if resp.StatusCode != http.StatusFound || !hasLoggedInCookie(resp) {
			t.Fatalf("email login: %d, Set-Cookie %q, error %q; want 302 with wordpress_logged_in_", resp.StatusCode, resp.Header.Values("Set-Cookie"), loginError(body))
		}
		if got := fc.since(n); len(got) != 1 {
			t.Fatalf("email login: php-fpm got %v, want the one POST", got)
		}
		evs := waitEventsWhere(t, c.events, "LOGIN_SUCCESS of the email login", func(evs []event.Event) bool {
			return countEvents(evs, func(e event.Event) bool { return e.EventType == event.LoginSuccess }) >= 1
		})
		t.Logf("email login's event: principal %q sentAs %q", principalOf(evs[0]), evs[0].SentAs)
		resp, body = wpBrowserLogin(t, base, wpLoginBody("log="+wp.User, wp.Password))
		if resp.StatusCode != http.StatusFound || !hasLoggedInCookie(resp) {
			t.Fatalf("username login: %d, error %q; want 302 with wordpress_logged_in_", resp.StatusCode, loginError(body))
		}
		waitEventsWhere(t, c.events, "2 LOGIN_SUCCESS", func(evs []event.Event) bool {
			return countEvents(evs, func(e event.Event) bool { return e.EventType == event.LoginSuccess }) >= 2
		})

		// 2. Lock: five wrong passwords reach WordPress, the sixth attempt
		// (the right password) is refused by loginguard, with WordPress's own
		// wrong-password page (the recipe's refusal mimic).
		var wrongBody string
		for i := 1; i <= 5; i++ {
			n := fc.count()
			resp, body := wpBrowserLogin(t, base, wpLoginBody("log="+wp.User, "wrong-pass-"+fmt.Sprint(i)))
			wrongBody = body
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(loginError(body), wpWrongPasswordText) {
				t.Fatalf("wrong password %d: %d %q, want WordPress's 200 with %q", i, resp.StatusCode, loginError(body), wpWrongPasswordText)
			}
			if got := fc.since(n); len(got) != 1 {
				t.Fatalf("wrong password %d: php-fpm got %v, want the one POST", i, got)
			}
		}
		evs = waitEventsWhere(t, c.events, "ACCOUNT_LOCKED for wpadmin", func(evs []event.Event) bool {
			return countEvents(evs, func(e event.Event) bool { return e.EventType == event.AccountLocked && isWPAdmin(e) }) >= 1
		})
		if got := countEvents(evs, func(e event.Event) bool { return isWPAdmin(e) && e.Reason == event.BadCredentials }); got != 5 {
			t.Errorf("%d BAD_CREDENTIALS events for wpadmin, want 5:\n%s", got, eventLines(evs))
		}
		// mimicked: the refusal replays WordPress's last wrong-password page
		// (the fifth guess's, for log=wpadmin), without its cookies.
		mimicked := func(resp *http.Response, body string) bool {
			return resp.StatusCode == http.StatusOK && body == wrongBody && len(resp.Header.Values("Set-Cookie")) == 0
		}
		n = fc.count()
		resp, body = wpBrowserLogin(t, base, wpLoginBody("log="+wp.User, wp.Password))
		if !mimicked(resp, body) || hasLoggedInCookie(resp) {
			t.Fatalf("right password after 5 failures: %d, Set-Cookie %q, error %q, want WordPress's last wrong-password page replayed", resp.StatusCode, resp.Header.Values("Set-Cookie"), loginError(body))
		}
		if got := fc.since(n); len(got) != 0 {
			t.Fatalf("right password after the lock reached php-fpm: %v", got)
		}

		// 3. While locked: every shape, with a wrong and with the right password.
		// A shape's acceptable answers: loginguard's own refusal with a status
		// in want, or, where mimic is set, the mimicked page (the form door's
		// refusal of a locked account; the XML-RPC and Basic doors have seen no
		// wrong password yet, so their refusal mimic answers with loginguard's
		// own 401).
		type shape struct {
			name  string
			door  string // form, xmlrpc, rest
			send  func(pwd string) (*http.Response, string)
			want  []int
			mimic bool
		}
		form := func(fields string, mimic bool, want ...int) shape {
			return shape{name: "wp-login.php " + fields, door: "form", want: want, mimic: mimic, send: func(pwd string) (*http.Response, string) {
				return wpBrowserLogin(t, base, wpLoginBody(fields, pwd))
			}}
		}
		padding := "pad=" + strings.Repeat("a", 65*1024)
		shapes := []shape{
			form("log=wpadmin", true),
			form("log=WPADMIN", true),
			form("log=wpadmin%00", true),
			form("log=+wpadmin+", true),
			form("log=wp%3Cb%3Eadmin", true),
			form("log=wp%2500admin", true),
			form("log=wp%C3%A4dmin", true),
			form("log=wpadmin%40example.com", true),
			form("log=WPADMIN%40EXAMPLE.COM", true),
			form("log=wp%26amp%3Badmin", true),
			form("log=decoy&log=wpadmin", false, 400),
			form("log%5B%5D=wpadmin", true, 400),
			form("+log=wpadmin", true, 400),
			form("log=decoy&+log=wpadmin", false, 400),
			form("log=decoy&log%00x=wpadmin", false, 400),
			{name: "wp-login.php 65 KiB padding field, then log=wpadmin", door: "form", want: []int{413}, send: func(pwd string) (*http.Response, string) {
				return wpBrowserLogin(t, base, wpLoginBody(padding+"&log=wpadmin", pwd))
			}},
			{name: "xmlrpc wp.getUsersBlogs(wpadmin)", door: "xmlrpc", want: []int{401}, send: func(pwd string) (*http.Response, string) {
				return wpXMLRPC(t, base, getUsersBlogsCall("wpadmin", pwd))
			}},
			{name: "xmlrpc wp.getUsersBlogs(WPAdmin)", door: "xmlrpc", want: []int{401}, send: func(pwd string) (*http.Response, string) {
				return wpXMLRPC(t, base, getUsersBlogsCall("WPAdmin", pwd))
			}},
			{name: "xmlrpc wp.getUsersBlogs(wpadmin@example.com)", door: "xmlrpc", want: []int{401}, send: func(pwd string) (*http.Response, string) {
				return wpXMLRPC(t, base, getUsersBlogsCall(wp.Email, pwd))
			}},
			{name: "xmlrpc system.multicall 3x wp.getUsersBlogs(wpadmin)", door: "xmlrpc", want: []int{401, 429}, send: func(pwd string) (*http.Response, string) {
				return wpXMLRPC(t, base, multicallGetUsersBlogs("wpadmin", pwd, pwd, pwd))
			}},
			{name: "REST users/me Basic wpadmin", door: "rest", want: []int{401}, send: func(pwd string) (*http.Response, string) {
				if pwd == wp.Password {
					pwd = wp.AppPassword
				}
				return restGet(t, base, "wpadmin", pwd)
			}},
			{name: "REST users/me Basic wpadmin@example.com", door: "rest", want: []int{401}, send: func(pwd string) (*http.Response, string) {
				if pwd == wp.Password {
					pwd = wp.AppPassword
				}
				return restGet(t, base, wp.Email, pwd)
			}},
			// The same door with a method the route counts by default: the
			// contrast to the GETs above.
			{name: "REST POST users/me {} Basic wpadmin", door: "rest", want: []int{401}, send: func(pwd string) (*http.Response, string) {
				if pwd == wp.Password {
					pwd = wp.AppPassword
				}
				req := mustRequest(t, http.MethodPost, base+"/wp-json/wp/v2/users/me", "{}")
				req.Header.Set("Content-Type", "application/json")
				req.SetBasicAuth("wpadmin", pwd)
				return wpDo(t, req)
			}},
		}
		lockedFrom := fc.count()
		var table strings.Builder
		fmt.Fprintf(&table, "%-58s | %-28s | %-28s\n", "shape (while wpadmin is locked)", "wrong password", "right password")
		sent := 0
		for _, s := range shapes {
			var cells []string
			for _, pwd := range []string{"wrong-pass-x", wp.Password} {
				n := fc.count()
				resp, body := s.send(pwd)
				sent++
				reached := fc.since(n)
				code := gatewayCode(resp, body)
				isMimic := s.mimic && mimicked(resp, body)
				cell := fmt.Sprintf("%d %s", resp.StatusCode, code)
				if isMimic {
					cell += "WordPress's page"
				}
				if len(reached) > 0 {
					cell += " REACHED WP"
				}
				which := "wrong"
				if pwd == wp.Password {
					which = "right"
				}
				if loggedIn(s.door, resp, body) {
					cell += " LOGGED IN"
					t.Errorf("%s, %s password: logged in while locked: %d, Set-Cookie %q, body %.300s", s.name, which, resp.StatusCode, resp.Header.Values("Set-Cookie"), body)
				}
				if len(reached) > 0 {
					t.Errorf("%s, %s password: reached WordPress while locked (%v); answered %d %.200s", s.name, which, reached, resp.StatusCode, body)
				}
				if !isMimic && (!slices.Contains(s.want, resp.StatusCode) || code == "") {
					t.Errorf("%s, %s password: %d %.300s, want loginguard's own refusal with a status in %v (or the mimicked page: %v)", s.name, which, resp.StatusCode, body, s.want, s.mimic)
				}
				cells = append(cells, cell)
			}
			fmt.Fprintf(&table, "%-58s | %-28s | %-28s\n", s.name, cells[0], cells[1])
		}
		t.Logf("while locked:\n%s", table.String())
		if got := fc.since(lockedFrom); len(got) != 0 {
			t.Errorf("while locked, php-fpm was sent %d requests: %v", len(got), got)
		}

		// 4. The events: every attempt accounted for (sampled refusals carry
		// their counts), none after the lock forwarded or successful, one
		// account under every spelling.
		want := 2 + 6 + sent
		deadline := time.Now().Add(40 * time.Second)
		for {
			evs = readEventsFrom(t, c.events)
			if got := attempts(evs); got >= want || time.Now().After(deadline) {
				if got != want {
					t.Errorf("events stand for %d attempts, want %d:\n%s", got, want, eventLines(evs))
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("events:\n%s", eventLines(evs))
		lockAt := slices.IndexFunc(evs, func(e event.Event) bool { return e.EventType == event.AccountLocked && isWPAdmin(e) })
		if lockAt < 0 {
			t.Fatal("no ACCOUNT_LOCKED event for wpadmin")
		}
		okReasons := []event.Reason{event.Locked, event.AmbiguousPrincipal, event.MissingPrincipal}
		sentAs := map[string]int{}
		for i, e := range evs {
			names := principalOf(e) == wp.User || slices.Contains(e.Candidates, wp.User)
			if i > 0 { // the first event is the email login, before the alias was known
				if p := principalOf(e); p != "" && p != wp.User && p != "decoy" {
					t.Errorf("event %d has principal %q: every spelling of the account should be counted as %q", i, p, wp.User)
				}
				for _, cand := range e.Candidates {
					if cand != wp.User && cand != "decoy" {
						t.Errorf("event %d has candidate %q, want the canonical %q", i, cand, wp.User)
					}
				}
			}
			if e.SentAs != "" && e.SentAs == principalOf(e) {
				t.Errorf("event %d: sentAs %q equals the principal", i, e.SentAs)
			}
			if names && e.SentAs != "" {
				sentAs[e.SentAs]++
			}
			if i <= lockAt {
				continue
			}
			if e.EventType == event.LoginSuccess {
				t.Errorf("event %d after the lock is a LOGIN_SUCCESS (principal %q sentAs %q)", i, principalOf(e), e.SentAs)
			}
			if e.Reason == event.BadCredentials {
				t.Errorf("event %d after the lock has reason BAD_CREDENTIALS (principal %q sentAs %q): an attempt reached WordPress", i, principalOf(e), e.SentAs)
			}
			if e.EventType == event.LoginFailure && (names || principalOf(e) == "") && !slices.Contains(okReasons, e.Reason) {
				t.Errorf("event %d after the lock (principal %q sentAs %q) has reason %s, want LOCKED, AMBIGUOUS_PRINCIPAL or MISSING_PRINCIPAL", i, principalOf(e), e.SentAs, e.Reason)
			}
		}
		var spellings []string
		for s, n := range sentAs {
			spellings = append(spellings, fmt.Sprintf("%q×%d", s, n))
		}
		sort.Strings(spellings)
		t.Logf("sentAs of the wpadmin events: %s", strings.Join(spellings, ", "))
		if sentAs["WPADMIN"] == 0 {
			t.Errorf("no event with principal wpadmin and sentAs \"WPADMIN\" (the refusals of log=WPADMIN)")
		}
	})

	t.Run("xmlrpc multicall counts each call", func(t *testing.T) {
		c := startRecipeCaddy(t, wp, fc.Socket)
		base := c.url
		isWPAdmin := func(e event.Event) bool { return principalOf(e) == wp.User }
		wrong := func(k int) []string {
			p := make([]string, k)
			for i := range p {
				p[i] = fmt.Sprintf("wrong-%d", i)
			}
			return p
		}

		// Ten calls, five failures left: refused whole, nothing forwarded.
		n := fc.count()
		resp, body := wpXMLRPC(t, base, multicallGetUsersBlogs(wp.User, wrong(10)...))
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("multicall of 10 wrong: %d %.300s, want 429 or 401", resp.StatusCode, body)
		}
		if got := fc.since(n); len(got) != 0 {
			t.Errorf("multicall of 10 wrong reached php-fpm: %v", got)
		}
		t.Logf("multicall of 10 wrong: %d (Retry-After %q) %.200s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		evs := waitEventsWhere(t, c.events, "the refusal of the 10-call multicall", func(evs []event.Event) bool { return len(evs) >= 1 })
		if got := countEvents(evs, func(e event.Event) bool { return e.Reason == event.BadCredentials }); got != 0 {
			t.Errorf("%d BAD_CREDENTIALS events after the refused multicall:\n%s", got, eventLines(evs))
		}

		// Three calls: forwarded, three failures counted.
		n = fc.count()
		resp, body = wpXMLRPC(t, base, multicallGetUsersBlogs(wp.User, wrong(3)...))
		if resp.StatusCode != http.StatusOK || strings.Count(body, "<int>403</int>") != 3 {
			t.Fatalf("multicall of 3 wrong: %d %.500s, want WordPress's 200 with three 403 faults", resp.StatusCode, body)
		}
		if got := fc.since(n); len(got) != 1 {
			t.Errorf("multicall of 3 wrong: php-fpm got %v, want the one POST", got)
		}
		evs = waitEventsWhere(t, c.events, "3 BAD_CREDENTIALS for wpadmin", func(evs []event.Event) bool {
			return countEvents(evs, func(e event.Event) bool { return isWPAdmin(e) && e.Reason == event.BadCredentials }) >= 3
		})
		if countEvents(evs, func(e event.Event) bool { return e.EventType == event.AccountLocked }) != 0 {
			t.Errorf("locked after 3 failures:\n%s", eventLines(evs))
		}

		// Two single wrong calls: the fifth failure locks.
		for i := 1; i <= 2; i++ {
			n := fc.count()
			resp, body := wpXMLRPC(t, base, getUsersBlogsCall(wp.User, fmt.Sprintf("single-wrong-%d", i)))
			if resp.StatusCode != http.StatusOK || body != xmlrpcFault {
				t.Errorf("single wrong call %d: %d %.300s, want WordPress's 403 fault", i, resp.StatusCode, body)
			}
			if got := fc.since(n); len(got) != 1 {
				t.Errorf("single wrong call %d: php-fpm got %v, want the one POST", i, got)
			}
		}
		evs = waitEventsWhere(t, c.events, "ACCOUNT_LOCKED for wpadmin", func(evs []event.Event) bool {
			return countEvents(evs, func(e event.Event) bool { return e.EventType == event.AccountLocked && isWPAdmin(e) }) >= 1
		})
		if got := countEvents(evs, func(e event.Event) bool { return isWPAdmin(e) && e.Reason == event.BadCredentials }); got != 5 {
			t.Errorf("%d BAD_CREDENTIALS events for wpadmin, want 5", got)
		}

		// The right password at the form: refused before WordPress. The form
		// has seen no wrong password since this Caddy started, so its refusal
		// mimic has nothing to replay yet and answers with loginguard's own 401.
		n = fc.count()
		resp, body = wpBrowserLogin(t, base, wpLoginBody("log="+wp.User, wp.Password))
		if resp.StatusCode != http.StatusUnauthorized || gatewayCode(resp, body) != "AUTHENTICATION_FAILED" || hasLoggedInCookie(resp) {
			t.Errorf("right password after the XML-RPC lock: %d %.300s, want loginguard's 401 AUTHENTICATION_FAILED", resp.StatusCode, body)
		}
		if got := fc.since(n); len(got) != 0 {
			t.Errorf("right password after the XML-RPC lock reached php-fpm: %v", got)
		}
		evs = waitEventsWhere(t, c.events, "the LOCKED refusal", func(evs []event.Event) bool {
			return countEvents(evs, func(e event.Event) bool { return e.Reason == event.Locked }) >= 1
		})
		if got := countEvents(evs, func(e event.Event) bool { return e.EventType == event.LoginSuccess }); got != 0 {
			t.Errorf("%d LOGIN_SUCCESS events", got)
		}
		t.Logf("events:\n%s", eventLines(evs))
	})

	t.Run("logout by GET is attributed", func(t *testing.T) {
		c := startRecipeCaddy(t, wp, fc.Socket)
		resp, _ := wpBrowserLogin(t, c.url, wpLoginBody("log="+wp.User, wp.Password))
		if resp.StatusCode != http.StatusFound || !hasLoggedInCookie(resp) {
			t.Fatalf("login: %d, want 302 with wordpress_logged_in_", resp.StatusCode)
		}
		var cookies []string
		for _, ck := range resp.Cookies() {
			if ck.Value != "" && ck.MaxAge >= 0 {
				cookies = append(cookies, ck.Name+"="+ck.Value)
			}
		}
		// The logout link, with its nonce, is on every admin page.
		req := mustRequest(t, http.MethodGet, c.url+"/wp-admin/profile.php", "")
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
		_, page := wpDo(t, req)
		m := regexp.MustCompile(`wp-login\.php\?action=logout&(?:amp;|#038;)?_wpnonce=([0-9a-f]+)`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no logout link on the profile page (cookies %q): %.3000s", cookies, page)
		}
		req = mustRequest(t, http.MethodGet, c.url+"/wp-login.php?action=logout&_wpnonce="+m[1], "")
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
		resp, body := wpDo(t, req)
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("logout: %d %.300s, want WordPress's 302", resp.StatusCode, body)
		}
		evs := waitEventsWhere(t, c.events, "the LOGOUT of wpadmin", func(evs []event.Event) bool {
			return countEvents(evs, func(e event.Event) bool { return e.EventType == event.Logout && principalOf(e) == wp.User }) == 1
		})
		if got := countEvents(evs, func(e event.Event) bool { return e.EventType == event.Logout }); got != 1 {
			t.Errorf("%d LOGOUT events, want 1:\n%s", got, eventLines(evs))
		}
	})
}
