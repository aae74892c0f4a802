package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/state/redisstate"
	"github.com/loginguard/loginguard/state/redisstate/redistest"
)

// storm sends n wrong-password logins for email, spread round-robin over the
// instances' URLs by workers goroutines, and returns the count of each status.
func storm(t *testing.T, urls []string, email string, n, workers int) map[int]int {
	t.Helper()
	var next atomic.Int64
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				b, _ := json.Marshal(map[string]string{"email": email, "password": fmt.Sprint("guess-", i)})
				resp, err := http.Post(urls[i%len(urls)]+"/api/login", "application/json", strings.NewReader(string(b)))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return codes
}

// readAll returns the events of every instance.
func readAll(t *testing.T, ins []*instance) []event.Event {
	var evs []event.Event
	for _, in := range ins {
		evs = append(evs, readEventsFrom(t, in.events)...)
	}
	return evs
}

// allEvents waits until the instances' events files hold at least n events.
func allEvents(t *testing.T, ins []*instance, n int) []event.Event {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var evs []event.Event
		for _, in := range ins {
			evs = append(evs, readEventsFrom(t, in.events)...)
		}
		if len(evs) >= n || time.Now().After(deadline) {
			if len(evs) < n {
				t.Fatalf("%d events, want %d", len(evs), n)
			}
			return evs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// raceOnRedis: 1,000 concurrent wrong passwords for one account over three Caddy
// processes sharing one Redis: the portal receives at most max_failures.
func raceOnRedis(t *testing.T, url string) {
	// Alerts off: the events are counted as attempts, exactly.
	s := newStack(t, stackOptions{Env: []string{"LOGINGUARD_REDIS_URL=" + url, noAlerts}, PortalArgs: []string{"-slow", "20ms"}})
	ins := []*instance{{url: s.url, events: s.events}, s.addInstance(), s.addInstance()}
	urls := []string{ins[0].url, ins[1].url, ins[2].url}
	began := time.Now()
	codes := storm(t, urls, "active@example.com", 1000, 150)
	// A storm of d seconds touches at most d/interval+2 sample intervals: the
	// intervals are not aligned with its start.
	intervals := int(time.Since(began)/(10*time.Second)) + 2
	got := s.received()["active@example.com"]
	if got > 5 || got == 0 {
		t.Fatalf("portal received %d wrong passwords over 3 instances, want at most 5 (statuses %v)", got, codes)
	}
	for code, n := range codes {
		if code >= 500 {
			t.Fatalf("%d answers %d: %v", n, code, codes)
		}
	}
	evs := waitAttempts(t, func() []event.Event { return readAll(t, ins) }, 1000)
	// Each instance stores at most 10 LOCKED events per sample interval and
	// one carrying the rest when the interval ends.
	if n, most := countReason(evs, event.Locked), 3*intervals*(10+1); n > most {
		t.Fatalf("%d LOCKED events over %d intervals, want at most %d", n, intervals, most)
	}
	if n := len(byType(evs, event.AccountLocked)); n != 1 {
		t.Fatalf("%d ACCOUNT_LOCKED events over the 3 instances, want 1", n)
	}
	// The lock holds on every instance, for the right password too.
	for _, u := range urls {
		resp, err := http.Post(u+"/api/login", "application/json", strings.NewReader(`{"email":"active@example.com","password":"correct-horse"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("%s: right password on the locked account: %d", u, resp.StatusCode)
		}
	}
	t.Logf("portal received %d of 1000; statuses %v", got, codes)
}

func TestRedisThreeInstancesRace(t *testing.T) {
	srv := redistest.StartServer(t)
	raceOnRedis(t, "redis://"+srv.Addr)
}

func TestRedisClusterThreeInstancesRace(t *testing.T) {
	nodes := redistest.StartCluster(t)
	raceOnRedis(t, "redis+cluster://"+strings.Join(nodes, ","))
}

// TestRedisOutage: Redis killed in the middle of a load and restarted. With
// fail_open no answer is a 5xx of the module's own and counting resumes; with
// fail_closed attempts get 503 while Redis is gone.
func TestRedisOutage(t *testing.T) {
	for _, mode := range []string{"fail_open", "fail_closed"} {
		t.Run(mode, func(t *testing.T) {
			srv := redistest.StartServer(t)
			cf := config{App: "state redis://" + srv.Addr + "\n\t\ton_state_error " + mode}.String()
			s := newStack(t, stackOptions{Caddyfile: cf})
			done := make(chan map[int]int)
			go func() { done <- storm(t, []string{s.url}, "nobody-in-particular@example.com", 400, 8) }()
			time.Sleep(100 * time.Millisecond)
			srv.Kill()
			time.Sleep(300 * time.Millisecond)
			down := storm(t, []string{s.url}, "active@example.com", 10, 2)
			srv.Restart()
			codes := <-done
			if mode == "fail_open" {
				if down[401] != 10 {
					t.Fatalf("with Redis down, fail_open: %v, want every attempt to reach the portal", down)
				}
				for code := range codes {
					if code >= 500 {
						t.Fatalf("fail_open answered %d: %v", code, codes)
					}
				}
			} else if down[503] != 10 {
				t.Fatalf("with Redis down, fail_closed: %v, want 503", down)
			}
			// Counting resumes once Redis is back.
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(s.caddyLog(), "state store available again") {
				if time.Now().After(deadline) {
					t.Fatal("Redis is back but the store did not recover")
				}
				s.login("nobody@example.com", "x")
				time.Sleep(100 * time.Millisecond)
			}
			before := s.received()["disabled@example.com"]
			for i := 0; i < 6; i++ {
				s.login("disabled@example.com", "wrong")
			}
			if got := s.received()["disabled@example.com"] - before; got != 5 {
				t.Fatalf("after the outage the portal received %d of 6 wrong passwords, want 5", got)
			}
			if n := strings.Count(s.caddyLog(), `"msg":"state store unavailable`); n != 1 {
				t.Errorf("%d outage warnings, want 1", n)
			}
		})
	}
}

// TestRedisBlocksAndReload: an IP block written to the shared state (as the
// admin API does) is enforced within seconds; a reload that points the app at
// another Redis switches to it cleanly (fresh counters, no errors).
func TestRedisBlocksAndReload(t *testing.T) {
	first, second := redistest.StartServer(t), redistest.StartServer(t)
	cf := perIPConfig("{$LG_STATE}")
	s := newStack(t, stackOptions{Caddyfile: cf, Env: []string{"LG_STATE=redis://" + first.Addr}})
	st, err := redisstate.New(context.Background(), redisstate.Options{URL: "redis://" + first.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Block(context.Background(), "198.51.100.0/24", time.Hour); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.loginFrom("198.51.100.44", "active@example.com", "x") != 403 {
		if time.Now().After(deadline) {
			t.Fatal("the block was not enforced within 5s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := s.received()["active@example.com"]; got > 3 {
		t.Fatalf("blocked attempts reached the portal: %d", got)
	}
	// Three failures on the first Redis, then a reload onto the second.
	for i := 0; i < 3; i++ {
		s.loginFrom("203.0.113.1", "disabled@example.com", "x")
	}
	cfg := strings.Replace(cf, "{$LG_STATE}", "redis://"+second.Addr, 1)
	s.reload([]byte(cfg))
	before := s.received()["disabled@example.com"]
	// On the first Redis this (account, IP) pair is locked after its 3 failures;
	// on the second it starts afresh.
	for i := 0; i < 3; i++ {
		if st := s.loginFrom("203.0.113.1", "disabled@example.com", "x"); st != 401 {
			t.Fatalf("after the reload: %d", st)
		}
	}
	if got := s.received()["disabled@example.com"] - before; got != 3 {
		t.Fatalf("on the second Redis the counters start afresh: the portal received %d of 3", got)
	}
	// And the block lived in the first Redis only.
	if st := s.loginFrom("198.51.100.44", "active@example.com", "correct-horse"); st != 200 {
		t.Fatalf("the second Redis has no block, yet got %d", st)
	}
	for _, l := range strings.Split(s.caddyLog(), "\n") {
		if strings.Contains(l, `"level":"error"`) {
			t.Errorf("error in Caddy's log after the reload: %s", l)
		}
	}
}

// TestRedisLockEndAnnouncedOnce: a lock that runs out is announced by one
// ACCOUNT_UNLOCKED event, dated at its end, however many instances share the
// state; then the account logs in again.
func TestRedisLockEndAnnouncedOnce(t *testing.T) {
	srv := redistest.StartServer(t)
	cf := config{App: "state redis://" + srv.Addr, Handler: `lockout {
			max_failures 2
			duration 1s
		}`}.String()
	s := newStack(t, stackOptions{Caddyfile: cf})
	ins := []*instance{{url: s.url, events: s.events}, s.addInstance(), s.addInstance()}
	for i := range 2 {
		if resp, _ := s.login("active@example.com", fmt.Sprint("guess-", i)); resp.StatusCode != 401 {
			t.Fatalf("wrong password %d: %d", i, resp.StatusCode)
		}
	}
	locked := time.Now()
	// Each instance looks for ended locks every 5 s: 7 s after the end all
	// three have looked at least once (on a busy machine, wait for the first
	// announcement up to 20 s).
	var evs []event.Event
	for time.Since(locked) < 8*time.Second || len(byType(evs, event.AccountUnlocked)) == 0 && time.Since(locked) < 20*time.Second {
		time.Sleep(250 * time.Millisecond)
		evs = allEvents(t, ins, 3)
	}
	locks, ends := byType(evs, event.AccountLocked), byType(evs, event.AccountUnlocked)
	if len(locks) != 1 || len(ends) != 1 {
		t.Fatalf("%d ACCOUNT_LOCKED and %d ACCOUNT_UNLOCKED events over 3 instances, want 1 and 1: %+v", len(locks), len(ends), evs)
	}
	e := ends[0]
	if str(e.Email) != "active@example.com" || str(e.Message) != "Account active@example.com unlocked: its lock ended" {
		t.Fatalf("ACCOUNT_UNLOCKED event: %+v", e)
	}
	if d := e.EventDate.Sub(locks[0].EventDate.Add(time.Second)); d < -500*time.Millisecond || d > 500*time.Millisecond {
		t.Fatalf("lock ended at %v, locked at %v: want its end, a second later", e.EventDate, locks[0].EventDate)
	}
	if resp, _ := s.login("active@example.com", password); resp.StatusCode != 200 {
		t.Fatalf("login after the lock ended: %d", resp.StatusCode)
	}
}
