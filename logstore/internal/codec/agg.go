package codec

import (
	"cmp"
	"slices"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// StatsAcc accumulates Stats from hour rollups and from raw events.
type StatsAcc struct {
	From, To time.Time
	Interval logstore.Interval
	// S, F and R count successful, failed and refused attempts; W the
	// refusals a route in monitor mode did not make; B the attempts with a
	// breached password and BS the successful ones among them; E the events
	// behind them all.
	S, F, R, W, B, BS, E    int64
	reasons, refused, would map[event.Reason]int64
	series                  map[int64]*logstore.Bucket
	byHour                  [24]int64
	// Users counts attempts per identity id; IPs failures per IP id.
	Users, IPs *Counter
}

// denseMax bounds the ids a Counter keeps in its slice; larger ids go to a map.
const denseMax = 1 << 22

// Counter counts per id. Ids are dense dictionary ids, so a slice indexed by
// id is far cheaper than a map when millions of counts are added.
type Counter struct {
	d []int64
	m map[int64]int64
}

// Add adds n to id.
func (c *Counter) Add(id, n int64) {
	if id >= 0 && id < denseMax {
		if int(id) >= len(c.d) {
			c.d = slices.Grow(c.d, max(int(id)+1, 2*len(c.d))-len(c.d))
			c.d = c.d[:cap(c.d)]
		}
		c.d[id] += n
		return
	}
	if c.m == nil {
		c.m = map[int64]int64{}
	}
	c.m[id] += n
}

// Get returns the count of id.
func (c *Counter) Get(id int64) int64 {
	if id >= 0 && int(id) < len(c.d) {
		return c.d[id]
	}
	return c.m[id]
}

// Each calls fn for every id with a non-zero count.
func (c *Counter) Each(fn func(id, n int64)) {
	for id, n := range c.d {
		if n != 0 {
			fn(int64(id), n)
		}
	}
	for id, n := range c.m {
		if n != 0 {
			fn(id, n)
		}
	}
}

// NewStatsAcc returns an empty accumulator for [from, to).
func NewStatsAcc(from, to time.Time, iv logstore.Interval) *StatsAcc {
	return &StatsAcc{From: from.UTC(), To: to.UTC(), Interval: iv, reasons: map[event.Reason]int64{},
		refused: map[event.Reason]int64{}, would: map[event.Reason]int64{},
		series: map[int64]*logstore.Bucket{}, Users: &Counter{}, IPs: &Counter{}}
}

func (a *StatsAcc) bucket(ms int64) *logstore.Bucket {
	t := time.UnixMilli(ms).UTC()
	if a.Interval == logstore.Day {
		t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	} else {
		t = t.Truncate(time.Hour)
	}
	b := a.series[t.UnixMilli()]
	if b == nil {
		b = &logstore.Bucket{Start: t}
		a.series[t.UnixMilli()] = b
	}
	return b
}

// AddCount adds events events of code at ms, standing for n attempts, to the
// totals, series and hours.
func (a *StatsAcc) AddCount(ms, code, events, n int64) {
	var b *logstore.Bucket
	switch code & TypeMask {
	case SuccessCode:
		a.S += n
		b = a.bucket(ms)
		b.Successes += n
		if Breached(code) {
			a.BS += n
		}
	case FailureCode:
		a.F += n
		b = a.bucket(ms)
		b.Failures += n
		if r := ReasonOf(code); r != "" {
			a.reasons[r] += n
			if logstore.IsRefusal(r) && !HasWouldRefuse(code) {
				a.R += n
				a.refused[r] += n
				b.Refused += n
			}
		}
	default:
		return
	}
	if HasWouldRefuse(code) {
		a.W += n
		b.WouldRefuse += n
		if r := WouldRefuseOf(code); r != "" {
			a.would[r] += n
		}
	}
	if Breached(code) {
		a.B += n
		b.Breached += n
	}
	a.E += events
	a.byHour[time.UnixMilli(ms).UTC().Hour()] += n
}

// AddKeyed adds one raw event's identity and IP to the top lists: n
// attempts (event.Event.Attempts).
func (a *StatsAcc) AddKeyed(code, ident, ip, n int64) {
	switch code & TypeMask {
	case SuccessCode:
	case FailureCode:
		if ip != 0 {
			a.IPs.Add(ip, n)
		}
	default:
		return
	}
	if ident != 0 {
		a.Users.Add(ident, n)
	}
}

// Result builds the Stats; names resolves identity and IP ids (unknown or erased
// ids are skipped).
func (a *StatsAcc) Result(top int, names func(ids []int64) (map[int64]string, error)) (logstore.Stats, error) {
	st := logstore.Stats{From: a.From, To: a.To, Successes: a.S, Failures: a.F, Total: a.S + a.F, Refused: a.R, WouldRefuse: a.W,
		Breached: a.B, BreachedSuccesses: a.BS, Events: a.E, ByHour: a.byHour}
	if st.Total > 0 {
		st.SuccessRate = float64(a.S) / float64(st.Total)
	}
	st.ByReason, st.RefusedByReason, st.WouldRefuseByReason = ReasonCounts(a.reasons), ReasonCounts(a.refused), ReasonCounts(a.would)
	if !a.From.IsZero() && !a.To.IsZero() && a.To.After(a.From) {
		step := time.Hour
		start := a.From.Truncate(time.Hour)
		if a.Interval == logstore.Day {
			step = 24 * time.Hour
			start = time.Date(a.From.Year(), a.From.Month(), a.From.Day(), 0, 0, 0, 0, time.UTC)
		}
		for t := start; t.Before(a.To) && len(st.Series) < 100000; t = t.Add(step) {
			b := logstore.Bucket{Start: t}
			if x := a.series[t.UnixMilli()]; x != nil {
				b = *x
			}
			st.Series = append(st.Series, b)
		}
	} else {
		for _, b := range a.series {
			st.Series = append(st.Series, *b)
		}
		slices.SortFunc(st.Series, func(x, y logstore.Bucket) int { return x.Start.Compare(y.Start) })
	}
	var err error
	if st.TopUsers, err = topOf(a.Users, top, names); err != nil {
		return st, err
	}
	if st.TopIPs, err = topOf(a.IPs, top, names); err != nil {
		return st, err
	}
	return st, nil
}

// ReasonCounts returns the counts of m, most first, then by reason; nil when
// m is empty.
func ReasonCounts(m map[event.Reason]int64) []logstore.ReasonCount {
	var out []logstore.ReasonCount
	for r, n := range m {
		out = append(out, logstore.ReasonCount{Reason: r, Count: n})
	}
	slices.SortFunc(out, func(x, y logstore.ReasonCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Reason, y.Reason))
	})
	return out
}

type kc struct{ k, c int64 }

// topOf returns the top n counts of m by count (then id), resolving names.
func topOf(m *Counter, n int, names func([]int64) (map[int64]string, error)) ([]logstore.Count, error) {
	if n <= 0 {
		return []logstore.Count{}, nil
	}
	// Keep the best n+32 (erased identities are skipped when resolving).
	keep := n + 32
	var all []kc
	byCount := func(x, y kc) int { return cmp.Or(cmp.Compare(y.c, x.c), cmp.Compare(x.k, y.k)) }
	m.Each(func(k, c int64) {
		all = append(all, kc{k, c})
		if len(all) >= 4*keep {
			slices.SortFunc(all, byCount)
			all = all[:keep]
		}
	})
	slices.SortFunc(all, byCount)
	out := []logstore.Count{}
	for len(all) > 0 && len(out) < n {
		// Resolve a few more than needed: erased identities are skipped.
		w := all[:min(len(all), n-len(out)+8)]
		all = all[len(w):]
		ids := make([]int64, len(w))
		for i, x := range w {
			ids[i] = x.k
		}
		nm, err := names(ids)
		if err != nil {
			return nil, err
		}
		for _, x := range w {
			if s, ok := nm[x.k]; ok && len(out) < n {
				out = append(out, logstore.Count{Key: s, Count: x.c})
			}
		}
	}
	slices.SortStableFunc(out, func(x, y logstore.Count) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Key, y.Key))
	})
	return out, nil
}

// User is a UserSummary under construction, with ids instead of strings.
type User struct {
	ID, Source                       int64
	Seen, Login, Logout, Failure, IP int64 // ms, or 0; IP an id
	Fails, Disp                      int64
	// Breached counts the attempts with a breached password, BreachedOK
	// the successful ones among them (UserSummary.BreachedAttempts and
	// BreachedSuccesses).
	Breached, BreachedOK                  int64
	HasSeen, HasLogin, HasLogout, HasFail bool
}

// Apply folds one event (in key order, mostly), standing for n attempts
// (event.Event.Attempts), into u.
func (u *User) Apply(code, ms, ip, disp, n int64) {
	if !u.HasSeen || ms >= u.Seen {
		u.Seen, u.HasSeen = ms, true
		if ip != 0 {
			u.IP = ip
		}
		if disp != 0 {
			u.Disp = disp
		}
		u.Source = code >> SourceShift & 3
	}
	if t := code & TypeMask; Breached(code) && (t == SuccessCode || t == FailureCode) {
		u.Breached += n
		if t == SuccessCode {
			u.BreachedOK += n
		}
	}
	switch code & TypeMask {
	case SuccessCode:
		if !u.HasLogin || ms > u.Login {
			u.Login, u.HasLogin, u.Fails = ms, true, 0
		}
	case FailureCode:
		if !u.HasFail || ms > u.Failure {
			u.Failure, u.HasFail = ms, true
		}
		if !u.HasLogin || ms > u.Login {
			u.Fails += n
		}
	case TypeCode(event.Logout):
		if !u.HasLogout || ms > u.Logout {
			u.Logout, u.HasLogout = ms, true
		}
	}
}

// Summary converts u, given the identity, IP and display name strings.
func (u *User) Summary(identity, ip, disp string) logstore.UserSummary {
	s := logstore.UserSummary{Identity: identity, LastIP: ip, DisplayName: disp, FailuresSinceSuccess: u.Fails,
		BreachedAttempts: u.Breached, BreachedSuccesses: u.BreachedOK}
	if int(u.Source) < len(sources) {
		s.Source = sources[u.Source]
	}
	at := func(ok bool, ms int64) time.Time {
		if !ok {
			return time.Time{}
		}
		return time.UnixMilli(ms).UTC()
	}
	s.LastSeen, s.LastLogin, s.LastLogout, s.LastFailure = at(u.HasSeen, u.Seen), at(u.HasLogin, u.Login), at(u.HasLogout, u.Logout), at(u.HasFail, u.Failure)
	s.Active = u.HasLogin && (!u.HasLogout || u.Login > u.Logout)
	return s
}

// SuspAcc accumulates failures for Suspicious.
type SuspAcc struct {
	ipFail, ipLast, acFail, acLast map[int64]int64
	ipAcc, acIP                    map[int64]map[int64]struct{}
}

// NewSuspAcc returns an empty accumulator.
func NewSuspAcc() *SuspAcc {
	return &SuspAcc{ipFail: map[int64]int64{}, ipLast: map[int64]int64{}, acFail: map[int64]int64{}, acLast: map[int64]int64{},
		ipAcc: map[int64]map[int64]struct{}{}, acIP: map[int64]map[int64]struct{}{}}
}

// Add adds one failed event at ms by identity ident (0: none) from ip (0:
// none), standing for n failed attempts (event.Event.Attempts).
func (a *SuspAcc) Add(ms, ident, ip, n int64) {
	if ip != 0 {
		a.ipFail[ip] += n
		a.ipLast[ip] = max(a.ipLast[ip], ms)
		if ident != 0 {
			addSet(a.ipAcc, ip, ident)
		}
	}
	if ident != 0 {
		a.acFail[ident] += n
		a.acLast[ident] = max(a.acLast[ident], ms)
		if ip != 0 {
			addSet(a.acIP, ident, ip)
		}
	}
}

func addSet(m map[int64]map[int64]struct{}, k, v int64) {
	s := m[k]
	if s == nil {
		s = map[int64]struct{}{}
		m[k] = s
	}
	s[v] = struct{}{}
}

// Result applies the thresholds of q and resolves ids with names.
func (a *SuspAcc) Result(q logstore.SuspiciousQuery, names func([]int64) (map[int64]string, error)) (logstore.Suspicious, error) {
	out := logstore.Suspicious{Since: q.Since.UTC(), FailingIPs: []logstore.SuspectIP{}, AttackedAccounts: []logstore.SuspectAccount{}, SprayingIPs: []logstore.SuspectIP{}}
	var fail, spray, acc []int64
	for ip, n := range a.ipFail {
		if n >= int64(q.MinIPFailures) {
			fail = append(fail, ip)
		}
		if int64(len(a.ipAcc[ip])) >= int64(q.MinIPAccounts) {
			spray = append(spray, ip)
		}
	}
	for id := range a.acFail {
		if len(a.acIP[id]) >= q.MinAccountIPs {
			acc = append(acc, id)
		}
	}
	by := func(score func(int64) int64) func(x, y int64) int {
		return func(x, y int64) int { return cmp.Or(cmp.Compare(score(y), score(x)), cmp.Compare(x, y)) }
	}
	slices.SortFunc(fail, by(func(ip int64) int64 { return a.ipFail[ip] }))
	slices.SortFunc(spray, by(func(ip int64) int64 { return int64(len(a.ipAcc[ip])) }))
	slices.SortFunc(acc, by(func(id int64) int64 { return int64(len(a.acIP[id])) }))
	fail, spray, acc = fail[:min(len(fail), q.Limit)], spray[:min(len(spray), q.Limit)], acc[:min(len(acc), q.Limit)]
	ids := append(append(append([]int64{}, fail...), spray...), acc...)
	nm, err := names(ids)
	if err != nil {
		return out, err
	}
	ipOf := func(ip int64) logstore.SuspectIP {
		return logstore.SuspectIP{IP: nm[ip], Failures: a.ipFail[ip], Accounts: int64(len(a.ipAcc[ip])), Last: time.UnixMilli(a.ipLast[ip]).UTC()}
	}
	for _, ip := range fail {
		out.FailingIPs = append(out.FailingIPs, ipOf(ip))
	}
	for _, ip := range spray {
		out.SprayingIPs = append(out.SprayingIPs, ipOf(ip))
	}
	for _, id := range acc {
		if s, ok := nm[id]; ok {
			out.AttackedAccounts = append(out.AttackedAccounts, logstore.SuspectAccount{Identity: s, Failures: a.acFail[id], IPs: int64(len(a.acIP[id])), Last: time.UnixMilli(a.acLast[id]).UTC()})
		}
	}
	return out, nil
}

// Merge returns u updated with d, the summary of newer events.
func (u *User) Merge(d *User) *User {
	out := *u
	out.Breached, out.BreachedOK = u.Breached+d.Breached, u.BreachedOK+d.BreachedOK
	if d.HasSeen && (!u.HasSeen || d.Seen >= u.Seen) {
		out.Seen, out.HasSeen, out.Source = d.Seen, true, d.Source
		if d.IP != 0 {
			out.IP = d.IP
		}
		if d.Disp != 0 {
			out.Disp = d.Disp
		}
	}
	if d.HasLogout && (!u.HasLogout || d.Logout > u.Logout) {
		out.Logout, out.HasLogout = d.Logout, true
	}
	if d.HasFail && (!u.HasFail || d.Failure > u.Failure) {
		out.Failure, out.HasFail = d.Failure, true
	}
	switch {
	case d.HasLogin && (!u.HasLogin || d.Login > u.Login):
		out.Login, out.HasLogin, out.Fails = d.Login, true, d.Fails
	default:
		out.Fails += d.Fails
	}
	return &out
}
