// Package alertstest is the conformance suite that every alerts.Windows runs.
// A store's own test calls Run with a Factory. The ops carry their times, so
// the suite moves time by choosing them and never sleeps.
//
// Semantics the suite pins down beyond the doc comments of alerts.Windows:
//   - A time t is within an op's window when At - t < Window: a failure at
//     t0 no longer counts at t0 + Window.
//   - A counting op fires when its count reaches the threshold, and not again
//     for the same rule and subject while At - (last firing) < Cooldown; at
//     exactly Cooldown it fires again if the count is still there. Rules and
//     subjects have cooldowns of their own.
//   - Counts never exceed the threshold, and a store never holds more than
//     the threshold of times or members for a subject.
//   - A member seen again counts once, with its latest time.
//   - TakeTimes counts, then forgets: the next TakeTimes counts 0.
//   - Ops of one Apply are applied in order, and ops of concurrent callers
//     never fire twice for one rule, subject and cooldown.
//   - A store bounded by a number of subjects (Store.Subjects) keeps to it; a
//     store bounded by expiry (Store.Expiry) forgets a subject's times or
//     members within the window plus a minute or two of slack for clocks
//     that differ, and its cooldown within the cooldown plus that slack.
package alertstest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/alerts"
)

// Store is a Windows under test and what the suite may ask of its memory.
type Store struct {
	Windows alerts.Windows
	// Held returns how many times or members the store holds of subject
	// under rule.
	Held func(rule, subject string) int
	// Subjects returns how many subjects the store holds under rule; nil
	// when the store bounds them by expiry instead.
	Subjects func(rule string) int
	// Expiry returns how long the store keeps what it holds of subject under
	// rule if nothing else happens (its time to live: Redis's PTTL), or a
	// negative duration for forever; nil when the store bounds subjects by
	// number instead. One of Subjects and Expiry must be set.
	Expiry func(rule, subject string) time.Duration
}

// Factory makes a fresh, empty store that remembers at most maxKeys subjects
// per rule (if it bounds subjects by number). It registers its cleanup with
// t.Cleanup.
type Factory func(t *testing.T, maxKeys int) Store

// Run runs the whole suite as subtests of t. Each subtest has its own store
// and its own subject names (with a random run id), so the suite also works
// against a shared server.
func Run(t *testing.T, newStore Factory) {
	t.Helper()
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatalf("random run id: %v", err)
	}
	run := hex.EncodeToString(id[:])
	// Near the real time, in whole seconds: stores may expire keys on their
	// own clock, as garbage collection.
	start := time.Now().UTC().Truncate(time.Second)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, 100)
			if s.Windows == nil {
				t.Fatal("factory returned no windows")
			}
			tc.fn(&harness{t: t, s: s, t0: start, prefix: run + ":" + tc.name + ":"})
		})
	}
}

var cases = []struct {
	name string
	fn   func(h *harness)
}{
	{"FiresOnceAtThreshold", testFiresOnce},
	{"SlidingWindow", testSlidingWindow},
	{"KeepsThresholdTimes", testKeepsThresholdTimes},
	{"DistinctMembers", testDistinctMembers},
	{"MembersLatestTime", testMembersLatestTime},
	{"MembersKeepThreshold", testMembersKeepThreshold},
	{"NoteAndTake", testNoteAndTake},
	{"Cooldown", testCooldown},
	{"ClaimIgnoresThreshold", testClaim},
	{"CooldownPerRuleAndSubject", testCooldownPerRuleAndSubject},
	{"RulesCountApart", testRulesCountApart},
	{"OrderWithinApply", testOrderWithinApply},
	{"ConcurrentCallers", testConcurrentCallers},
	{"BoundedSubjects", testBoundedSubjects},
}

type harness struct {
	t      *testing.T
	s      Store
	t0     time.Time
	prefix string
}

// subject names a subject of this subtest.
func (h *harness) subject(name string) string { return h.prefix + name }

// apply applies ops in one call and returns their results.
func (h *harness) apply(ops ...alerts.Op) []alerts.Result {
	h.t.Helper()
	res := make([]alerts.Result, len(ops))
	if err := h.s.Windows.Apply(h.t.Context(), ops, res); err != nil {
		h.t.Fatalf("Apply: %v", err)
	}
	return res
}

// one applies op alone and returns its result.
func (h *harness) one(op alerts.Op) alerts.Result {
	h.t.Helper()
	return h.apply(op)[0]
}

// want checks a result, naming the step.
func (h *harness) want(step string, got alerts.Result, count int, fired bool) {
	h.t.Helper()
	if got.Count != count || got.Fired != fired {
		h.t.Fatalf("%s: got count %d fired %v, want count %d fired %v", step, got.Count, got.Fired, count, fired)
	}
}

// times is a CountTime op of rule "ip_failures": threshold 3 in a minute,
// cooldown a minute.
func (h *harness) times(subject string, at time.Duration) alerts.Op {
	return alerts.Op{Kind: alerts.CountTime, Rule: alerts.IPFailures, Subject: h.subject(subject), At: h.t0.Add(at),
		Window: time.Minute, Threshold: 3, Cooldown: time.Minute}
}

// member is a CountMember op of rule "credential_stuffing": threshold 3 in a
// minute, cooldown a minute.
func (h *harness) member(subject, member string, at time.Duration) alerts.Op {
	return alerts.Op{Kind: alerts.CountMember, Rule: alerts.CredentialStuffing, Subject: h.subject(subject), Member: member,
		At: h.t0.Add(at), Window: time.Minute, Threshold: 3, Cooldown: time.Minute}
}

func testFiresOnce(h *harness) {
	for i, want := range []struct {
		count int
		fired bool
	}{{1, false}, {2, false}, {3, true}, {3, false}, {3, false}} {
		h.want(fmt.Sprintf("failure %d", i+1), h.one(h.times("ip", time.Duration(i)*time.Second)), want.count, want.fired)
	}
}

func testSlidingWindow(h *harness) {
	h.want("at 0", h.one(h.times("ip", 0)), 1, false)
	h.want("at 30s", h.one(h.times("ip", 30*time.Second)), 2, false)
	// At 60s the failure at 0 is exactly a window old: it no longer counts.
	h.want("at 60s", h.one(h.times("ip", time.Minute)), 2, false)
	h.want("at 61s", h.one(h.times("ip", 61*time.Second)), 3, true)
	// An hour later, nothing of the old burst counts.
	h.want("an hour later", h.one(h.times("ip", time.Hour)), 1, false)
}

func testKeepsThresholdTimes(h *harness) {
	for i := range 50 {
		r := h.one(h.times("ip", time.Duration(i)*time.Millisecond))
		if r.Count > 3 {
			h.t.Fatalf("failure %d: count %d beyond the threshold 3", i, r.Count)
		}
	}
	if n := h.s.Held(alerts.IPFailures, h.subject("ip")); n != 3 {
		h.t.Fatalf("the store holds %d times of the subject, want the threshold 3", n)
	}
}

func testDistinctMembers(h *harness) {
	steps := []struct {
		member string
		count  int
		fired  bool
	}{{"a", 1, false}, {"a", 1, false}, {"b", 2, false}, {"a", 2, false}, {"c", 3, true}, {"d", 3, false}}
	for i, st := range steps {
		h.want(fmt.Sprintf("step %d (%s)", i, st.member), h.one(h.member("ip", st.member, time.Duration(i)*time.Second)), st.count, st.fired)
	}
}

func testMembersLatestTime(h *harness) {
	h.one(h.member("ip", "a", 0))
	h.one(h.member("ip", "b", 10*time.Second))
	h.one(h.member("ip", "a", 50*time.Second)) // a is seen again: its time is now 50s
	// At 65s, a (50s) and b (10s) are within the minute; c makes three.
	h.want("c at 65s", h.one(h.member("ip", "c", 65*time.Second)), 3, true)
	// At 71s, b (10s) is a minute old: a, c and d.
	h.want("d at 71s", h.one(h.member("ip", "d", 71*time.Second)), 3, false)
	// At 111s, a (50s) is gone as well: c, d, e.
	h.want("e at 111s", h.one(h.member("ip", "e", 111*time.Second)), 3, false)
	// At 130s, c (65s) is gone too: d, e and f, and the cooldown of the
	// alert at 65s is over; after 2 min, only g.
	h.want("f at 130s", h.one(h.member("ip", "f", 130*time.Second)), 3, true)
	h.want("g at 300s", h.one(h.member("ip", "g", 300*time.Second)), 1, false)
}

func testMembersKeepThreshold(h *harness) {
	fired := 0
	for i := range 100 {
		r := h.one(h.member("ip", fmt.Sprintf("victim%d", i), time.Duration(i)*time.Millisecond))
		if r.Count > 3 {
			h.t.Fatalf("member %d: count %d beyond the threshold 3", i, r.Count)
		}
		if r.Fired {
			fired++
		}
	}
	if fired != 1 {
		h.t.Fatalf("fired %d times, want once", fired)
	}
	if n := h.s.Held(alerts.CredentialStuffing, h.subject("ip")); n != 3 {
		h.t.Fatalf("the store holds %d members of the subject, want the threshold 3", n)
	}
}

func testNoteAndTake(h *harness) {
	op := func(kind alerts.OpKind, at time.Duration) alerts.Op {
		return alerts.Op{Kind: kind, Rule: alerts.GuessedPassword, Subject: h.subject("acct"), At: h.t0.Add(at),
			Window: time.Minute, Threshold: 3, Cooldown: time.Second}
	}
	h.want("take of nothing", h.one(op(alerts.TakeTimes, 0)), 0, false)
	for i := range 4 {
		h.want(fmt.Sprintf("note %d", i), h.one(op(alerts.NoteTime, time.Duration(i)*time.Second)), 0, false)
	}
	h.want("take after 4 notes", h.one(op(alerts.TakeTimes, 10*time.Second)), 3, true)
	h.want("take again", h.one(op(alerts.TakeTimes, 11*time.Second)), 0, false)
	if n := h.s.Held(alerts.GuessedPassword, h.subject("acct")); n != 0 {
		h.t.Fatalf("the store still holds %d times after TakeTimes", n)
	}
	// Notes out of the window do not count: two old ones, one recent.
	h.one(op(alerts.NoteTime, 20*time.Second))
	h.one(op(alerts.NoteTime, 21*time.Second))
	h.one(op(alerts.NoteTime, 90*time.Second))
	h.want("take with 1 in the window", h.one(op(alerts.TakeTimes, 81*time.Second+time.Minute-time.Second)), 1, false)
}

func testCooldown(h *harness) {
	for i := range 3 {
		h.one(h.times("ip", time.Duration(i)*time.Millisecond))
	}
	// Fired at 2ms; the cooldown is a minute.
	h.want("at 30s", h.one(h.times("ip", 30*time.Second)), 3, false)
	h.want("at 40s", h.one(h.times("ip", 40*time.Second)), 3, false)
	h.want("within the cooldown", h.one(h.times("ip", time.Minute+time.Millisecond)), 3, false)
	h.want("refilled, at the end of the cooldown", h.one(h.times("ip", time.Minute+2*time.Millisecond)), 3, true)
	h.want("just after", h.one(h.times("ip", time.Minute+3*time.Millisecond)), 3, false)
}

func testClaim(h *harness) {
	claim := func(at time.Duration, count int) alerts.Op {
		return alerts.Op{Kind: alerts.Claim, Rule: alerts.AccountLocked, Subject: h.subject("acct"), At: h.t0.Add(at),
			Cooldown: time.Hour, Count: count}
	}
	h.want("first lock", h.one(claim(0, 5)), 5, true)
	h.want("second lock", h.one(claim(time.Minute, 7)), 7, false)
	h.want("after an hour", h.one(claim(time.Hour, 9)), 9, true)
}

func testCooldownPerRuleAndSubject(h *harness) {
	claim := func(rule, subject string) alerts.Op {
		return alerts.Op{Kind: alerts.Claim, Rule: rule, Subject: h.subject(subject), At: h.t0, Cooldown: time.Hour, Count: 1}
	}
	h.want("rule A, x", h.one(claim(alerts.AccountLocked, "x")), 1, true)
	h.want("rule B, x", h.one(claim(alerts.UnattributedSuccess, "x")), 1, true)
	h.want("rule A, y", h.one(claim(alerts.AccountLocked, "y")), 1, true)
	h.want("rule A, x again", h.one(claim(alerts.AccountLocked, "x")), 1, false)
}

// testRulesCountApart: two rules that count the times of one subject (an
// IP's failures, and its breached passwords among them) keep a window each:
// the breached passwords reach their threshold on their own count, not on
// the failures', and each fires once.
func testRulesCountApart(h *harness) {
	breached := func(at time.Duration) alerts.Op {
		return alerts.Op{Kind: alerts.CountTime, Rule: alerts.BreachedIPs, Subject: h.subject("ip"), At: h.t0.Add(at),
			Window: time.Minute, Threshold: 2, Cooldown: time.Minute}
	}
	// A failure without a breached password counts for ip_failures only.
	h.want("failure 1", h.one(h.times("ip", 0)), 1, false)
	res := h.apply(h.times("ip", time.Second), breached(time.Second))
	h.want("failure 2", res[0], 2, false)
	h.want("breached 1", res[1], 1, false)
	res = h.apply(h.times("ip", 2*time.Second), breached(2*time.Second))
	h.want("failure 3", res[0], 3, true)
	h.want("breached 2", res[1], 2, true)
	h.want("breached 3", h.one(breached(3*time.Second)), 2, false)
	if n, m := h.s.Held(alerts.IPFailures, h.subject("ip")), h.s.Held(alerts.BreachedIPs, h.subject("ip")); n != 3 || m != 2 {
		h.t.Fatalf("the store holds %d times under ip_failures and %d under breached_ips, want 3 and 2", n, m)
	}
	// The claims of two rules on one account: breached_success and
	// account_locked keep a cooldown each.
	claim := func(rule string) alerts.Op {
		return alerts.Op{Kind: alerts.Claim, Rule: rule, Subject: h.subject("acct"), At: h.t0, Cooldown: time.Hour, Count: 1}
	}
	h.want("account_locked", h.one(claim(alerts.AccountLocked)), 1, true)
	h.want("breached_success", h.one(claim(alerts.BreachedSuccess)), 1, true)
	h.want("breached_success again", h.one(claim(alerts.BreachedSuccess)), 1, false)
}

func testOrderWithinApply(h *harness) {
	var ops []alerts.Op
	for i := range 5 {
		ops = append(ops, h.times("ip", time.Duration(i)*time.Millisecond))
	}
	ops = append(ops, h.member("ip", "a", 0), h.member("ip", "b", 0), h.member("ip", "a", 0))
	res := h.apply(ops...)
	want := []alerts.Result{{Count: 1}, {Count: 2}, {Count: 3, Fired: true}, {Count: 3}, {Count: 3}, {Count: 1}, {Count: 2}, {Count: 2}}
	for i := range want {
		if res[i] != want[i] {
			h.t.Fatalf("results %+v, want %+v", res, want)
		}
	}
}

func testConcurrentCallers(h *harness) {
	const callers, perCaller = 6, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	fired, maxCount := 0, 0
	for c := range callers {
		wg.Go(func() {
			for i := range perCaller {
				// Batches of a few ops, as a flush sends them.
				ops := []alerts.Op{
					h.times("ip", time.Duration(c*perCaller+i)*time.Millisecond),
					h.member("ip", fmt.Sprintf("m%d-%d", c, i), time.Duration(c*perCaller+i)*time.Millisecond),
				}
				res := make([]alerts.Result, len(ops))
				if err := h.s.Windows.Apply(h.t.Context(), ops, res); err != nil {
					h.t.Errorf("Apply: %v", err)
					return
				}
				mu.Lock()
				for _, r := range res {
					if r.Fired {
						fired++
					}
					maxCount = max(maxCount, r.Count)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if fired != 2 || maxCount != 3 {
		h.t.Fatalf("%d callers: fired %d times (want 2: one per rule), highest count %d (want 3)", callers, fired, maxCount)
	}
}

func testBoundedSubjects(h *harness) {
	if h.s.Subjects == nil && h.s.Expiry == nil {
		h.t.Fatal("the store gives neither Subjects nor Expiry")
	}
	ip := func(i int) string { return fmt.Sprintf("10.0.%d.%d", i/256, i%256) }
	for i := range 1000 {
		h.one(h.times(ip(i), time.Duration(i)*time.Millisecond))
		h.one(h.member(ip(i), "a", time.Duration(i)*time.Millisecond))
	}
	if h.s.Subjects != nil {
		for _, rule := range []string{alerts.IPFailures, alerts.CredentialStuffing} {
			if n := h.s.Subjects(rule); n > 100 {
				h.t.Fatalf("rule %s holds %d subjects, want at most 100", rule, n)
			}
		}
	}
	if h.s.Expiry != nil {
		// The windows are a minute; so is the cooldown of the one that fired.
		const most = time.Minute + 2*time.Minute
		for i := range 1000 {
			for _, rule := range []string{alerts.IPFailures, alerts.CredentialStuffing} {
				if d := h.s.Expiry(rule, h.subject(ip(i))); d <= 0 || d > most {
					h.t.Fatalf("rule %s, subject %s: kept for %v, want at most %v", rule, ip(i), d, most)
				}
			}
		}
	}
}
