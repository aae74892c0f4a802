package storetest

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// model is the obvious in-memory implementation the stores are checked against.
type model []event.Event

func match(f logstore.Filter, e *event.Event) bool {
	switch {
	case !f.From.IsZero() && e.EventDate.Before(f.From),
		!f.To.IsZero() && !e.EventDate.Before(f.To),
		f.Email != "" && !strings.EqualFold(event.Value(e.Email), f.Email),
		f.IP != "" && e.RemoteAddress != f.IP,
		f.Status == logstore.StatusSuccess && e.EventType != event.LoginSuccess,
		f.Status == logstore.StatusFailure && e.EventType != event.LoginFailure,
		len(f.EventTypes) > 0 && !slices.Contains(f.EventTypes, e.EventType),
		f.Source != "" && e.Source != f.Source,
		f.PortalID != "" && event.Value(e.PortalID) != f.PortalID,
		f.Reason != "" && e.Reason != f.Reason,
		f.Principal != "" && event.Value(e.Principal) != f.Principal,
		f.Country != "" && !strings.EqualFold(e.Country, f.Country),
		f.ASN != 0 && e.ASN != f.ASN,
		f.DeviceType != "" && e.DeviceType != f.DeviceType,
		f.WouldRefuse == logstore.AnyReason && e.WouldRefuse == "",
		f.WouldRefuse != "" && f.WouldRefuse != logstore.AnyReason && e.WouldRefuse != f.WouldRefuse,
		f.Breached && !e.PasswordBreached:
		return false
	}
	return true
}

// known reports whether r is a reason of this version: the stores count the
// others in no list by reason (they keep them verbatim, for reading back).
func known(r event.Reason) bool {
	_, ok := event.ParseReason(string(r))
	return ok
}

func (m model) sorted(asc bool) model {
	out := slices.Clone(m)
	slices.SortStableFunc(out, func(a, b event.Event) int {
		if asc {
			return a.EventDate.Compare(b.EventDate)
		}
		return b.EventDate.Compare(a.EventDate)
	})
	return out
}

func (m model) filter(f logstore.Filter, asc bool) model {
	var out model
	for _, e := range m.sorted(asc) {
		if match(f, &e) {
			out = append(out, e)
		}
	}
	return out
}

func ids(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func attempt(e *event.Event) bool {
	return e.EventType == event.LoginSuccess || e.EventType == event.LoginFailure
}

func (m model) stats(from, to time.Time, iv logstore.Interval) (logstore.Stats, map[string]int64, map[string]int64) {
	st := logstore.Stats{From: from, To: to}
	users, ips := map[string]int64{}, map[string]int64{}
	reasons, refused, would := map[event.Reason]int64{}, map[event.Reason]int64{}, map[event.Reason]int64{}
	series := map[time.Time]*logstore.Bucket{}
	trunc := func(t time.Time) time.Time {
		t = t.UTC()
		if iv == logstore.Day {
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		}
		return t.Truncate(time.Hour)
	}
	step := time.Hour
	if iv == logstore.Day {
		step = 24 * time.Hour
	}
	for t := trunc(from); t.Before(to); t = t.Add(step) {
		series[t] = &logstore.Bucket{Start: t}
		st.Series = append(st.Series, logstore.Bucket{Start: t})
	}
	for _, e := range m {
		if !attempt(&e) || e.EventDate.Before(from) || !e.EventDate.Before(to) {
			continue
		}
		b := series[trunc(e.EventDate)]
		n := e.Attempts()
		st.Events++
		if e.EventType == event.LoginSuccess {
			st.Successes += n
			b.Successes += n
			if e.PasswordBreached {
				st.BreachedSuccesses += n
			}
		} else {
			st.Failures += n
			b.Failures += n
			if known(e.Reason) {
				reasons[e.Reason] += n
			}
			// A refusal a route in monitor mode did not make is not one.
			if logstore.IsRefusal(e.Reason) && e.WouldRefuse == "" {
				st.Refused += n
				b.Refused += n
				refused[e.Reason] += n
			}
			if e.RemoteAddress != "" {
				ips[e.RemoteAddress] += n
			}
		}
		if e.WouldRefuse != "" {
			st.WouldRefuse += n
			b.WouldRefuse += n
			if known(e.WouldRefuse) {
				would[e.WouldRefuse] += n
			}
		}
		if e.PasswordBreached {
			st.Breached += n
			b.Breached += n
		}
		if id := e.Identity(); id != "" {
			users[id] += n
		}
		st.ByHour[e.EventDate.UTC().Hour()] += n
	}
	st.Total = st.Successes + st.Failures
	if st.Total > 0 {
		st.SuccessRate = float64(st.Successes) / float64(st.Total)
	}
	for i := range st.Series {
		st.Series[i] = *series[st.Series[i].Start]
	}
	st.ByReason, st.RefusedByReason, st.WouldRefuseByReason = byReason(reasons), byReason(refused), byReason(would)
	return st, users, ips
}

// byReason lists the counts of m, most first, then by reason.
func byReason(m map[event.Reason]int64) []logstore.ReasonCount {
	var out []logstore.ReasonCount
	for r, n := range m {
		out = append(out, logstore.ReasonCount{Reason: r, Count: n})
	}
	slices.SortFunc(out, func(x, y logstore.ReasonCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Reason, y.Reason))
	})
	return out
}

func (m model) users() map[string]logstore.UserSummary {
	out := map[string]logstore.UserSummary{}
	for _, e := range m.sorted(true) {
		id := e.Identity()
		if id == "" {
			continue
		}
		u := out[id]
		u.Identity, u.Source, u.LastSeen = id, e.Source, e.EventDate
		if e.RemoteAddress != "" {
			u.LastIP = e.RemoteAddress
		}
		if e.DisplayName != nil {
			u.DisplayName = *e.DisplayName
		}
		if e.PasswordBreached && attempt(&e) {
			u.BreachedAttempts += e.Attempts()
			if e.EventType == event.LoginSuccess {
				u.BreachedSuccesses += e.Attempts()
			}
		}
		switch e.EventType {
		case event.LoginSuccess:
			u.LastLogin, u.FailuresSinceSuccess = e.EventDate, 0
		case event.LoginFailure:
			u.LastFailure = e.EventDate
			u.FailuresSinceSuccess += e.Attempts()
		case event.Logout:
			u.LastLogout = e.EventDate
		}
		u.Active = !u.LastLogin.IsZero() && u.LastLogin.After(u.LastLogout)
		out[id] = u
	}
	return out
}

func (m model) suspicious(q logstore.SuspiciousQuery) logstore.Suspicious {
	ipFail, ipLast, acFail, acLast := map[string]int64{}, map[string]time.Time{}, map[string]int64{}, map[string]time.Time{}
	ipAcc, acIP := map[string]map[string]bool{}, map[string]map[string]bool{}
	for _, e := range m {
		if e.EventType != event.LoginFailure || e.EventDate.Before(q.Since) || !slices.Contains(logstore.GuessingReasons, e.Reason) {
			continue
		}
		ip, id, n := e.RemoteAddress, e.Identity(), e.Attempts()
		if ip != "" {
			ipFail[ip] += n
			ipLast[ip] = later(ipLast[ip], e.EventDate)
			if id != "" {
				set(ipAcc, ip, id)
			}
		}
		if id != "" {
			acFail[id] += n
			acLast[id] = later(acLast[id], e.EventDate)
			if ip != "" {
				set(acIP, id, ip)
			}
		}
	}
	out := logstore.Suspicious{Since: q.Since, FailingIPs: []logstore.SuspectIP{}, AttackedAccounts: []logstore.SuspectAccount{}, SprayingIPs: []logstore.SuspectIP{}}
	for ip, n := range ipFail {
		s := logstore.SuspectIP{IP: ip, Failures: n, Accounts: int64(len(ipAcc[ip])), Last: ipLast[ip]}
		if n >= int64(q.MinIPFailures) {
			out.FailingIPs = append(out.FailingIPs, s)
		}
		if s.Accounts >= int64(q.MinIPAccounts) {
			out.SprayingIPs = append(out.SprayingIPs, s)
		}
	}
	for id, n := range acFail {
		if len(acIP[id]) >= q.MinAccountIPs {
			out.AttackedAccounts = append(out.AttackedAccounts, logstore.SuspectAccount{Identity: id, Failures: n, IPs: int64(len(acIP[id])), Last: acLast[id]})
		}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func set(m map[string]map[string]bool, k, v string) {
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	m[k][v] = true
}

// geoStats returns the location and device breakdowns of the attempts in
// [from, to), the top n of each, most first and ties by key: attempts per
// country and device type, failures per ASN with the organisation most of
// them named.
func (m model) geoStats(from, to time.Time, n int) (countries []logstore.CountryCount, asns []logstore.ASNCount, devices []logstore.DeviceCount) {
	byCountry, byDevice := map[string]*logstore.CountryCount{}, map[string]*logstore.DeviceCount{}
	byASN, orgs := map[int64]int64{}, map[int64]map[string]int64{}
	for _, e := range m {
		if !attempt(&e) || e.EventDate.Before(from) || !e.EventDate.Before(to) {
			continue
		}
		ok, n := e.EventType == event.LoginSuccess, e.Attempts()
		if cc := strings.ToUpper(e.Country); cc != "" {
			c := byCountry[cc]
			if c == nil {
				c = &logstore.CountryCount{Country: cc}
				byCountry[cc] = c
			}
			c.Attempts += n
			if ok {
				c.Successes += n
			} else {
				c.Failures += n
			}
		}
		if dt := e.DeviceType; dt != "" {
			d := byDevice[dt]
			if d == nil {
				d = &logstore.DeviceCount{DeviceType: dt}
				byDevice[dt] = d
			}
			d.Attempts += n
			if ok {
				d.Successes += n
			} else {
				d.Failures += n
			}
		}
		if !ok && e.ASN != 0 {
			byASN[e.ASN] += n
			if e.ASOrg != "" {
				if orgs[e.ASN] == nil {
					orgs[e.ASN] = map[string]int64{}
				}
				orgs[e.ASN][e.ASOrg] += n
			}
		}
	}
	countries, asns, devices = []logstore.CountryCount{}, []logstore.ASNCount{}, []logstore.DeviceCount{}
	for _, c := range byCountry {
		countries = append(countries, *c)
	}
	for _, d := range byDevice {
		devices = append(devices, *d)
	}
	for asn, f := range byASN {
		a := logstore.ASNCount{ASN: asn, Failures: f}
		for org, k := range orgs[asn] {
			if k > orgs[asn][a.Org] || k == orgs[asn][a.Org] && (a.Org == "" || org < a.Org) {
				a.Org = org
			}
		}
		asns = append(asns, a)
	}
	slices.SortFunc(countries, func(x, y logstore.CountryCount) int {
		return cmp.Or(cmp.Compare(y.Attempts, x.Attempts), cmp.Compare(x.Country, y.Country))
	})
	slices.SortFunc(devices, func(x, y logstore.DeviceCount) int {
		return cmp.Or(cmp.Compare(y.Attempts, x.Attempts), cmp.Compare(x.DeviceType, y.DeviceType))
	})
	slices.SortFunc(asns, func(x, y logstore.ASNCount) int {
		return cmp.Or(cmp.Compare(y.Failures, x.Failures), cmp.Compare(x.ASN, y.ASN))
	})
	n = max(n, 0)
	return countries[:min(n, len(countries))], asns[:min(n, len(asns))], devices[:min(n, len(devices))]
}
