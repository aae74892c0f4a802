package admin_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/loginguard/loginguard/admin/internal/admintest"
	"github.com/loginguard/loginguard/event"
)

// TestConsoleMonitorAndBreached: the dashboard shows the refusals a route in
// monitor mode would have made and the attempts and successful logins with a
// breached password as counts of their own, and the former as a series of its
// own over the attempts (a point per bucket that has some, to the API's
// counts, by day and by hour); each count opens the log search of what it
// counts. The log search filters by both (the form's "Would have been
// refused" and "Password" fields, kept in the URL), marks the rows with
// badges and the event's details with the two fields; the users page shows
// an identity's breached-password attempts and successes.
func TestConsoleMonitorAndBreached(t *testing.T) {
	f := admintest.New(t, admintest.Flagged(), nil)
	b := newBrowser(t, f)
	b.signIn()
	b.wait("the counts of monitored refusals and breached passwords", `document.querySelector('#totals[data-would-refuse] #total-breached-successes')`)
	var totals struct{ Would, Breached, OK, WouldText, BreachedText, OKText string }
	b.eval(`(() => { const t = document.getElementById('totals'), n = (id) => document.querySelector('#' + id + ' .num').textContent;
		return {Would: t.dataset.wouldRefuse, Breached: t.dataset.breached, OK: t.dataset.breachedSuccesses,
			WouldText: n('total-would-refuse'), BreachedText: n('total-breached'), OKText: n('total-breached-successes')}; })()`, &totals)
	if totals.Would != "5" || totals.Breached != "4" || totals.OK != "2" || totals.WouldText != "5" || totals.BreachedText != "4" || totals.OKText != "2" {
		t.Errorf("the dashboard's counts %+v; want 5 that would have been refused, 4 breached-password attempts, 2 successful", totals)
	}
	// The series: by day, carol's 5 attempts on the last day.
	type point struct {
		Start string
		Count int
	}
	series := func(days int) (buckets, perBucket []int, points []point) {
		t.Helper()
		b.wait(fmt.Sprintf("the series of %d days", days), `document.querySelector('#series-svg:not([data-stale]) #series-would-refuse polyline')
			&& document.getElementById('legend-would-refuse')`)
		b.eval(`[...document.querySelectorAll('#series-svg > g[data-would-refuse]')].map((g) => +g.dataset.wouldRefuse)`, &perBucket)
		b.eval(`[document.querySelectorAll('#series-svg > g[data-would-refuse]').length,
			document.querySelector('#series-would-refuse polyline').getAttribute('points').split(' ').length]`, &buckets)
		b.eval(`[...document.querySelectorAll('#series-would-refuse circle')].map((c) => ({Start: c.dataset.start, Count: +c.dataset.count}))`, &points)
		return buckets, perBucket, points
	}
	n, per, points := series(30)
	if n[0] < 30 || n[1] != n[0] || sumInts(per) != 5 || len(points) != 1 || points[0].Count != 5 || !sameDay(points[0].Start, admintest.Now) {
		t.Errorf("30 days: %v buckets and points, wouldRefuse per bucket %v, points %+v; want one point of 5 on %s", n, per, points, admintest.Now.Format("2006-01-02"))
	}
	b.screenshot("dashboard-monitor-30")
	b.stale()
	b.eval(`(() => { const s = document.getElementById('dash-days'); s.value = '1'; s.dispatchEvent(new Event('change')); return null; })()`, nil)
	b.wait("the range of 24 hours", `location.hash.includes('days=1')`)
	_, per, points = series(1)
	var counts []int
	for _, p := range points {
		counts = append(counts, p.Count)
	}
	// Carol's refusals at 06:00 and 06:30 (a sampled one of 3), and 07:00.
	if sumInts(per) != 5 || !slices.Equal(counts, []int{4, 1}) || !strings.HasPrefix(points[0].Start, "2025-03-15T06:00:00") {
		t.Errorf("24 hours: wouldRefuse per bucket %v, points %+v; want points of 4 at 06:00 and 1 at 07:00", per, points)
	}
	b.screenshot("dashboard-monitor-1")

	// A count opens the log search of what it counts.
	from := admintest.Now.AddDate(0, 0, -1)
	monitored := since(f.Events, from, func(e event.Event) bool { return e.WouldRefuse != "" })
	b.stale()
	b.run("clicking the monitored refusals", chromedp.Click(chromedp.CSS(`#total-would-refuse a`)))
	b.wantLogs("the monitored refusals", monitored, url.Values{"wouldRefuse": {"true"}})
	var badges []string
	b.eval(`[...document.querySelectorAll('#logs-body tr.clickable')].map((tr) => [...tr.querySelectorAll('td.status .would-refuse')].map((s) => s.dataset.reason + ' ' + s.textContent).join())`, &badges)
	slices.Sort(badges)
	if !slices.Equal(badges, []string{"LOCKED WOULD REFUSE", "LOCKED WOULD REFUSE", "RATE_LIMITED WOULD REFUSE"}) {
		t.Errorf("the rows' badges %q; want WOULD REFUSE of LOCKED, LOCKED, RATE_LIMITED", badges)
	}
	var form struct{ Would, Breached string }
	b.eval(`({Would: document.getElementById('f-would').value, Breached: document.getElementById('f-breached').value})`, &form)
	if form.Would != "true" || form.Breached != "" {
		t.Errorf("the form shows %+v, want wouldRefuse true", form)
	}

	// The form's filters: one reason; then breached passwords, alone and
	// successful.
	monthAgo := admintest.Now.AddDate(0, 0, -30).Truncate(24 * time.Hour)
	for _, c := range []struct {
		name           string
		would, pw, st  string
		query          url.Values
		keep           func(event.Event) bool
		badge, noBadge string
	}{
		{"would refuse LOCKED", "LOCKED", "", "", url.Values{"wouldRefuse": {"LOCKED"}}, func(e event.Event) bool { return e.WouldRefuse == event.Locked },
			".would-refuse", ".breached"},
		{"breached passwords", "", "true", "", url.Values{"breached": {"true"}}, func(e event.Event) bool { return e.PasswordBreached },
			".breached", ".would-refuse"},
		{"successful logins with a breached password", "", "true", "SUCCESS", url.Values{"breached": {"true"}, "status": {"SUCCESS"}},
			func(e event.Event) bool { return e.PasswordBreached && e.EventType == event.LoginSuccess }, ".breached", ".would-refuse"},
	} {
		want := since(f.Events, monthAgo, c.keep)
		if len(want) == 0 {
			t.Fatalf("%s: the data set has no such event", c.name)
		}
		b.stale()
		b.run(c.name+": reset", chromedp.Click(chromedp.CSS("#f-reset")))
		b.wait(c.name+": the unfiltered log", `document.querySelector('#logs-table[data-loaded]:not([data-stale])') && !location.hash.includes('?')`)
		b.eval(fmt.Sprintf(`(() => { const v = (id, x) => { document.getElementById(id).value = x; };
			v('f-would', %s); v('f-breached', %s); v('f-status', %s); return null; })()`, js(c.would), js(c.pw), js(c.st)), nil)
		b.stale()
		b.run(c.name+": applying", chromedp.Click(chromedp.CSS("#f-apply")))
		b.wantLogs(c.name, want, c.query)
		var marked []bool
		b.eval(`[...document.querySelectorAll('#logs-body tr.clickable')].map((tr) => !!tr.querySelector('td.status `+c.badge+`') && !tr.querySelector('td.status `+c.noBadge+`'))`, &marked)
		if slices.Contains(marked, false) || len(marked) != len(want) {
			t.Errorf("%s: rows marked %v, want each with %s and none with %s", c.name, marked, c.badge, c.noBadge)
		}
	}
	b.screenshot("logs-breached")

	// The event's details.
	ok := since(f.Events, monthAgo, func(e event.Event) bool { return e.PasswordBreached && e.EventType == event.LoginSuccess })[0]
	b.run("opening a breached password's login", chromedp.Click(chromedp.CSS(`#logs-body tr[data-id="`+ok.ID+`"] td.date`)))
	b.wait("its details", `!document.getElementById('drawer').hidden && document.querySelector('#event-fields dd[data-field="passwordBreached"]')
		&& document.querySelector('#event-history tbody')`)
	var details map[string]string
	b.eval(`Object.fromEntries([...document.querySelectorAll('#event-fields dd')].map((dd) => [dd.dataset.field, dd.textContent]))`, &details)
	if details["passwordBreached"] != "yes: the password is in a set of breached passwords" || details["wouldRefuse"] != "—" {
		t.Errorf("details: passwordBreached %q, wouldRefuse %q", details["passwordBreached"], details["wouldRefuse"])
	}
	var histMarked int
	b.eval(`document.querySelectorAll('#event-history tbody .breached').length`, &histMarked)
	if histMarked != 3 {
		t.Errorf("the identity's history marks %d attempts with a breached password, want 3", histMarked)
	}
	b.run("closing the details", chromedp.Click(chromedp.CSS("#drawer-close")))

	// The users page.
	b.open("#/users?search=" + url.QueryEscape(admintest.Breached))
	b.wait("the user", `document.querySelector('#users-body:not([data-stale]) tr[data-identity="`+admintest.Breached+`"] td.breached')`)
	var cell struct{ Text, Attempts, Successes string }
	b.eval(`(() => { const td = document.querySelector('#users-body tr[data-identity="`+admintest.Breached+`"] td.breached');
		return {Text: td.textContent, Attempts: td.dataset.attempts, Successes: td.dataset.successes}; })()`, &cell)
	if cell.Text != "3 (2)" || cell.Attempts != "3" || cell.Successes != "2" {
		t.Errorf("the users page shows %+v for %s, want 3 (2)", cell, admintest.Breached)
	}
	b.screenshot("users-breached")
	b.clean()
}

func sumInts(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// sameDay reports whether the RFC 3339 time s is on the UTC day of t.
func sameDay(s string, t time.Time) bool {
	d, err := time.Parse(time.RFC3339, s)
	return err == nil && d.UTC().Format("2006-01-02") == t.UTC().Format("2006-01-02")
}
