package redisalerts_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/alerts"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/state/redisstate/redistest"
)

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

// collector keeps the alerts an engine emits.
type collector struct {
	mu  sync.Mutex
	all []alerts.Alert
}

func (c *collector) emit(as []alerts.Alert) {
	c.mu.Lock()
	c.all = append(c.all, as...)
	c.mu.Unlock()
}

// of returns the alerts of rule ("": all).
func (c *collector) of(rule string) []alerts.Alert {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []alerts.Alert
	for _, a := range c.all {
		if a.Rule == rule || rule == "" {
			out = append(out, a)
		}
	}
	return out
}

// fleetOf starts n engines with the default rules on c under prefix, each
// with Windows of its own (as n instances have), emitting into col; they
// are closed when the test ends.
func fleetOf(t *testing.T, n int, c redis.UniversalClient, prefix string, col *collector, o alerts.FleetOptions) []*alerts.Engine {
	t.Helper()
	var es []*alerts.Engine
	for range n {
		e, err := alerts.NewFleet(alerts.Defaults(), newWindows(t, c, prefix), o)
		if err != nil {
			t.Fatal(err)
		}
		e.Start(col.emit)
		t.Cleanup(func() { _ = e.Close() })
		es = append(es, e)
	}
	return es
}

// spread observes evs round-robin over es, one second apart from start, each
// engine from a goroutine of its own (as instances would), then flushes them
// all.
func spread(es []*alerts.Engine, start time.Time, evs []event.Event) {
	var wg sync.WaitGroup
	for j, e := range es {
		wg.Go(func() {
			for i := j; i < len(evs); i += len(es) {
				e.Observe(evs[i], start.Add(time.Duration(i)*time.Second))
			}
		})
	}
	wg.Wait()
	for _, e := range es {
		e.Flush()
	}
}

// TestThreeEnginesOneRedis: an attack spread round-robin over three engines
// (three instances behind a balancer) fires its rule once for the fleet, as
// soon as the fleet has seen the threshold, with the fleet's count, although
// no engine saw the threshold itself; the rest of the attack fires nothing.
func TestThreeEnginesOneRedis(t *testing.T) {
	c := sharedClient(t)
	t0 := time.Now().UTC().Truncate(time.Second)
	for _, tc := range []struct {
		rule, subject string
		count         int
		first, rest   func() []event.Event // the first reaches the threshold
	}{
		{alerts.IPFailures, "203.0.113.9", 10,
			func() (evs []event.Event) {
				for i := range 10 {
					evs = append(evs, fail(fmt.Sprintf("u%d@x.com", i%3), "203.0.113.9"))
				}
				return
			},
			func() (evs []event.Event) {
				for i := range 200 {
					evs = append(evs, fail(fmt.Sprintf("u%d@x.com", i%3), "203.0.113.9"))
				}
				return
			}},
		{alerts.CredentialStuffing, "198.51.100.7", 5,
			func() (evs []event.Event) {
				for i := range 5 {
					evs = append(evs, fail(fmt.Sprintf("victim%d@x.com", i), "198.51.100.7"))
				}
				return
			},
			func() (evs []event.Event) {
				for i := range 4 { // 9 in all: below ip_failures' 10
					evs = append(evs, fail(fmt.Sprintf("victim%d@x.com", 5+i), "198.51.100.7"))
				}
				return
			}},
		{alerts.DistributedAttack, "target@x.com", 5,
			func() (evs []event.Event) {
				for i := range 5 {
					evs = append(evs, fail("target@x.com", fmt.Sprintf("192.0.2.%d", i)))
				}
				return
			},
			func() (evs []event.Event) {
				for i := range 100 {
					evs = append(evs, fail("target@x.com", fmt.Sprintf("192.0.2.%d", 5+i)))
				}
				return
			}},
		{alerts.GuessedPassword, "guessed@x.com", 5,
			func() (evs []event.Event) {
				for i := range 6 {
					evs = append(evs, fail("guessed@x.com", fmt.Sprintf("192.0.2.%d", i%2)))
				}
				return append(evs, success("guessed@x.com", "192.0.2.1"))
			},
			func() []event.Event {
				return []event.Event{fail("guessed@x.com", "192.0.2.1"), success("guessed@x.com", "192.0.2.1"), success("guessed@x.com", "192.0.2.1")}
			}},
		{alerts.AccountLocked, "locked@x.com", 5,
			func() []event.Event {
				return []event.Event{{EventType: event.AccountLocked, Email: event.Str("locked@x.com"), RemoteAddress: "192.0.2.1", FailureCount: 5}}
			},
			func() []event.Event {
				lock := event.Event{EventType: event.AccountLocked, Email: event.Str("locked@x.com"), RemoteAddress: "192.0.2.1", FailureCount: 5}
				return []event.Event{lock, lock, lock, lock, lock}
			}},
		{alerts.BreachedSuccess, "pwned@x.com", 1,
			func() []event.Event {
				return []event.Event{breached(success("pwned@x.com", "192.0.2.1"))}
			},
			func() []event.Event {
				// The account logs in on every instance, with the same
				// breached password: within the cooldown, for the fleet.
				ok := breached(success("pwned@x.com", "192.0.2.1"))
				return []event.Event{ok, ok, ok, ok, ok, ok}
			}},
		{alerts.BreachedIPs, "198.51.100.9", 10,
			func() (evs []event.Event) {
				for i := range 10 { // a breach list, mostly wrong
					ev := breached(fail(fmt.Sprintf("list%d@x.com", i), "198.51.100.9"))
					if i == 4 {
						ev = breached(success(fmt.Sprintf("list%d@x.com", i), "198.51.100.9"))
					}
					evs = append(evs, ev)
				}
				return
			},
			func() (evs []event.Event) {
				for i := range 60 {
					evs = append(evs, breached(fail(fmt.Sprintf("list%d@x.com", 10+i), "198.51.100.9")))
				}
				return
			}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			col := &collector{}
			es := fleetOf(t, 3, c, randomPrefix(t, c), col, alerts.FleetOptions{})
			first := tc.first()
			if tc.rule == alerts.GuessedPassword {
				// The success comes after the failures were counted, as it
				// would a few milliseconds later.
				spread(es, t0, first[:len(first)-1])
				spread(es[2:], t0.Add(time.Minute), first[len(first)-1:])
			} else {
				spread(es, t0, first)
			}
			check := func(when string) {
				t.Helper()
				as := col.of(tc.rule)
				if len(as) != 1 || as[0].Subject != tc.subject || as[0].Count != tc.count {
					var all []string
					for _, a := range col.of("") {
						all = append(all, fmt.Sprintf("%s %s %d", a.Rule, a.Subject, a.Count))
					}
					t.Fatalf("%s: %d %s alerts, want one for %s with count %d (all: %v)", when, len(as), tc.rule, tc.subject, tc.count, all)
				}
			}
			check("at the threshold")
			spread(es, t0.Add(2*time.Minute), tc.rest())
			check("after the whole attack")
			for _, e := range es {
				if st := e.Stats(); st.Failed != 0 || st.Dropped != 0 {
					t.Fatalf("stats %+v", st)
				}
			}
		})
	}
}

// TestRedisDown: while Redis hangs, then refuses connections, Observe never
// waits (the events wait in the queue, up to MaxPending, and are dropped
// beyond), nothing panics, and once Redis is back (empty, without the
// script) the rules fire again.
func TestRedisDown(t *testing.T) {
	srv := redistest.StartServer(t)
	c := stateClient(t, "redis://"+srv.Addr)
	col := &collector{}
	e := fleetOf(t, 1, c, "lgtest:down:", col, alerts.FleetOptions{FlushTimeout: 300 * time.Millisecond, MaxPending: 1000})[0]

	observe := func(n int, ip string) time.Duration {
		var slowest time.Duration
		for i := range n {
			start := time.Now()
			e.Observe(fail(fmt.Sprintf("u%d@x.com", i%7), ip), time.Now())
			slowest = max(slowest, time.Since(start))
		}
		return slowest
	}
	// Hung: each flush waits for its timeout, the queue fills up.
	srv.Pause()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if d := observe(500, "192.0.2.1"); d > 100*time.Millisecond {
			t.Fatalf("Observe took %v while Redis hung", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := e.Stats(); st.Dropped == 0 || st.Failed == 0 {
		t.Fatalf("while Redis hung: stats %+v, want failed flushes and dropped events", st)
	}
	// Gone: flushes fail at once.
	srv.Resume()
	srv.Kill()
	failed := e.Stats().Failed
	for range 20 {
		if d := observe(50, "192.0.2.2"); d > 100*time.Millisecond {
			t.Fatalf("Observe took %v while Redis was down", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := e.Stats(); st.Failed <= failed {
		t.Fatalf("while Redis was down: stats %+v, want more failed events than %d", st, failed)
	}
	if n := len(col.of("")); n != 0 {
		t.Fatalf("%d alerts while Redis was down", n)
	}
	// Back, empty: a new attack fires ip_failures once.
	srv.Restart()
	deadline = time.Now().Add(10 * time.Second)
	for len(col.of(alerts.IPFailures)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no alert 10 s after Redis came back: stats %+v", e.Stats())
		}
		observe(10, "203.0.113.50")
		time.Sleep(50 * time.Millisecond)
	}
	e.Flush()
	if as := col.of(alerts.IPFailures); len(as) != 1 || as[0].Subject != "203.0.113.50" || as[0].Count != 10 {
		t.Fatalf("after Redis came back: %+v", as)
	}
}

// TestCloseWhileHung: Close returns within the flush timeout while Redis
// hangs, and Observe after Close drops the event.
func TestCloseWhileHung(t *testing.T) {
	srv := redistest.StartServer(t)
	c := stateClient(t, "redis://"+srv.Addr)
	e := fleetOf(t, 1, c, "lgtest:hung:", &collector{}, alerts.FleetOptions{FlushTimeout: 300 * time.Millisecond})[0]
	srv.Pause()
	defer srv.Resume()
	e.Observe(fail("a@x.com", "192.0.2.1"), time.Now())
	start := time.Now()
	_ = e.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v while Redis hung", d)
	}
	e.Observe(fail("a@x.com", "192.0.2.1"), time.Now())
	if st := e.Stats(); st.Dropped != 1 || st.Pending != 0 {
		t.Fatalf("after Close: %+v, want the later event dropped", st)
	}
}

// TestRoundTrips measures what 10,000 login events cost in Redis: round trips
// (a pipeline is one) and commands, per event and per alert, counted by a
// client hook and by the server's INFO commandstats, on a server of its own.
func TestRoundTrips(t *testing.T) {
	srv := redistest.StartServer(t)
	c := stateClient(t, "redis://"+srv.Addr)
	if err := c.ConfigResetStat(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	// The server learns the script first, so that no EVAL is counted.
	warm := []alerts.Op{{Kind: alerts.Claim, Rule: alerts.AccountLocked, Subject: "warm-up", At: time.Now(), Cooldown: time.Second}}
	if err := newWindows(t, c, "lgtest:rt:").Apply(t.Context(), warm, make([]alerts.Result, 1)); err != nil {
		t.Fatal(err)
	}
	var rt roundTrips
	c.AddHook(&rt)
	col := &collector{}
	e := fleetOf(t, 1, c, "lgtest:rt:", col, alerts.FleetOptions{})[0]
	const events = 10000
	ops := 0
	t0 := time.Now()
	for i := range events {
		// Ordinary traffic from 500 IPs and 2,000 accounts, and an attack:
		// every tenth event a failure from one of 20 attacking IPs.
		var ev event.Event
		switch {
		case i%10 == 0:
			ev = fail(fmt.Sprintf("victim%d@x.com", i%97), fmt.Sprintf("198.51.100.%d", i%20))
			ops += 3 // ip_failures, credential_stuffing, distributed_attack (+ guessed_password)
		case i%3 == 0:
			ev = fail(fmt.Sprintf("user%d@corp.com", i%2000), fmt.Sprintf("203.0.113.%d", i%250))
			ops += 3
		default:
			ev = success(fmt.Sprintf("user%d@corp.com", i%2000), fmt.Sprintf("192.0.2.%d", i%250))
		}
		ops++ // guessed_password: a note or a take
		e.Observe(ev, t0.Add(time.Duration(i)*time.Millisecond))
		if i%1000 == 999 {
			time.Sleep(5 * time.Millisecond) // arrivals come in bursts
		}
	}
	_ = e.Close()
	st := e.Stats()
	if st.Applied != events {
		t.Fatalf("stats %+v, want all %d events applied", st, events)
	}
	n := len(col.of(""))
	if n == 0 {
		t.Fatal("no alert: the attack should fire")
	}
	trips, cmds := rt.trips.Load(), rt.commands.Load()
	// One pipeline per flush, one script call per op.
	if trips != int64(st.Flushes) || cmds != int64(ops) {
		t.Errorf("%d round trips for %d flushes, %d commands for %d ops", trips, st.Flushes, cmds, ops)
	}
	info, err := c.Info(t.Context(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var server []string
	for line := range strings.SplitSeq(info, "\n") {
		if strings.HasPrefix(line, "cmdstat_eval") {
			server = append(server, strings.TrimSpace(line))
		}
	}
	t.Logf("%d events, %d ops, %d alerts, %d flushes: %d round trips (%.4f per event, %.2f per alert), %d commands (%.2f per event); server: %s",
		events, ops, n, st.Flushes, trips, float64(trips)/events, float64(trips)/float64(n), cmds, float64(cmds)/events, strings.Join(server, " "))
}
