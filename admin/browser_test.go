package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/loginguard/loginguard/admin/internal/admintest"
)

// consoleWait is how long the browser tests wait for a condition: generous,
// so that they hold on a machine whose cores are busy.
const consoleWait = 30 * time.Second

// chromiumFlags start Debian's chromium headless and quiet: without the
// networking flags it keeps calling home on a closed network.
var chromiumFlags = []string{"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
	"disable-background-networking", "disable-component-update", "disable-sync"}

// browser is one headless chromium with a fresh profile driving the console
// of a fixture, the dialogs it opened and where its screenshots go.
type browser struct {
	t       *testing.T
	ctx     context.Context
	f       *admintest.Fixture
	shots   string
	mu      sync.Mutex
	dialogs []cdppage.EventJavascriptDialogOpening
}

// newBrowser starts chromium for f's console. The page's clock runs from the
// fixture's clock (admintest.Now), so that the console's date ranges ("the
// last 30 days") cover the fixture's data set. Every page records the
// Content-Security-Policy violations in window.__cspViolations. A missing
// chromium fails the test: it is never skipped.
func newBrowser(t *testing.T, f *admintest.Fixture) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (the web console tests need it): run apt-get install -y chromium (%v)", err)
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900)}
	for _, fl := range chromiumFlags {
		opts = append(opts, chromedp.Flag(fl, true))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, f: f, shots: os.Getenv("LOGINGUARD_SCREENSHOTS")}
	if b.shots == "" {
		b.shots = t.TempDir()
	} else if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	// Record every dialog and accept it: the tests assert that none opened.
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
	script := fmt.Sprintf(`window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
(() => {
	const RealDate = Date, offset = %d - RealDate.now();
	function FixtureDate(...args) {
		if (!new.target) return new RealDate(RealDate.now() + offset).toString();
		return args.length ? new RealDate(...args) : new RealDate(RealDate.now() + offset);
	}
	FixtureDate.prototype = RealDate.prototype;
	FixtureDate.now = () => RealDate.now() + offset;
	FixtureDate.UTC = RealDate.UTC;
	FixtureDate.parse = RealDate.parse;
	window.Date = FixtureDate;
})();`, admintest.Now.UnixMilli())
	if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument,
		cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: script}); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("console screenshots in %s", b.shots)
		}
	})
	return b
}

// signIn opens the console, signs in with the read token and waits for the
// dashboard.
func (b *browser) signIn() {
	b.t.Helper()
	b.run("opening the console", chromedp.Navigate(b.f.Server.URL+"/"))
	b.wait("the sign-in form", `!document.getElementById('signin').hidden`)
	b.run("signing in", chromedp.SendKeys(chromedp.CSS("#token"), admintest.ReadToken),
		chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")))
	b.wait("the dashboard", `document.querySelector('#totals[data-total]')`)
}

// stale marks every element of the page's view, so that a wait after a
// navigation can tell the new page (its elements not marked) from the old,
// which stays until the hashchange event renders the new one.
func (b *browser) stale() {
	b.t.Helper()
	b.eval(`document.querySelectorAll('#view *').forEach((e) => e.setAttribute('data-stale', '')) ?? null`, nil)
}

// open sets the console's location hash (a page and its state, "#/logs?country=NL").
func (b *browser) open(hash string) {
	b.t.Helper()
	b.stale()
	b.eval("(location.hash = "+js(hash)+", null)", nil)
}

func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// fail saves a screenshot and the page's text, then fails the test.
func (b *browser) fail(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + '\n' + document.body.innerText`))
	b.screenshot("failure")
	b.t.Fatalf(format+"\npage:\n%s", append(args, text)...)
}

// wait waits until the JavaScript expression is true; while it throws (the
// page is between two renderings) it counts as false.
func (b *browser) wait(what, expr string) {
	b.t.Helper()
	ok, err := chromedp.Run(b.ctx, chromedp.Poll[bool]("(() => { try { return !!("+expr+"); } catch (e) { return false; } })()",
		chromedp.WithPollingTimeout(consoleWait)))
	if err != nil || !ok {
		b.fail("waiting %s for %s (%s): %v", consoleWait, what, expr, err)
	}
}

// eval evaluates an expression into v (through JSON).
func (b *browser) eval(expr string, v any) {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("JSON.stringify("+expr+") ?? ''"))
	if err != nil {
		b.fail("evaluating %s: %v", expr, err)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(s), v); err != nil {
			b.fail("evaluating %s: %s: %v", expr, s, err)
		}
	}
}

func (b *browser) screenshot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(b.shots, name+".png"), buf, 0o644)
	}
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// clean fails the test if the page broke its Content-Security-Policy or
// opened a dialog.
func (b *browser) clean() {
	b.t.Helper()
	var violations []string
	b.eval(`window.__cspViolations`, &violations)
	if len(violations) != 0 {
		b.t.Errorf("Content-Security-Policy violations: %q", violations)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range b.dialogs {
		b.t.Errorf("a %s dialog opened: %q", d.Type, d.Message)
	}
}

// js quotes a string for a JavaScript expression.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
