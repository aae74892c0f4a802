package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/state"
)

type runFunc = func(ctx context.Context, e *env, pos []string) error

// filterFlags adds the login-log filters to fs; the returned function gives
// their query values.
func filterFlags(fs *flag.FlagSet) func() url.Values {
	names := []struct{ flag, param, help string }{
		{"from", "from", "start date, YYYY-MM-DD or RFC 3339 (default: 30 days ago)"},
		{"to", "to", "end date, inclusive when a date"},
		{"email", "email", "email, exact, any case"},
		{"ip", "ip", "remote address"},
		{"status", "status", "SUCCESS or FAILURE"},
		{"event-type", "eventType", "comma list of event types"},
		{"source", "source", "API_MANAGER or API_PORTAL"},
		{"portal", "portalId", "portal id"},
		{"reason", "reason", "failure reason, e.g. BAD_CREDENTIALS"},
		{"principal", "principal", "manager username, exact"},
		{"country", "country", "country of the remote address, ISO code (e.g. NL), any case"},
		{"asn", "asn", "autonomous system number of the remote address (e.g. 64496 or AS64496)"},
		{"device-type", "deviceType", "desktop, mobile, tablet, tv or bot"},
		{"would-refuse", "wouldRefuse", "true: the refusals a route in monitor mode did not make; or a reason (e.g. LOCKED): those of that reason"},
		{"sort", "sort", "date,desc (default) or date,asc"},
	}
	vals := make([]*string, len(names))
	for i, n := range names {
		vals[i] = fs.String(n.flag, "", n.help)
	}
	breached := fs.Bool("breached", false, "only the attempts whose password is breached (known from data breaches)")
	return func() url.Values {
		q := url.Values{}
		for i, n := range names {
			if v := *vals[i]; v != "" {
				q.Set(n.param, v)
			}
		}
		if *breached {
			q.Set("breached", "true")
		}
		return q
	}
}

func logsCmd(fs *flag.FlagSet) runFunc {
	filters := filterFlags(fs)
	page := fs.Int("page", 0, "page number, from 0")
	size := fs.Int("size", 20, "page size, at most 1000")
	return func(ctx context.Context, e *env, _ []string) error {
		q := filters()
		q.Set("page", strconv.Itoa(*page))
		q.Set("size", strconv.Itoa(*size))
		var p api.Page[event.Event]
		raw, err := e.call(ctx, http.MethodGet, "/api/v1/login-logs", q, nil, &p)
		if err != nil {
			return err
		}
		full := table{header: admin.LogCSVColumns()}
		human := table{header: []string{"DATE (UTC)", "EVENT", "IDENTITY", "NAME", "IP", "LOCATION", "DEVICE", "MESSAGE"}}
		for i := range p.Content {
			ev := &p.Content[i]
			full.rows = append(full.rows, admin.LogCSVRecord(nil, ev))
			what := string(ev.EventType)
			switch ev.EventType {
			case event.LoginSuccess:
				what = "SUCCESS"
			case event.LoginFailure:
				what = "FAILURE"
				if ev.Reason != "" {
					what += " " + string(ev.Reason)
				}
			}
			if ev.WouldRefuse != "" {
				// A route in monitor mode: the attempt went to the portal.
				what += " (monitor: would refuse " + string(ev.WouldRefuse) + ")"
			}
			if ev.PasswordBreached {
				what += " [breached password]"
			}
			human.rows = append(human.rows, []string{ev.EventDate.UTC().Format("2006-01-02 15:04:05"), what,
				ev.Identity(), event.Value(ev.DisplayName), ev.RemoteAddress, ev.Place(), ev.DeviceType, truncate(event.Value(ev.Message), 80)})
		}
		if err := e.show(raw, full, human); err != nil {
			return err
		}
		if e.output == "table" {
			fmt.Fprintf(e.out, "\npage %d of %d (%d events, %d per page)\n", p.Number, p.TotalPages, p.TotalElements, p.Size)
		}
		return nil
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func statsCmd(fs *flag.FlagSet) runFunc {
	from := fs.String("from", "", "start date, YYYY-MM-DD or RFC 3339 (default: 30 days ago)")
	to := fs.String("to", "", "end date, inclusive when a date (default: now)")
	interval := fs.String("interval", "", "series interval: hour or day (default: hour up to 48 hours)")
	top := fs.Int("top", 10, "how many top users, IPs, countries, ASNs and device types")
	return func(ctx context.Context, e *env, _ []string) error {
		q := url.Values{"top": {strconv.Itoa(*top)}}
		for k, v := range map[string]string{"from": *from, "to": *to, "interval": *interval} {
			if v != "" {
				q.Set(k, v)
			}
		}
		var s api.Stats
		raw, err := e.call(ctx, http.MethodGet, "/api/v1/stats", q, nil, &s)
		if err != nil {
			return err
		}
		pct := func(r float64) string { return strconv.FormatFloat(100*r, 'f', 1, 64) + "%" }
		long := table{header: []string{"section", "key", "value", "successes", "failures"}}
		add := func(section, key, value, succ, fail string) {
			long.rows = append(long.rows, []string{section, key, value, succ, fail})
		}
		add("summary", "from", s.From.UTC().Format(time.RFC3339), "", "")
		add("summary", "to", s.To.UTC().Format(time.RFC3339), "", "")
		// Attempts, as the stats API counts them: every login request that
		// reached loginguard; refused ones are failures, also shown apart.
		add("summary", "total", itoa(s.Total), itoa(s.Successes), itoa(s.Failures))
		add("summary", "refused", itoa(s.Refused), "", itoa(s.Refused))
		add("summary", "wouldRefuse", itoa(s.WouldRefuse), "", itoa(s.WouldRefuse))
		add("summary", "breached", itoa(s.Breached), itoa(s.BreachedSuccesses), itoa(s.Breached-s.BreachedSuccesses))
		add("summary", "events", itoa(s.Events), "", "")
		add("summary", "successRate", strconv.FormatFloat(s.SuccessRate, 'f', 4, 64), "", "")
		summary := table{title: fmt.Sprintf("Login attempts %s to %s (UTC)", s.From.UTC().Format("2006-01-02 15:04"), s.To.UTC().Format("2006-01-02 15:04")),
			header: []string{"ATTEMPTS", "SUCCESSES", "FAILURES", "OF WHICH REFUSED", "SUCCESS RATE", "STORED EVENTS"},
			rows:   [][]string{{itoa(s.Total), itoa(s.Successes), itoa(s.Failures), itoa(s.Refused), pct(s.SuccessRate), itoa(s.Events)}}}
		// Beside the refusals made: those a route in monitor mode would
		// have made, and the attempts with a breached password.
		flagged := table{header: []string{"WOULD HAVE BEEN REFUSED (MONITOR)", "BREACHED-PASSWORD ATTEMPTS", "OF WHICH SUCCESSFUL"},
			rows: [][]string{{itoa(s.WouldRefuse), itoa(s.Breached), itoa(s.BreachedSuccesses)}}}
		for _, r := range s.WouldRefuseByReason {
			add("wouldRefuse", string(r.Reason), itoa(r.Count), "", itoa(r.Count))
		}
		reasons := table{header: []string{"FAILURE REASON", "COUNT"}}
		for _, r := range s.ByReason {
			reasons.rows = append(reasons.rows, []string{string(r.Reason), itoa(r.Count)})
			add("reason", string(r.Reason), itoa(r.Count), "", "")
		}
		users := table{header: []string{"MOST ACTIVE USER", "ATTEMPTS"}}
		for _, u := range s.TopUsers {
			users.rows = append(users.rows, []string{u.Key, itoa(u.Count)})
			add("topUser", u.Key, itoa(u.Count), "", "")
		}
		ips := table{header: []string{"TOP FAILING IP", "FAILURES"}}
		for _, u := range s.TopIPs {
			ips.rows = append(ips.rows, []string{u.Key, itoa(u.Count)})
			add("topIp", u.Key, itoa(u.Count), "", "")
		}
		countries := table{header: []string{"COUNTRY", "ATTEMPTS", "SUCCESSES", "FAILURES"}}
		for _, c := range s.ByCountry {
			countries.rows = append(countries.rows, []string{c.Country, itoa(c.Attempts), itoa(c.Successes), itoa(c.Failures)})
			add("country", c.Country, itoa(c.Attempts), itoa(c.Successes), itoa(c.Failures))
		}
		asns := table{header: []string{"TOP FAILING AS", "ORGANISATION", "FAILURES"}}
		for _, a := range s.TopASNs {
			asns.rows = append(asns.rows, []string{"AS" + itoa(a.ASN), a.Org, itoa(a.Failures)})
			add("topAsn", "AS"+itoa(a.ASN)+" "+a.Org, itoa(a.Failures), "", itoa(a.Failures))
		}
		devices := table{header: []string{"DEVICE TYPE", "ATTEMPTS", "SUCCESSES", "FAILURES"}}
		for _, d := range s.ByDeviceType {
			devices.rows = append(devices.rows, []string{d.DeviceType, itoa(d.Attempts), itoa(d.Successes), itoa(d.Failures)})
			add("deviceType", d.DeviceType, itoa(d.Attempts), itoa(d.Successes), itoa(d.Failures))
		}
		series := table{title: "Attempts by " + s.Interval + " (empty " + s.Interval + "s left out)",
			header: []string{"FROM (UTC)", "SUCCESSES", "FAILURES", "OF WHICH REFUSED", "WOULD REFUSE", "BREACHED PASSWORD"}}
		for _, b := range s.Series {
			if b.Successes+b.Failures > 0 {
				series.rows = append(series.rows, []string{b.Start.UTC().Format("2006-01-02 15:04"), itoa(b.Successes), itoa(b.Failures), itoa(b.Refused),
					itoa(b.WouldRefuse), itoa(b.Breached)})
			}
			add("series", b.Start.UTC().Format(time.RFC3339), itoa(b.Successes+b.Failures), itoa(b.Successes), itoa(b.Failures))
		}
		hours := table{header: []string{"HOUR (UTC)", "ATTEMPTS"}}
		for h, n := range s.ByHour {
			add("hour", fmt.Sprintf("%02d", h), itoa(n), "", "")
			if n > 0 {
				hours.rows = append(hours.rows, []string{fmt.Sprintf("%02d:00", h), itoa(n)})
			}
		}
		return e.show(raw, long, summary, flagged, reasons, users, ips, countries, asns, devices, series, hours)
	}
}

func usersCmd(fs *flag.FlagSet) runFunc {
	search := fs.String("search", "", "part of the identity, any case")
	page := fs.Int("page", 0, "page number, from 0")
	size := fs.Int("size", 20, "page size, at most 1000")
	return func(ctx context.Context, e *env, _ []string) error {
		q := url.Values{"page": {strconv.Itoa(*page)}, "size": {strconv.Itoa(*size)}}
		if *search != "" {
			q.Set("search", *search)
		}
		var p api.Page[api.User]
		raw, err := e.call(ctx, http.MethodGet, "/api/v1/users", q, nil, &p)
		if err != nil {
			return err
		}
		// The CSV columns are the JSON names; those added later come last.
		long := table{header: []string{"identity", "source", "displayName", "status", "lastLogin", "lastLogout", "lastFailure",
			"failuresSinceSuccess", "lastIp", "lockedUntil", "lastSeen", "sessionActive", "locked", "permanent", "failures",
			"breachedAttempts", "breachedSuccesses"}}
		human := table{header: []string{"IDENTITY", "STATUS", "LAST LOGIN (UTC)", "LAST LOGOUT", "LAST FAILURE", "FAILURES", "LAST IP",
			"LAST SEEN", "SESSION", "BREACHED PW (OK)"}}
		for _, u := range p.Content {
			locked, failures := "", ""
			if u.Locked != nil {
				locked = strconv.FormatBool(*u.Locked)
			}
			if u.Failures != nil {
				failures = strconv.Itoa(*u.Failures)
			}
			long.rows = append(long.rows, []string{u.Identity, string(u.Source), u.DisplayName, u.Status, isoTime(u.LastLogin),
				isoTime(u.LastLogout), isoTime(u.LastFailure), itoa(u.FailuresSinceSuccess), u.LastIP, isoTime(u.LockedUntil),
				isoTime(u.LastSeen), strconv.FormatBool(u.SessionActive), locked, strconv.FormatBool(u.Permanent), failures,
				itoa(u.BreachedAttempts), itoa(u.BreachedSuccesses)})
			status := u.Status
			if u.Status == api.StatusLocked {
				status += " until " + humanTime(u.LockedUntil)
				if u.Permanent || u.LockedUntil == nil {
					status = api.StatusLocked + " (permanent)"
				}
			}
			session := "-"
			if u.SessionActive {
				session = "active"
			}
			human.rows = append(human.rows, []string{u.Identity, status, humanTime(u.LastLogin), humanTime(u.LastLogout),
				humanTime(u.LastFailure), itoa(u.FailuresSinceSuccess), u.LastIP, humanTime(u.LastSeen), session, breachedCell(u)})
		}
		if err := e.show(raw, long, human); err != nil {
			return err
		}
		if e.output == "table" {
			fmt.Fprintf(e.out, "\npage %d of %d (%d users)\n", p.Number, p.TotalPages, p.TotalElements)
		}
		return nil
	}
}

// breachedCell is a user's breached-password attempts and, in brackets, the
// successful ones: "3 (2)"; "-" when none.
func breachedCell(u api.User) string {
	if u.BreachedAttempts == 0 {
		return "-"
	}
	return itoa(u.BreachedAttempts) + " (" + itoa(u.BreachedSuccesses) + ")"
}

func suspiciousCmd(fs *flag.FlagSet) runFunc {
	window := fs.String("window", "", "how far back to look, e.g. 1h (default), 24h, 7d")
	since := fs.String("since", "", "look back to this date instead of --window")
	minFail := fs.Int("min-ip-failures", 0, "failures that make an IP suspicious (default 10)")
	minIPs := fs.Int("min-account-ips", 0, "distinct IPs that make an account attacked (default 3)")
	minAccts := fs.Int("min-ip-accounts", 0, "distinct accounts that make an IP spraying (default 3)")
	limit := fs.Int("limit", 0, "most entries per list (default 100)")
	return func(ctx context.Context, e *env, _ []string) error {
		q := url.Values{}
		if *window != "" {
			q.Set("window", *window)
		}
		if *since != "" {
			q.Set("since", *since)
		}
		for k, v := range map[string]int{"minIpFailures": *minFail, "minAccountIps": *minIPs, "minIpAccounts": *minAccts, "limit": *limit} {
			if v != 0 {
				q.Set(k, strconv.Itoa(v))
			}
		}
		var s api.Suspicious
		raw, err := e.call(ctx, http.MethodGet, "/api/v1/suspicious", q, nil, &s)
		if err != nil {
			return err
		}
		long := table{header: []string{"kind", "key", "failures", "distinct", "last"}}
		since := s.Since.UTC().Format("2006-01-02 15:04:05")
		failing := table{title: fmt.Sprintf("IPs with at least %d failures since %s UTC", s.MinIPFailures, since),
			header: []string{"IP", "FAILURES", "ACCOUNTS", "LAST (UTC)"}}
		for _, x := range s.FailingIPs {
			failing.rows = append(failing.rows, []string{x.IP, itoa(x.Failures), itoa(x.Accounts), humanTime(&x.Last)})
			long.rows = append(long.rows, []string{"failingIp", x.IP, itoa(x.Failures), itoa(x.Accounts), isoTime(&x.Last)})
		}
		attacked := table{title: fmt.Sprintf("Accounts that failed from at least %d IPs", s.MinAccountIPs),
			header: []string{"ACCOUNT", "FAILURES", "IPS", "LAST (UTC)"}}
		for _, x := range s.AttackedAccounts {
			attacked.rows = append(attacked.rows, []string{x.Identity, itoa(x.Failures), itoa(x.IPs), humanTime(&x.Last)})
			long.rows = append(long.rows, []string{"attackedAccount", x.Identity, itoa(x.Failures), itoa(x.IPs), isoTime(&x.Last)})
		}
		spraying := table{title: fmt.Sprintf("IPs that tried at least %d accounts", s.MinIPAccounts),
			header: []string{"IP", "FAILURES", "ACCOUNTS", "LAST (UTC)"}}
		for _, x := range s.SprayingIPs {
			spraying.rows = append(spraying.rows, []string{x.IP, itoa(x.Failures), itoa(x.Accounts), humanTime(&x.Last)})
			long.rows = append(long.rows, []string{"sprayingIp", x.IP, itoa(x.Failures), itoa(x.Accounts), isoTime(&x.Last)})
		}
		return e.show(raw, long, failing, attacked, spraying)
	}
}

// until describes the end of a lock or block for a table.
func until(permanent bool, t time.Time) string {
	if permanent || t.IsZero() {
		return "permanent"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func lockoutsCmd(*flag.FlagSet) runFunc {
	return func(ctx context.Context, e *env, _ []string) error {
		var l api.Lockouts
		raw, err := e.call(ctx, http.MethodGet, "/api/v1/lockouts", nil, nil, &l)
		if err != nil {
			return err
		}
		long := table{header: []string{"kind", "key", "permanent", "until", "failures"}}
		accts := table{header: []string{"LOCKED ACCOUNT", "UNTIL (UTC)", "FAILURES", "BY"}}
		for _, a := range l.Accounts {
			by := "policy"
			if a.AdminLock {
				by = "admin"
			}
			accts.rows = append(accts.rows, []string{a.Account, until(a.Permanent, a.LockedUntil), strconv.Itoa(a.Failures), by})
			long.rows = append(long.rows, []string{"account", a.Account, strconv.FormatBool(a.Permanent), isoTime(&a.LockedUntil), strconv.Itoa(a.Failures)})
		}
		ips := table{header: []string{"BLOCKED IP", "UNTIL (UTC)"}}
		for _, b := range l.IPs {
			ips.rows = append(ips.rows, []string{b.CIDR, until(b.Permanent, b.Until)})
			long.rows = append(long.rows, []string{"ip", b.CIDR, strconv.FormatBool(b.Permanent), isoTime(&b.Until), ""})
		}
		return e.show(raw, long, accts, ips)
	}
}

func lockCmd(fs *flag.FlagSet) runFunc {
	dur := fs.String("duration", "", `how long, e.g. 15m (default), 2h, 7d, or "permanent"`)
	return func(ctx context.Context, e *env, pos []string) error {
		body := api.LockRequest{Principal: pos[0], Duration: *dur}
		var st state.AccountStatus
		raw, err := e.call(ctx, http.MethodPost, "/api/v1/lockouts/accounts", nil, body, &st)
		if err != nil {
			return err
		}
		long := table{header: []string{"account", "locked", "permanent", "lockedUntil"},
			rows: [][]string{{st.Account, strconv.FormatBool(st.Locked), strconv.FormatBool(st.Permanent), isoTime(&st.LockedUntil)}}}
		msg := table{header: []string{"LOCKED", "UNTIL (UTC)"}, rows: [][]string{{st.Account, until(st.Permanent, st.LockedUntil)}}}
		return e.show(raw, long, msg)
	}
}

func unlockCmd(*flag.FlagSet) runFunc {
	return func(ctx context.Context, e *env, pos []string) error {
		var a api.UnlockResult
		raw, err := e.call(ctx, http.MethodDelete, "/api/v1/lockouts/accounts/"+url.PathEscape(pos[0]), nil, nil, &a)
		if err != nil {
			return err
		}
		long := table{header: []string{"account", "wasLocked"}, rows: [][]string{{a.Account, strconv.FormatBool(a.WasLocked)}}}
		result := "unlocked"
		if !a.WasLocked {
			result = "was not locked; failures cleared"
		}
		return e.show(raw, long, table{header: []string{"ACCOUNT", "RESULT"}, rows: [][]string{{a.Account, result}}})
	}
}

func blockCmd(fs *flag.FlagSet) runFunc {
	dur := fs.String("duration", "", `how long, e.g. 15m (default), 2h, 7d, or "permanent"`)
	force := fs.Bool("force", false, "block a range wider than /16 (IPv4) or /48 (IPv6), or one that covers your own address")
	return func(ctx context.Context, e *env, pos []string) error {
		body := api.BlockRequest{IP: pos[0], Duration: *dur, Force: *force}
		if strings.Contains(pos[0], "/") {
			body = api.BlockRequest{CIDR: pos[0], Duration: *dur, Force: *force}
		}
		var b state.IPBlock
		raw, err := e.call(ctx, http.MethodPost, "/api/v1/lockouts/ips", nil, body, &b)
		if err != nil {
			return err
		}
		long := table{header: []string{"cidr", "permanent", "until"}, rows: [][]string{{b.CIDR, strconv.FormatBool(b.Permanent), isoTime(&b.Until)}}}
		return e.show(raw, long, table{header: []string{"BLOCKED", "UNTIL (UTC)"}, rows: [][]string{{b.CIDR, until(b.Permanent, b.Until)}}})
	}
}

func unblockCmd(*flag.FlagSet) runFunc {
	return func(ctx context.Context, e *env, pos []string) error {
		var a api.UnblockResult
		raw, err := e.call(ctx, http.MethodDelete, "/api/v1/lockouts/ips/"+url.PathEscape(pos[0]), nil, nil, &a)
		if err != nil {
			return err
		}
		long := table{header: []string{"cidr", "unblocked"}, rows: [][]string{{a.CIDR, strconv.FormatBool(a.Unblocked)}}}
		return e.show(raw, long, table{header: []string{"UNBLOCKED"}, rows: [][]string{{a.CIDR}}})
	}
}

func exportCmd(fs *flag.FlagSet) runFunc {
	filters := filterFlags(fs)
	format := fs.String("format", "", "csv (default) or ndjson; ndjson (default) or csv with --subject")
	subject := fs.String("subject", "", "export every event of this identity (a data-access request; admin token)")
	return func(ctx context.Context, e *env, _ []string) error {
		f := strings.ToLower(*format)
		if f != "" && f != "csv" && f != "ndjson" {
			return usagef("--format %q: want csv or ndjson", *format)
		}
		var path string
		var q url.Values
		if *subject != "" {
			if len(filters()) > 0 {
				return usagef("--subject exports every event of one identity: it takes no filters")
			}
			path, q = "/api/v1/privacy/export", url.Values{"principal": {*subject}}
			if f == "" {
				f = "ndjson"
			}
		} else {
			path, q = "/api/v1/login-logs", filters()
			if f == "" {
				f = "csv"
			}
		}
		q.Set("format", f)
		resp, err := e.do(ctx, http.MethodGet, path, q, nil, "")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(e.out, resp.Body); err != nil {
			return fmt.Errorf("export cut short: %w", err)
		}
		return nil
	}
}

func connectorsCmd(*flag.FlagSet) runFunc {
	return func(ctx context.Context, e *env, _ []string) error {
		var a api.Connectors
		raw, err := e.call(ctx, http.MethodGet, "/api/v1/connectors", nil, nil, &a)
		if err != nil {
			return err
		}
		long := table{header: []string{"name", "active", "queued", "delivered", "failed", "dropped", "lastError", "lastErrorAt"}}
		human := table{header: []string{"CONNECTOR", "QUEUED", "DELIVERED", "FAILED", "DROPPED", "LAST ERROR"}}
		for _, c := range a.Connectors {
			u := strconv.FormatUint
			long.rows = append(long.rows, []string{c.Name, strconv.FormatBool(c.Active), strconv.Itoa(c.Queued), u(c.Delivered, 10),
				u(c.Failed, 10), u(c.Dropped, 10), c.LastError, isoTime(c.LastErrorAt)})
			last := "-"
			if c.LastError != "" {
				last = humanTime(c.LastErrorAt) + " " + truncate(c.LastError, 60)
			}
			human.rows = append(human.rows, []string{c.Name, strconv.Itoa(c.Queued), u(c.Delivered, 10), u(c.Failed, 10), u(c.Dropped, 10), last})
		}
		return e.show(raw, long, human)
	}
}

func eraseCmd(fs *flag.FlagSet) runFunc {
	pseudonym := fs.String("pseudonym", "", "replace the identity with this name instead of erasing it")
	yes := fs.Bool("yes", false, "confirm: the erasure cannot be undone")
	return func(ctx context.Context, e *env, pos []string) error {
		if !*yes {
			return usagef("erasing %q cannot be undone: add --yes to confirm", pos[0])
		}
		body := api.EraseRequest{Principal: pos[0], Pseudonym: *pseudonym}
		var a api.EraseResult
		raw, err := e.call(ctx, http.MethodPost, "/api/v1/privacy/erase", nil, body, &a)
		if err != nil {
			return err
		}
		long := table{header: []string{"principal", "pseudonymised", "events"},
			rows: [][]string{{a.Principal, strconv.FormatBool(a.Pseudonymised), itoa(a.Events)}}}
		how := "erased"
		if a.Pseudonymised {
			how = "pseudonymised"
		}
		return e.show(raw, long, table{header: []string{"IDENTITY", "RESULT", "EVENTS"}, rows: [][]string{{a.Principal, how, itoa(a.Events)}}})
	}
}
