package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/event"
)

// TestWordPressBotsCannotLockOwnerOut runs examples/wordpress.caddyfile as
// shipped (known_ips and refusal mimic on the login form) in front of the real
// WordPress, with the test's requests coming through a trusted proxy
// (WP_TRUSTED_PROXIES=127.0.0.1/32) so that X-Forwarded-For names each
// client. The owner logs in once from one address; bots at other addresses
// lock the account with five wrong passwords. Then a bot's right password is
// refused with WordPress's own wrong-password page (not loginguard's JSON),
// and the owner, from the known address, still logs in. php-fpm's requests
// are counted (fcgiCounter) to prove what reached WordPress.
func TestWordPressBotsCannotLockOwnerOut(t *testing.T) {
	wp := startWordPress(t)
	fc := startFCGICounter(t, wp.Socket)
	c := startRecipeCaddy(t, wp, fc.Socket, "WP_TRUSTED_PROXIES=127.0.0.1/32")
	const owner = "203.0.113.10"
	bot := func(i int) string { return fmt.Sprintf("198.51.100.%d", i) }
	from := func(ip, log, pwd string) (*http.Response, string, []fcgiRequest) {
		t.Helper()
		n := fc.count()
		req := mustRequest(t, http.MethodPost, c.url+"/wp-login.php", wpLoginBody("log="+url.QueryEscape(log), pwd))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", "wordpress_test_cookie=WP%20Cookie%20check")
		req.Header.Set("X-Forwarded-For", ip)
		resp, body := wpDo(t, req)
		return resp, body, fc.since(n)
	}
	ownerLogsIn := func(when string) {
		t.Helper()
		resp, body, reached := from(owner, wp.User, wp.Password)
		if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/wp-admin") || !hasLoggedInCookie(resp) {
			t.Fatalf("the owner %s: %d, Location %q, Set-Cookie %q, error %q; want WordPress's 302 to wp-admin with wordpress_logged_in_",
				when, resp.StatusCode, resp.Header.Get("Location"), resp.Header.Values("Set-Cookie"), loginError(body))
		}
		if len(reached) != 1 {
			t.Fatalf("the owner %s: php-fpm got %v, want the one POST", when, reached)
		}
	}
	isLock := func(e event.Event) bool { return e.EventType == event.AccountLocked && principalOf(e) == wp.User }

	// The owner logs in from home: the address becomes known.
	ownerLogsIn("before the attack")
	waitEventsWhere(t, c.events, "the owner's LOGIN_SUCCESS from "+owner, func(evs []event.Event) bool {
		return countEvents(evs, func(e event.Event) bool { return e.EventType == event.LoginSuccess && e.RemoteAddress == owner }) == 1
	})

	// Five bots, one wrong password each: WordPress answers each, the fifth locks.
	var wrong *http.Response
	var wrongBody string
	for i := 1; i <= 5; i++ {
		resp, body, reached := from(bot(i), wp.User, fmt.Sprint("bot-guess-", i))
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(loginError(body), wpWrongPasswordText) {
			t.Fatalf("bot %d's wrong password: %d %q, want WordPress's 200 with %q…", i, resp.StatusCode, loginError(body), wpWrongPasswordText)
		}
		if len(reached) != 1 {
			t.Fatalf("bot %d's wrong password: php-fpm got %v, want the one POST", i, reached)
		}
		wrong, wrongBody = resp, body
	}
	waitEventsWhere(t, c.events, "ACCOUNT_LOCKED for wpadmin", func(evs []event.Event) bool {
		return countEvents(evs, isLock) == 1
	})

	// (1) A bot with the right password is refused, and sees what a wrong
	// password gets: WordPress's own login page with its own error, not JSON.
	refusedAsWrongPassword := func(ip string) {
		t.Helper()
		resp, body, reached := from(ip, wp.User, wp.Password)
		if len(reached) != 0 {
			t.Fatalf("a bot's right password from %s reached WordPress while locked: %v", ip, reached)
		}
		if hasLoggedInCookie(resp) || gatewayCode(resp, body) != "" {
			t.Fatalf("a bot's right password from %s: %d, Set-Cookie %q, %.300s; want WordPress's wrong-password page, not loginguard's refusal or a login",
				ip, resp.StatusCode, resp.Header.Values("Set-Cookie"), body)
		}
		if resp.StatusCode != wrong.StatusCode || body != wrongBody || !strings.HasPrefix(loginError(body), wpWrongPasswordText) {
			t.Fatalf("a bot's right password from %s: %d with error %q (%d bytes), want WordPress's own wrong-password answer: %d with %q… (%d bytes)",
				ip, resp.StatusCode, loginError(body), len(body), wrong.StatusCode, wpWrongPasswordText, len(wrongBody))
		}
		if got := resp.Header.Values("Set-Cookie"); len(got) != 0 {
			t.Fatalf("the refusal sets cookies %q: WordPress's cookies must not be replayed", got)
		}
		// Framing (Content-Length) and Date are the server's own.
		for _, h := range []string{"Content-Type", "Cache-Control", "Expires", "X-Frame-Options"} {
			if resp.Header.Get(h) != wrong.Header.Get(h) {
				t.Errorf("the refusal's %s is %q, WordPress's %q", h, resp.Header.Get(h), wrong.Header.Get(h))
			}
		}
	}
	refusedAsWrongPassword(bot(1))

	// (2) The owner, from the known address, gets in while the account is locked.
	ownerLogsIn("during the lock")

	// The owner's success does not lift the lock for anyone else.
	refusedAsWrongPassword(bot(6))

	evs := waitEventsWhere(t, c.events, "the two LOCKED refusals and the owner's second success", func(evs []event.Event) bool {
		return countEvents(evs, func(e event.Event) bool { return e.Reason == event.Locked }) == 2 &&
			countEvents(evs, func(e event.Event) bool { return e.EventType == event.LoginSuccess && e.RemoteAddress == owner }) == 2
	})
	for _, ip := range []string{bot(1), bot(6)} {
		if countEvents(evs, func(e event.Event) bool {
			return e.Reason == event.Locked && e.RemoteAddress == ip && principalOf(e) == wp.User
		}) != 1 {
			t.Errorf("no LOCKED refusal of wpadmin from %s:\n%s", ip, eventLines(evs))
		}
	}
	if got := countEvents(evs, isLock); got != 1 {
		t.Errorf("%d ACCOUNT_LOCKED events, want 1:\n%s", got, eventLines(evs))
	}
	if got := countEvents(evs, func(e event.Event) bool { return e.EventType == event.LoginSuccess && e.RemoteAddress != owner }); got != 0 {
		t.Errorf("%d successes from an address other than the owner's:\n%s", got, eventLines(evs))
	}
}
