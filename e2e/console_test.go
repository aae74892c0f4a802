package e2e

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/loginguard/loginguard/admin/api"
)

// consoleWait is how long the browser tests wait for a condition: generous,
// so that they hold on a machine whose cores are busy.
const consoleWait = 30 * time.Second

// xssEmail is an identity that runs a script wherever it is parsed as HTML.
const xssEmail = "<img src=x onerror=alert(1)>@x.com"

// chromiumFlags start Debian's chromium headless and quiet: without the
// networking flags it keeps calling home on a closed network.
var chromiumFlags = []string{"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
	"disable-background-networking", "disable-component-update", "disable-sync"}

// browserSession is one headless chromium, its dialogs and where its
// screenshots go.
type browserSession struct {
	t       *testing.T
	ctx     context.Context
	shots   string
	mu      sync.Mutex
	dialogs []cdppage.EventJavascriptDialogOpening
}

// newBrowser starts chromium with a fresh profile. A missing chromium fails
// the test: it is never skipped.
func newBrowser(t *testing.T) *browserSession {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (the web console tests need it): run apt-get install -y chromium (%v)", err)
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800)}
	for _, f := range chromiumFlags {
		opts = append(opts, chromedp.Flag(f, true))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b := &browserSession{t: t, ctx: ctx}
	b.shots = os.Getenv("LOGINGUARD_SCREENSHOTS")
	if b.shots == "" {
		b.shots, err = os.MkdirTemp("", "loginguard-console-screenshots-")
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshots in %s", b.shots)
	// Accept every confirm() (and record it); an alert() would be recorded too.
	err = chromedp.Listen(ctx, func(ev any) {
		var d cdppage.EventJavascriptDialogOpening
		switch e := ev.(type) {
		case *cdppage.EventJavascriptDialogOpening:
			d = *e
		case cdppage.EventJavascriptDialogOpening:
			d = e
		default:
			return
		}
		b.mu.Lock()
		b.dialogs = append(b.dialogs, d)
		b.mu.Unlock()
		go func() {
			_, _ = chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}()
	})
	if err != nil {
		t.Fatalf("starting chromium %s: %v", path, err)
	}
	// Record what the Content-Security-Policy blocks in every page.
	if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__cspViolations = []; document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));`,
	}); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return b
}

func (b *browserSession) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// fail saves a screenshot and the page's text, then fails the test.
func (b *browserSession) fail(format string, args ...any) {
	b.t.Helper()
	var text string
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	text, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	b.screenshot("failure")
	b.t.Fatalf(format+"\npage text:\n%s", append(args, text)...)
}

// wait waits until the JavaScript expression is true; while it throws (the
// page is between two renderings) it counts as false.
func (b *browserSession) wait(what, expr string) {
	b.t.Helper()
	ok, err := chromedp.Run(b.ctx, chromedp.Poll[bool]("(() => { try { return !!("+expr+"); } catch (e) { return false; } })()", chromedp.WithPollingTimeout(consoleWait)))
	if err != nil || !ok {
		b.fail("waiting %s for %s (%s): %v", consoleWait, what, expr, err)
	}
}

// eval evaluates an expression into v (JSON-decoded).
func (b *browserSession) eval(expr string, v any) {
	b.t.Helper()
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[json.RawMessage]("JSON.stringify("+expr+")"))
	if err != nil {
		b.fail("evaluating %s: %v", expr, err)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		b.fail("evaluating %s: %s: %v", expr, raw, err)
	}
	if v != nil && s != "" {
		if err := json.Unmarshal([]byte(s), v); err != nil {
			b.fail("evaluating %s: %s: %v", expr, s, err)
		}
	}
}

func (b *browserSession) screenshot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), buf, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

func (b *browserSession) dialogsSeen() []cdppage.EventJavascriptDialogOpening {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.dialogs)
}

// js quotes a string for a JavaScript expression.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// apiTotal is totalElements of a login-logs query of the stack's admin API.
func (s *stack) apiTotal(query string) int {
	s.t.Helper()
	st, b := s.callAPI("GET", "/api/v1/login-logs?"+query, readToken, "", "")
	var p page
	if err := json.Unmarshal([]byte(b), &p); st != 200 || err != nil {
		s.t.Fatalf("login-logs?%s: %d %s", query, st, b)
	}
	return int(p.TotalElements)
}

// TestConsole drives the web console in chromium against real Caddy in front
// of the demo portal, with a login log filled through the portal.
func TestConsole(t *testing.T) {
	// Alerts off: the console's counts of each account's events are checked
	// exactly, and a lock would add an ALERT event to them.
	s := newStack(t, stackOptions{Env: []string{noAlerts}})
	v6 := strings.Replace(s.url, "127.0.0.1", "[::1]", 1)
	attempts := 0
	loginAt := func(base, email, pw string, want int) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"email": email, "password": pw})
		req, _ := http.NewRequest(http.MethodPost, base+"/api/login", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		resp, b := s.do(req)
		attempts++
		if resp.StatusCode != want {
			t.Fatalf("login %s at %s: %d %s, want %d", email, base, resp.StatusCode, b, want)
		}
	}
	// The login log: unknown accounts (more than one page), the script-shaped
	// identity, a manager login, three portal attempts from ::1, then five wrong
	// passwords that lock active@example.com and one refused attempt.
	for i := range 22 {
		loginAt(s.url, fmt.Sprintf("user%02d@example.com", i), "whatever", 401)
	}
	loginAt(s.url, xssEmail, "whatever", 401)
	if resp, _ := s.post("/manager/login", "application/x-www-form-urlencoded", "username=admin&password=manager-secret"); resp.StatusCode != 302 {
		t.Fatalf("manager login: %d", resp.StatusCode)
	}
	attempts++
	loginAt(v6, "active@example.com", password, 200)
	loginAt(v6, "disabled@example.com", password, 403)
	loginAt(v6, "waiting@example.com", password, 403)
	for i := range 5 {
		loginAt(s.url, "active@example.com", fmt.Sprintf("wrong-%d", i), 401)
	}
	loginAt(s.url, "active@example.com", password, 401) // locked: refused by the gateway
	deadline := time.Now().Add(consoleWait)
	for s.apiTotal("eventType=LOGIN_SUCCESS,LOGIN_FAILURE") < attempts {
		if time.Now().After(deadline) {
			t.Fatalf("the login log holds %d attempts, want %d", s.apiTotal("eventType=LOGIN_SUCCESS,LOGIN_FAILURE"), attempts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for s.apiTotal("eventType=ACCOUNT_LOCKED") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no ACCOUNT_LOCKED event in the login log")
		}
		time.Sleep(100 * time.Millisecond)
	}
	allEvents := s.apiTotal("")

	b := newBrowser(t)

	// Sign in: the token goes to session storage, never into the URL.
	b.run("opening the console", chromedp.Navigate(s.api+"/"))
	b.wait("the sign-in form", `!document.getElementById('signin').hidden`)
	b.screenshot("01-signin")
	b.run("signing in", chromedp.SendKeys(chromedp.CSS("#token"), adminToken), chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")))
	b.wait("the dashboard", `document.querySelector('#totals[data-total]')`)
	var stored, href string
	b.eval(`sessionStorage.getItem('loginguard.token')`, &stored)
	b.eval(`location.href`, &href)
	if stored != adminToken || strings.Contains(href, adminToken) {
		t.Fatalf("token in session storage %q, URL %q", stored, href)
	}

	// Dashboard: the totals of the last 30 days, as the API has them and as
	// they were made, drawn in SVG.
	b.wait("every dashboard panel", `!document.querySelector('#view').textContent.includes('Loading…') && document.querySelector('#view[data-rendered]')`)
	var dash struct {
		Total, Successes, Failures, Series, Hours, Reasons, IPs int
		ReasonLabels, IPLabels                                  []string
		TotalText, Connectors, Suspicious                       string
	}
	b.eval(`(() => {
		const t = document.getElementById('totals'), sum = (sel) => [...document.querySelectorAll(sel)].reduce((a, g) => a + Number(g.dataset.count), 0);
		const labels = (sel) => [...document.querySelectorAll(sel)].map((g) => g.dataset.label);
		return {Total: +t.dataset.total, Successes: +t.dataset.successes, Failures: +t.dataset.failures,
			Series: +document.getElementById('series-svg').dataset.total, Hours: sum('#hours-svg g'),
			Reasons: sum('#chart-reasons svg g'), IPs: sum('#chart-ips svg g'),
			ReasonLabels: labels('#chart-reasons svg g'), IPLabels: labels('#chart-ips svg g'),
			TotalText: document.querySelector('#total-attempts .num').textContent,
			Connectors: document.getElementById('connectors').textContent, Suspicious: document.getElementById('suspicious').textContent};
	})()`, &dash)
	var stats api.Stats
	if st, body := s.callAPI("GET", "/api/v1/stats", readToken, "", ""); st != 200 || json.Unmarshal([]byte(body), &stats) != nil {
		t.Fatalf("stats: %d %s", st, body)
	}
	if dash.Total != attempts || stats.Total != int64(attempts) || dash.Successes != 2 || dash.Failures != attempts-2 ||
		dash.Series != attempts || dash.Hours != attempts || dash.Reasons != attempts-2 || dash.TotalText != strconv.Itoa(attempts) {
		t.Errorf("dashboard %+v, API stats %+v, want %d attempts, 2 successes", dash, stats, attempts)
	}
	if !slices.Contains(dash.ReasonLabels, "ACCOUNT_NOT_FOUND") || !slices.Contains(dash.ReasonLabels, "LOCKED") ||
		!slices.Contains(dash.IPLabels, "127.0.0.1") || !strings.Contains(dash.Connectors, "store") || !strings.Contains(dash.Suspicious, "127.0.0.1") {
		t.Errorf("dashboard reasons %v, failing IPs %v, connectors %q, suspicious %q", dash.ReasonLabels, dash.IPLabels, dash.Connectors, dash.Suspicious)
	}
	b.screenshot("02-dashboard")

	// Login Logs: newest first, the login-log page's date format, paged by 20.
	b.run("opening Login Logs", chromedp.Click(chromedp.CSS(`a[data-page="logs"]`)))
	b.wait("the first page", `document.querySelector('#logs-total[data-total]') && document.querySelectorAll('#logs-body tr.clickable').length === 20`)
	var first struct {
		Total int
		Dates []string
		Info  string
		Cols  []string
	}
	b.eval(`({Total: +document.getElementById('logs-total').dataset.total,
		Dates: [...document.querySelectorAll('#logs-body td.date')].map((td) => td.textContent),
		Info: document.getElementById('page-info').textContent,
		Cols: [...document.querySelectorAll('#logs-table th')].map((th) => th.textContent)})`, &first)
	if first.Total != allEvents || first.Info != fmt.Sprintf("Page 1 of %d", (allEvents+19)/20) {
		t.Errorf("first page: total %d, %q; want %d events", first.Total, first.Info, allEvents)
	}
	if !slices.IsSortedFunc(first.Dates, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("dates not newest first: %v", first.Dates)
	}
	dateRE := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)
	for _, d := range first.Dates {
		if !dateRE.MatchString(d) {
			t.Errorf("date %q is not YYYY-MM-DD HH:mm:ss", d)
		}
	}
	if want := []string{"Status", "Email", "Account Name", "Date (UTC)", "IP Address", "Location", "Network", "Device", "Message", "Source", "Portal"}; !slices.Equal(first.Cols, want) {
		t.Errorf("columns %v, want %v", first.Cols, want)
	}
	b.screenshot("03-logs")

	// Paging.
	b.run("next page", chromedp.Click(chromedp.CSS("#page-next")))
	b.wait("page 2", fmt.Sprintf(`document.getElementById('page-info').textContent === 'Page 2 of %d' && location.hash.includes('page=1') && document.querySelectorAll('#logs-body tr.clickable').length === %d`,
		(allEvents+19)/20, min(20, allEvents-20)))

	// Filter by email (exact, any case) through the form: the filter is in the
	// URL, the token is not.
	activeTotal := s.apiTotal("email=active@example.com")
	b.run("filtering by email", chromedp.SetValue(chromedp.CSS("#f-email"), "ACTIVE@example.com"), chromedp.Click(chromedp.CSS("#f-apply")))
	b.wait("the email filter", fmt.Sprintf(`location.hash.includes('email=ACTIVE%%40example.com') && document.getElementById('logs-total').dataset.total === '%d'
		&& [...document.querySelectorAll('#logs-body td.who')].every((td) => td.textContent === 'active@example.com')`, activeTotal))
	b.eval(`location.href`, &href)
	if strings.Contains(href, adminToken) {
		t.Fatalf("the token is in the URL %q", href)
	}
	if activeTotal != 8 { // 1 success, 5 wrong passwords, 1 lock, 1 refusal
		t.Errorf("active@example.com has %d events, want 8", activeTotal)
	}

	// Export CSV of the current filter: fetched with the token, saved as a file.
	dl := t.TempDir()
	if _, err := chromedp.CallBrowser(b.ctx, browser.SetDownloadBehavior,
		browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl}); err != nil {
		t.Fatalf("allowing downloads: %v", err)
	}
	b.run("exporting CSV", chromedp.Click(chromedp.CSS("#export-csv")))
	b.wait("the export", `document.getElementById('export-csv').dataset.exported`)
	var rows [][]string
	for deadline := time.Now().Add(consoleWait); rows == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no CSV downloaded into %s", dl)
		}
		files, _ := filepath.Glob(filepath.Join(dl, "*.csv"))
		if len(files) == 1 {
			f, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			if r, err := csv.NewReader(strings.NewReader(string(f))).ReadAll(); err == nil && len(r) == activeTotal+1 {
				rows = r
			}
		}
	}
	col := slices.Index(rows[0], "email")
	for _, r := range rows[1:] {
		if col < 0 || r[col] != "active@example.com" {
			t.Fatalf("CSV header %v, row %v", rows[0], r)
		}
	}

	// Click on an IP: the log of that IP only.
	b.run("reset", chromedp.Click(chromedp.CSS("#f-reset")))
	b.wait("the unfiltered log", fmt.Sprintf(`document.getElementById('logs-total').dataset.total === '%d' && !location.hash.includes('email')`, allEvents))
	b.run("clicking ::1", chromedp.Click(chromedp.CSS(`#logs-body button.ip-link[title="Show only ::1"]`)))
	b.wait("the IP filter", `location.hash.includes('ip=%3A%3A1') && document.getElementById('logs-total').dataset.total === '3'
		&& [...document.querySelectorAll('#logs-body button.ip-link')].every((b) => b.textContent === '::1')`)
	b.screenshot("04-logs-by-ip")

	// A row opens its details: every field, the user agent, the history.
	b.run("opening a row", chromedp.Click(chromedp.CSS(`#logs-body tr.clickable td.date`)))
	b.wait("the details", `!document.getElementById('drawer').hidden && document.querySelector('#event-fields dd[data-field="remoteAddress"]')
		&& document.querySelector('#event-history tbody tr')`)
	var details map[string]string
	b.eval(`Object.fromEntries([...document.querySelectorAll('#event-fields dd')].map((dd) => [dd.dataset.field, dd.textContent]))`, &details)
	if details["remoteAddress"] != "::1" || !strings.HasPrefix(details["userAgent"], "Go-http-client") || details["id"] == "" ||
		details["traceId"] == "" || details["source"] != "API_PORTAL" || details["portalId"] != "demo-portal" {
		t.Errorf("details %v", details)
	}
	b.screenshot("05-event")

	// The script-shaped email is text: no element, no dialog.
	b.eval(`(location.hash = '#/logs?email=' + encodeURIComponent(`+js(xssEmail)+`), null)`, nil)
	b.wait("its row", `document.getElementById('logs-total').dataset.total === '1' && document.querySelector('#logs-body td.who')`)
	b.run("opening it", chromedp.Click(chromedp.CSS(`#logs-body tr.clickable td.date`)))
	b.wait("its details", `document.querySelector('#event-fields dd[data-field="email"]') && document.querySelector('#event-history tbody tr')`)
	var xss struct {
		Cell, Field string
		Imgs        int
	}
	b.eval(`({Cell: document.querySelector('#logs-body td.who').textContent,
		Field: document.querySelector('#event-fields dd[data-field="email"]').textContent,
		Imgs: document.querySelectorAll('img').length})`, &xss)
	if xss.Cell != xssEmail || xss.Field != xssEmail || xss.Imgs != 0 {
		t.Errorf("script-shaped email rendered as %+v", xss)
	}
	b.screenshot("06-xss-as-text")

	// Users: one row per identity; a click opens its history.
	b.run("opening Users", chromedp.Click(chromedp.CSS(`a[data-page="users"]`)))
	b.wait("the users", `document.querySelector('#users-body tr[data-identity="active@example.com"]')`)
	var xssUser string
	b.eval(`[...document.querySelectorAll('#users-body tr')].map((tr) => tr.dataset.identity).find((id) => id && id.startsWith('<img')) || ''`, &xssUser)
	if xssUser != xssEmail {
		t.Errorf("users: the script-shaped identity is %q", xssUser)
	}
	var activeStatus string
	b.eval(`document.querySelector('#users-body tr[data-identity="active@example.com"] .badge').textContent`, &activeStatus)
	if activeStatus != "LOCKED" {
		t.Errorf("users: active@example.com is %q, want LOCKED", activeStatus)
	}
	b.screenshot("07-users")
	b.run("opening a user's history", chromedp.Click(chromedp.CSS(`#users-body tr[data-identity="active@example.com"] td`)))
	b.wait("the user's history", fmt.Sprintf(`location.hash.startsWith('#/logs') && location.hash.includes('email=active%%40example.com') && document.getElementById('logs-total').dataset.total === '%d'`, activeTotal))

	// Lockouts: unlock the locked account, then the portal lets it in again.
	b.run("opening Lockouts", chromedp.Click(chromedp.CSS(`a[data-page="lockouts"]`)))
	b.wait("the locked account, locked at its ACCOUNT_LOCKED event", `document.querySelector('#locked-accounts tr[data-account="active@example.com"] button.unlock')
		&& /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(document.querySelector('#locked-accounts tr[data-account="active@example.com"] td.locked-at').textContent)`)
	b.screenshot("08-lockouts")
	if resp, body := s.login("active@example.com", password); resp.StatusCode != 401 {
		t.Fatalf("locked, yet: %d %s", resp.StatusCode, body)
	}
	b.run("unlocking", chromedp.Click(chromedp.CSS(`#locked-accounts button.unlock[data-account="active@example.com"]`)))
	b.wait("the unlock", `!document.querySelector('#locked-accounts tr[data-account="active@example.com"]') && document.getElementById('lockouts-msg').textContent === 'Unlocked active@example.com'`)
	if resp, body := s.login("active@example.com", password); resp.StatusCode != 200 {
		t.Fatalf("after the unlock in the console the portal answers %d %s, want 200", resp.StatusCode, body)
	}
	// Block and unblock an IP, the table updating in place.
	b.run("blocking", chromedp.SetValue(chromedp.CSS("#block-ip"), "192.0.2.7"), chromedp.Click(chromedp.CSS("#block-form button[type=submit]")))
	b.wait("the block", `document.querySelector('#blocked-ips button.unblock[data-cidr="192.0.2.7/32"]')`)
	b.run("unblocking", chromedp.Click(chromedp.CSS(`#blocked-ips button.unblock[data-cidr="192.0.2.7/32"]`)))
	b.wait("the unblock", `!document.querySelector('#blocked-ips tr[data-cidr="192.0.2.7/32"]') && document.getElementById('lockouts-msg').textContent.startsWith('Unblocked')`)
	if st, body := s.callAPI("GET", "/api/v1/lockouts", readToken, "", ""); st != 200 || strings.Contains(body, "192.0.2.7") || strings.Contains(body, "active@example.com") {
		t.Fatalf("lockouts after unblock and unlock: %d %s", st, body)
	}

	// A read token sees no admin actions (and the server refuses them anyway).
	if st, body := s.callAPI("POST", "/api/v1/lockouts/accounts", adminToken, "", `{"principal":"rejected@example.com","duration":"1h"}`); st != 200 {
		t.Fatalf("lock: %d %s", st, body)
	}
	b.run("signing out", chromedp.Click(chromedp.CSS("#signout")))
	b.wait("the sign-in form", `!document.getElementById('signin').hidden && sessionStorage.getItem('loginguard.token') === null`)
	b.run("signing in with the read token", chromedp.SendKeys(chromedp.CSS("#token"), readToken), chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")))
	b.wait("the read scope", `document.body.dataset.scope === 'read'`)
	b.eval(`(location.hash = '#/lockouts', null)`, nil)
	b.wait("the read-only lockouts", `document.querySelector('#locked-accounts tr[data-account="rejected@example.com"]') && document.getElementById('read-only')`)
	var adminControls int
	b.eval(`document.querySelectorAll('button.unlock, button.unblock, #lock-form, #block-form').length`, &adminControls)
	if adminControls != 0 {
		t.Errorf("a read token sees %d admin controls", adminControls)
	}
	b.screenshot("09-lockouts-read")

	// The console broke none of its own CSP, and nothing tried to run inline.
	var violations []string
	b.eval(`window.__cspViolations`, &violations)
	if len(violations) != 0 {
		t.Errorf("Content-Security-Policy violations: %q", violations)
	}

	// Only the console's own confirm() dialogs opened: no alert ran.
	var confirms []string
	for _, d := range b.dialogsSeen() {
		if d.Type != cdppage.DialogTypeConfirm {
			t.Errorf("a %s dialog opened: %q", d.Type, d.Message)
		}
		confirms = append(confirms, d.Message)
	}
	if want := []string{"Unlock the account active@example.com?", "Block 192.0.2.7?", "Unblock 192.0.2.7/32?"}; !slices.Equal(confirms, want) {
		t.Errorf("confirm dialogs %q, want %q", confirms, want)
	}
}
