package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// sampledCases check that a sampled refusal counts the attempts it stands
// for (event.Event.Count) wherever attempts are counted. Under a flood the
// gateway stores one RATE_LIMITED or LOCKED event per key and sample
// interval, whose count carries the refusals suppressed since the previous
// one: here 40. Each case works on a day of its own after the data set, with
// identities and addresses of its own.
var sampledCases = []struct {
	name string
	fn   func(h *harness, day time.Time)
}{
	{"StatsCountsAttempts", sampledStats},
	{"FailuresSinceSuccess", sampledUsers},
	{"Suspicious", sampledSuspicious},
	{"ReadBack", sampledReadBack},
	{"DeleteBefore", sampledDeleteBefore}, // last: it deletes the days before its own
}

// testSampledRefusals runs sampledCases.
func testSampledRefusals(h *harness) {
	t := h.t
	for i, c := range sampledCases {
		t.Run(c.name, func(t *testing.T) {
			hc := *h
			hc.t = t
			c.fn(&hc, Base.Add(time.Duration(100+24*i)*time.Hour))
		})
	}
}

// sampled returns a sampled refusal standing for count attempts.
func sampled(n int, at time.Time, email string, reason event.Reason, ip string, count int) event.Event {
	e := mk(n, at, email, "", event.LoginFailure, reason, ip)
	e.Count = count
	return e
}

func (h *harness) deliver(evs ...event.Event) {
	h.t.Helper()
	if err := h.s.Deliver(h.ctx, evs); err != nil {
		h.t.Fatalf("deliver: %v", err)
	}
}

// sampledStats: one success and one rate-limited event of count 40 are 41
// attempts, 40 failed and refused, from 2 events; in the totals, the
// series, the reasons, the top lists and the country breakdown, over a whole
// day (the stores' rollups) and over half an hour (their raw events).
func sampledStats(h *harness, day time.Time) {
	t := h.t
	at := day.Add(10*time.Hour + 30*time.Minute)
	ok := mk(7000, at, "flood@example.com", "", event.LoginSuccess, "", "203.0.113.7")
	refused := sampled(7001, at.Add(time.Minute), "flood@example.com", event.RateLimited, "203.0.113.7", 40)
	ok.Country, refused.Country = "NL", "NL"
	h.deliver(ok, refused)
	for _, sp := range []struct {
		name     string
		from, to time.Time
		iv       logstore.Interval
	}{
		{"whole day", day, day.Add(24 * time.Hour), logstore.Day},
		{"whole hours", at.Add(-90 * time.Minute), at.Add(90 * time.Minute), logstore.Hour},
		{"half an hour", at.Add(-15 * time.Minute), at.Add(15 * time.Minute), logstore.Hour},
	} {
		got, err := h.s.Stats(h.ctx, sp.from, sp.to, sp.iv, 5)
		if err != nil {
			t.Fatalf("%s: Stats: %v", sp.name, err)
		}
		if got.Total != 41 || got.Successes != 1 || got.Failures != 40 || got.Refused != 40 || got.Events != 2 {
			t.Fatalf("%s: total/successes/failures/refused/events %d/%d/%d/%d/%d; want 41/1/40/40/2",
				sp.name, got.Total, got.Successes, got.Failures, got.Refused, got.Events)
		}
		rl := []logstore.ReasonCount{{Reason: event.RateLimited, Count: 40}}
		if !reflect.DeepEqual(got.ByReason, rl) || !reflect.DeepEqual(got.RefusedByReason, rl) {
			t.Fatalf("%s: byReason %v refusedByReason %v; want %v for both", sp.name, got.ByReason, got.RefusedByReason, rl)
		}
		var sum logstore.Bucket
		for _, b := range got.Series {
			sum.Successes, sum.Failures, sum.Refused = sum.Successes+b.Successes, sum.Failures+b.Failures, sum.Refused+b.Refused
		}
		if sum.Successes != 1 || sum.Failures != 40 || sum.Refused != 40 {
			t.Fatalf("%s: series add up to %+v; want 1 success, 40 failures, 40 refused", sp.name, sum)
		}
		if h := at.UTC().Hour(); got.ByHour[h] != 41 {
			t.Fatalf("%s: byHour[%d] = %d; want 41", sp.name, h, got.ByHour[h])
		}
		if want := []logstore.Count{{Key: "flood@example.com", Count: 41}}; !reflect.DeepEqual(got.TopUsers, want) {
			t.Fatalf("%s: topUsers %v; want %v", sp.name, got.TopUsers, want)
		}
		if want := []logstore.Count{{Key: "203.0.113.7", Count: 40}}; !reflect.DeepEqual(got.TopIPs, want) {
			t.Fatalf("%s: topIps %v; want %v", sp.name, got.TopIPs, want)
		}
		if want := []logstore.CountryCount{{Country: "NL", Attempts: 41, Successes: 1, Failures: 40}}; !reflect.DeepEqual(got.ByCountry, want) {
			t.Fatalf("%s: byCountry %v; want %v", sp.name, got.ByCountry, want)
		}
	}
	// The page totals of the login log count events, not attempts.
	r, err := h.s.Query(h.ctx, logstore.Filter{From: day, To: day.Add(24 * time.Hour)}, logstore.Page{Size: 5})
	if err != nil || r.TotalElements != 2 {
		t.Fatalf("Query of the day: %d events, %v; want 2", r.TotalElements, err)
	}
}

// sampledUsers: a locked account's sampled refusal of count 40 after a
// success, then one wrong password, are 41 failures since success; an
// identity with only a sampled refusal has its 40.
func sampledUsers(h *harness, day time.Time) {
	t := h.t
	at := day.Add(3 * time.Hour)
	h.deliver(
		mk(7100, at, "locked-out@example.com", "", event.LoginSuccess, "", "203.0.113.8"),
		sampled(7101, at.Add(time.Minute), "locked-out@example.com", event.Locked, "203.0.113.8", 40),
		mk(7102, at.Add(2*time.Minute), "locked-out@example.com", "", event.LoginFailure, event.BadCredentials, "203.0.113.8"),
		sampled(7103, at.Add(3*time.Minute), "never-in@example.com", event.RateLimited, "203.0.113.8", 40),
	)
	for id, want := range map[string]int64{"locked-out@example.com": 41, "never-in@example.com": 40} {
		l, _, err := h.s.Users(h.ctx, logstore.UsersFilter{Search: id})
		if err != nil || len(l) != 1 {
			t.Fatalf("Users(%q): %+v, %v", id, l, err)
		}
		if l[0].FailuresSinceSuccess != want {
			t.Fatalf("Users(%q): failuresSinceSuccess %d; want %d", id, l[0].FailuresSinceSuccess, want)
		}
	}
}

// sampledSuspicious: a sampled refusal of a locked account (a guessing
// reason) of count 40 is 40 failures of its address and account.
func sampledSuspicious(h *harness, day time.Time) {
	t := h.t
	at := day.Add(5 * time.Hour)
	const ip = "203.0.113.9"
	h.deliver(sampled(7200, at, "target@example.com", event.Locked, ip, 40))
	find := func(min int) *logstore.SuspectIP {
		got, err := h.s.Suspicious(h.ctx, logstore.SuspiciousQuery{Since: day, MinIPFailures: min, MinAccountIPs: 1, MinIPAccounts: 1})
		if err != nil {
			t.Fatalf("Suspicious: %v", err)
		}
		for _, a := range got.AttackedAccounts {
			if a.Identity == "target@example.com" && a.Failures != 40 {
				t.Fatalf("attacked account %+v; want 40 failures", a)
			}
		}
		for _, s := range got.FailingIPs {
			if s.IP == ip {
				return &s
			}
		}
		return nil
	}
	s := find(40)
	if s == nil || s.Failures != 40 || s.Accounts != 1 || !s.Last.Equal(at) {
		t.Fatalf("failing IP %s at 40 failures: %+v; want 40 failures on 1 account, last %v", ip, s, at)
	}
	if s := find(41); s != nil {
		t.Fatalf("failing IP %s at 41 failures: %+v; want none", ip, s)
	}
}

// sampledReadBack: the count is stored and read back, by Get and Query.
func sampledReadBack(h *harness, day time.Time) {
	t := h.t
	e := sampled(7300, day.Add(time.Hour), "readback@example.com", event.RateLimited, "203.0.113.10", 40)
	h.deliver(e)
	got, ok, err := h.s.Get(h.ctx, e.ID)
	if err != nil || !ok || got.Count != 40 {
		t.Fatalf("Get: count %d, %v %v; want 40", got.Count, ok, err)
	}
	r, err := h.s.Query(h.ctx, logstore.Filter{Email: "readback@example.com"}, logstore.Page{})
	if err != nil || len(r.Content) != 1 || r.Content[0].Count != 40 {
		t.Fatalf("Query: %+v, %v; want one event of count 40", r.Content, err)
	}
}

// sampledDeleteBefore: deleting a sampled refusal of count 40 in the middle
// of an hour takes its 40 attempts out of the rollups, and leaves those
// after it in that hour: a success and a sampled refusal of count 5 of the
// same reason (so that the rollups' row of that reason stays).
func sampledDeleteBefore(h *harness, day time.Time) {
	t := h.t
	at := day.Add(2 * time.Hour)
	h.deliver(sampled(7400, at.Add(10*time.Second), "gone@example.com", event.RateLimited, "203.0.113.11", 40),
		mk(7401, at.Add(30*time.Minute), "stays@example.com", "", event.LoginSuccess, "", "203.0.113.11"),
		sampled(7402, at.Add(40*time.Minute), "stays@example.com", event.RateLimited, "203.0.113.11", 5))
	if _, err := h.s.DeleteBefore(h.ctx, at.Add(time.Minute), 100); err != nil {
		t.Fatalf("DeleteBefore: %v", err)
	}
	got, err := h.s.Stats(h.ctx, day, day.Add(24*time.Hour), logstore.Hour, 5)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if got.Total != 6 || got.Successes != 1 || got.Refused != 5 || got.Events != 2 {
		t.Fatalf("after DeleteBefore: total/successes/refused/events %d/%d/%d/%d; want 6/1/5/2", got.Total, got.Successes, got.Refused, got.Events)
	}
}
