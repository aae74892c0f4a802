package alerts

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

func fail(email, ip string) event.Event {
	return event.Event{EventType: event.LoginFailure, Source: event.SourcePortal, Email: event.Str(email), RemoteAddress: ip, Reason: event.BadCredentials}
}

func success(email, ip string) event.Event {
	return event.Event{EventType: event.LoginSuccess, Source: event.SourcePortal, Email: event.Str(email), RemoteAddress: ip}
}

// breached returns ev with a breached password.
func breached(ev event.Event) event.Event {
	ev.PasswordBreached = true
	return ev
}

// feed observes evs one second apart from start and returns the alerts by rule.
func feed(t *testing.T, e *Engine, start time.Time, evs []event.Event) map[string][]Alert {
	t.Helper()
	got := map[string][]Alert{}
	for i, ev := range evs {
		for _, a := range e.Observe(ev, start.Add(time.Duration(i)*time.Second)) {
			got[a.Rule] = append(got[a.Rule], a)
		}
	}
	return got
}

func engine(t *testing.T) *Engine {
	e, err := New(Defaults(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEachRuleFiresOnce: each simulated attack fires its rule once (the
// cooldown holds the rest back), with the subject and the count.
func TestEachRuleFiresOnce(t *testing.T) {
	for _, tc := range []struct {
		rule, subject string
		count         int
		evs           func() []event.Event
	}{
		{IPFailures, "203.0.113.9", 10, func() (evs []event.Event) {
			for i := range 200 {
				evs = append(evs, fail(fmt.Sprintf("u%d@x.com", i%3), "203.0.113.9"))
			}
			return
		}},
		{CredentialStuffing, "198.51.100.7", 5, func() (evs []event.Event) {
			for i := range 9 { // below ip_failures' 10
				evs = append(evs, fail(fmt.Sprintf("victim%d@x.com", i), "198.51.100.7"))
			}
			return
		}},
		{DistributedAttack, "target@x.com", 5, func() (evs []event.Event) {
			for i := range 100 {
				evs = append(evs, fail("target@x.com", fmt.Sprintf("192.0.2.%d", i)))
			}
			return
		}},
		{GuessedPassword, "guessed@x.com", 5, func() (evs []event.Event) {
			for i := range 6 {
				evs = append(evs, fail("guessed@x.com", fmt.Sprintf("192.0.2.%d", i%2)))
			}
			return append(evs, success("guessed@x.com", "192.0.2.1"), fail("guessed@x.com", "192.0.2.1"), success("guessed@x.com", "192.0.2.1"))
		}},
		{AccountLocked, "locked@x.com", 5, func() []event.Event {
			lock := event.Event{EventType: event.AccountLocked, Email: event.Str("locked@x.com"), RemoteAddress: "192.0.2.1", FailureCount: 5}
			return []event.Event{lock, lock, lock}
		}},
		{BreachedSuccess, "pwned@x.com", 1, func() []event.Event {
			// Every login of the account with its breached password, and
			// others' logins without one.
			return []event.Event{success("clean@x.com", "192.0.2.1"), breached(success("pwned@x.com", "192.0.2.1")),
				breached(fail("pwned@x.com", "192.0.2.1")), breached(success("pwned@x.com", "192.0.2.2")), breached(success("Pwned@x.com", "192.0.2.3"))}
		}},
		{BreachedIPs, "198.51.100.9", 10, func() (evs []event.Event) {
			for i := range 200 { // a breach list: mostly wrong, a few right
				ev := breached(fail(fmt.Sprintf("list%d@x.com", i), "198.51.100.9"))
				if i%7 == 3 {
					ev = breached(success(fmt.Sprintf("list%d@x.com", i), "198.51.100.9"))
				}
				evs = append(evs, ev)
			}
			return
		}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			got := feed(t, engine(t), t0, tc.evs())
			as := got[tc.rule]
			if len(as) != 1 || as[0].Subject != tc.subject || as[0].Count != tc.count {
				t.Fatalf("%s alerts: %+v (all: %v)", tc.rule, as, got)
			}
			ev := as[0].Event()
			msg := event.Value(ev.Message)
			if ev.EventType != event.Alert || !strings.HasPrefix(msg, fmt.Sprintf("alert rule=%s subject=%s count=%d", tc.rule, tc.subject, tc.count)) {
				t.Fatalf("event %s %q", ev.EventType, msg)
			}
			if e := engine(t); e.Observe(ev, t0) != nil {
				t.Fatal("an ALERT event fired a rule")
			}
		})
	}
}

// TestNormalTrafficNoAlert: a day of ordinary logins: typos, a forgotten
// password then success, many users behind one office IP, one user on a few
// networks: no alert.
func TestNormalTrafficNoAlert(t *testing.T) {
	e := engine(t)
	var evs []event.Event
	for day := range 24 {
		for u := range 50 {
			email := fmt.Sprintf("user%d@corp.com", u)
			ip := "203.0.113.1" // the office NAT
			if u%5 == 0 {
				ip = fmt.Sprintf("198.51.100.%d", day%3) // home, phone, café
			}
			if (u+day)%17 == 0 {
				evs = append(evs, fail(email, ip), fail(email, ip)) // typos
			}
			evs = append(evs, success(email, ip))
		}
	}
	// About 1,300 events a minute apart: some 6 failures an hour from the
	// office NAT (a busier office needs a higher ip_failures threshold).
	got := map[string][]Alert{}
	for i, ev := range evs {
		for _, a := range e.Observe(ev, t0.Add(time.Duration(i)*time.Minute)) {
			got[a.Rule] = append(got[a.Rule], a)
		}
	}
	if len(got) != 0 {
		for r, as := range got {
			t.Errorf("%s fired: %s", r, as[0].Message())
		}
	}
}

// TestCooldownEnds: after the cooldown, a new attack alerts again; the window
// forgets old failures.
func TestCooldownEnds(t *testing.T) {
	e, err := New([]Rule{{Name: IPFailures, Threshold: 3, Window: time.Minute}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	burst := []event.Event{fail("a@x.com", "192.0.2.9"), fail("a@x.com", "192.0.2.9"), fail("a@x.com", "192.0.2.9")}
	if n := len(feed(t, e, t0, burst)[IPFailures]); n != 1 {
		t.Fatalf("first burst: %d alerts", n)
	}
	if n := len(feed(t, e, t0.Add(10*time.Second), burst)[IPFailures]); n != 0 {
		t.Fatalf("within the cooldown: %d alerts", n)
	}
	if n := len(feed(t, e, t0.Add(2*time.Minute), burst[:2])[IPFailures]); n != 0 {
		t.Fatalf("2 failures after the window: %d alerts", n)
	}
	if n := len(feed(t, e, t0.Add(2*time.Minute+5*time.Second), burst[:1])[IPFailures]); n != 1 {
		t.Fatalf("3 failures after the cooldown: %d alerts", n)
	}
}

// TestBoundedMemory: a flood of distinct IPs never holds more than maxKeys
// subjects per rule.
func TestBoundedMemory(t *testing.T) {
	e, err := New(Defaults(), 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10000 {
		e.Observe(fail(fmt.Sprintf("u%d@x.com", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)), t0.Add(time.Duration(i)*time.Millisecond))
	}
	for i, m := range e.seen {
		if len(m) > 100 {
			t.Fatalf("rule %s holds %d subjects", e.rules[i].Name, len(m))
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		r    Rule
		want string
	}{
		{Rule{Name: "bogus"}, `alert rule "bogus": want one of`},
		{Rule{Name: IPFailures, Window: time.Hour}, "threshold: want a positive integer"},
		{Rule{Name: IPFailures, Threshold: 3}, "window: want a positive duration"},
		{Rule{Name: BreachedIPs, Window: time.Hour}, "alert rule breached_ips: threshold: want a positive integer"},
		{Rule{Name: BreachedIPs, Threshold: 10}, "alert rule breached_ips: window: want a positive duration"},
		{Rule{Name: BreachedSuccess, Cooldown: -time.Second}, "alert rule breached_success: cooldown"},
		{Rule{Name: "breached"}, "breached_success, breached_ips"},
	} {
		if _, err := New([]Rule{tc.r}, 0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.r, err, tc.want)
		}
	}
}

// TestBreachedSuccess: a successful login with a breached password alerts
// once per account and cooldown (1h by default, as account_locked), with the
// account as subject and its identity on the ALERT event, or with the IP
// when the gateway could not name the account; a failure with a breached
// password, or a success without one, never does.
func TestBreachedSuccess(t *testing.T) {
	e := engine(t)
	ok := breached(success("pwned@x.com", "192.0.2.7"))
	for _, tc := range []struct {
		at   time.Duration
		ev   event.Event
		want int
	}{
		{0, breached(fail("pwned@x.com", "192.0.2.7")), 0},
		{time.Second, success("pwned@x.com", "192.0.2.7"), 0},
		{2 * time.Second, ok, 1},
		{30 * time.Minute, ok, 0},
		{59*time.Minute + 59*time.Second, ok, 0},
		{time.Hour + 2*time.Second, ok, 1},
		{time.Hour + 3*time.Second, breached(success("other@x.com", "192.0.2.7")), 1},
	} {
		as := e.Observe(tc.ev, t0.Add(tc.at))
		var got []Alert
		for _, a := range as {
			if a.Rule == BreachedSuccess {
				got = append(got, a)
			}
		}
		if len(got) != tc.want {
			t.Fatalf("at %v: %d breached_success alerts, want %d", tc.at, len(got), tc.want)
		}
		if tc.want == 1 {
			ev := got[0].Event()
			if got[0].Subject != identity(tc.ev) || event.Value(ev.Email) != event.Value(tc.ev.Email) || ev.RemoteAddress != "192.0.2.7" ||
				!strings.Contains(event.Value(ev.Message), "with a breached password") {
				t.Fatalf("at %v: alert %+v, event %+v", tc.at, got[0], ev)
			}
		}
	}
	// A success the gateway could not attribute: the IP is the subject.
	anon := breached(event.Event{EventType: event.LoginSuccess, RemoteAddress: "203.0.113.77", Reason: event.MissingPrincipal})
	got := feed(t, engine(t), t0, []event.Event{anon})
	if as := got[BreachedSuccess]; len(as) != 1 || as[0].Subject != "203.0.113.77" {
		t.Fatalf("an unattributed success with a breached password: %v", got)
	}
	// A cooldown of its own.
	e, err := New([]Rule{{Name: BreachedSuccess, Cooldown: time.Minute}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(feed(t, e, t0, []event.Event{ok, ok})[BreachedSuccess]); n != 1 {
		t.Fatalf("two at once: %d alerts", n)
	}
	if n := len(feed(t, e, t0.Add(time.Minute+time.Second), []event.Event{ok})[BreachedSuccess]); n != 1 {
		t.Fatalf("after the cooldown of a minute: %d alerts", n)
	}
}

// TestBreachedIPs: breached passwords tried from one IP count, successful
// or not, within the window; failures without a breached password and other
// IPs do not; a slow run over more than the window does not fire; the ALERT
// event names no account (the IP tried many).
func TestBreachedIPs(t *testing.T) {
	e, err := New([]Rule{{Name: BreachedIPs, Threshold: 4, Window: 10 * time.Minute}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ip := "198.51.100.20"
	steps := []struct {
		at time.Duration
		ev event.Event
	}{
		{0, breached(fail("a@x.com", ip))},
		{time.Minute, fail("b@x.com", ip)},                        // not breached
		{2 * time.Minute, breached(fail("c@x.com", "192.0.2.1"))}, // another IP
		{3 * time.Minute, breached(success("d@x.com", ip))},
		{4 * time.Minute, breached(fail("e@x.com", ip))},
		{5 * time.Minute, event.Event{EventType: event.Logout, Email: event.Str("f@x.com"), RemoteAddress: ip, PasswordBreached: true}},
	}
	for _, st := range steps {
		if as := e.Observe(st.ev, t0.Add(st.at)); len(as) != 0 {
			t.Fatalf("at %v: %d alerts before the threshold", st.at, len(as))
		}
	}
	as := e.Observe(breached(fail("g@x.com", ip)), t0.Add(9*time.Minute))
	if len(as) != 1 || as[0].Rule != BreachedIPs || as[0].Subject != ip || as[0].Count != 4 {
		t.Fatalf("the fourth breached password within 10m: %+v", as)
	}
	ev := as[0].Event()
	msg := event.Value(ev.Message)
	if ev.Email != nil || ev.Principal != nil || ev.RemoteAddress != ip || !strings.HasPrefix(msg, "alert rule=breached_ips subject="+ip+" count=4 window=10m0s: 4 attempts with a breached password from IP") {
		t.Fatalf("alert event %+v %q", ev, msg)
	}
	// One every 4 minutes: never 4 within 10 minutes.
	slow, _ := New([]Rule{{Name: BreachedIPs, Threshold: 4, Window: 10 * time.Minute}}, 0)
	for i := range 20 {
		if as := slow.Observe(breached(fail(fmt.Sprintf("s%d@x.com", i), ip)), t0.Add(time.Duration(i)*4*time.Minute)); len(as) != 0 {
			t.Fatalf("a slow run fired at %d: %+v", i, as)
		}
	}
}

// TestRuleNames: every rule is in Defaults once, in Names' order, and fits
// the ops of one event; PerEvent tells the rules without threshold and window.
func TestRuleNames(t *testing.T) {
	var names []string
	for _, r := range Defaults() {
		names = append(names, r.Name)
		if PerEvent(r.Name) != (r.Threshold == 0 && r.Window == 0) {
			t.Errorf("%s: PerEvent %v, threshold %d, window %v", r.Name, PerEvent(r.Name), r.Threshold, r.Window)
		}
	}
	if strings.Join(names, ",") != strings.Join(Names(), ",") {
		t.Errorf("Defaults %v, Names %v", names, Names())
	}
	if len(Names()) > maxOps {
		t.Errorf("%d rules, one event has room for %d ops", len(Names()), maxOps)
	}
	// An event that every rule takes: each rule gives at most one op.
	e := engine(t)
	ev := breached(success("all@x.com", "192.0.2.1"))
	ev.Reason = event.MissingPrincipal
	if ops := e.ops(ev, t0, nil); len(ops) > maxOps {
		t.Errorf("%d ops for one event", len(ops))
	}
}

// TestIPConflictAlert: one alert per session and cooldown, whatever the
// number of its conflicts; another session alerts on its own.
func TestIPConflictAlert(t *testing.T) {
	e, err := New([]Rule{{Name: IPConflict}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	conflict := func(id string) event.Event {
		return event.Event{EventType: event.SessionIPConflict, Source: event.SourcePortal, Email: event.Str("a@x"), RemoteAddress: "203.0.113.9", SessionID: id}
	}
	fired := 0
	for i := range 5 {
		fired += len(e.Observe(conflict("s1"), now.Add(time.Duration(i)*time.Second)))
	}
	if fired != 1 {
		t.Errorf("5 conflicts of one session: %d alerts, want 1", fired)
	}
	if got := e.Observe(conflict("s2"), now); len(got) != 1 || got[0].Subject != "s2" || !strings.Contains(got[0].Message(), "203.0.113.9") {
		t.Errorf("another session: %+v", got)
	}
	if got := e.Observe(conflict("s1"), now.Add(2*time.Hour)); len(got) != 1 {
		t.Errorf("after the cooldown: %d alerts, want 1", len(got))
	}
	if got := e.Observe(event.Event{EventType: event.SessionInvalid, SessionID: "s3"}, now); len(got) != 0 {
		t.Errorf("an invalid session is no conflict: %+v", got)
	}
}
