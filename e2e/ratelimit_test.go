package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/state/redisstate/redistest"
)

func rateLimitConfig(state string) string {
	return config{Global: "metrics\n\t" + trustXFF, App: "state " + state, Rules: `rule success {
			status 200
		}
		rule failure {
			status 401
			json /code
			reasons {
				BAD_CREDENTIALS BAD_CREDENTIALS
				USER_NOT_FOUND ACCOUNT_NOT_FOUND
			}
		}`, Handler: `rate_limit {
			ip 3-M
		}
		deny 198.51.100.0/24
		allow 203.0.113.5`}.String()
}

// rateLimits: IPv6 addresses in one /64 share a limit, a limited request gets
// 429 with the rate-limit headers and never reaches the portal, denied IPs get
// 403, allow-listed IPs skip the limits, and refusals are sampled into events.
func rateLimits(t *testing.T, state string) {
	s := newStack(t, stackOptions{Caddyfile: rateLimitConfig(state)})
	post := func(ip, email string) *http.Response {
		resp, _ := s.post("/api/login", "application/json", fmt.Sprintf(`{"email":%q,"password":"x"}`, email), "X-Forwarded-For", ip)
		return resp
	}
	for i := 1; i <= 3; i++ {
		resp := post(fmt.Sprintf("2001:db8:a:b::%d", i), fmt.Sprintf("u%d@example.org", i))
		if resp.StatusCode != 401 || resp.Header.Get("X-RateLimit-Limit") != "3" || resp.Header.Get("X-RateLimit-Remaining") != fmt.Sprint(3-i) {
			t.Fatalf("attempt %d: %d limit %q remaining %q", i, resp.StatusCode, resp.Header.Get("X-RateLimit-Limit"), resp.Header.Get("X-RateLimit-Remaining"))
		}
	}
	resp := post("2001:db8:a:b::99", "limited@example.org")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || resp.Header.Get("X-RateLimit-Remaining") != "0" || resp.Header.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("4th attempt from the /64: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := post("2001:db8:a:c::1", "other64@example.org"); resp.StatusCode != 401 {
		t.Fatalf("another /64: %d", resp.StatusCode)
	}
	for i := 0; i < 20; i++ {
		if resp := post("2001:db8:a:b::7", "flood@example.org"); resp.StatusCode != 429 {
			t.Fatalf("flood: %d", resp.StatusCode)
		}
	}
	if resp := post("198.51.100.20", "denied@example.org"); resp.StatusCode != 403 {
		t.Fatalf("denied IP: %d", resp.StatusCode)
	}
	for i := 0; i < 5; i++ {
		if resp := post("203.0.113.5", "allowed@example.org"); resp.StatusCode != 401 {
			t.Fatalf("allow-listed IP, attempt %d: %d", i, resp.StatusCode)
		}
	}
	got := s.received()
	for _, never := range []string{"limited@example.org", "flood@example.org", "denied@example.org"} {
		if got[never] != 0 {
			t.Errorf("%s reached the portal %d times", never, got[never])
		}
	}
	if got["allowed@example.org"] != 5 || got["other64@example.org"] != 1 {
		t.Errorf("portal received %v", got)
	}
	// 3 + 1 + 5 forwarded, the 21 refusals of one /64 sampled into 1 event, 1 denied.
	evs := s.waitEvents(3 + 1 + 5 + 1 + 1)
	var limited []event.Event
	for _, e := range evs {
		if e.Reason == event.RateLimited {
			limited = append(limited, e)
		}
	}
	if len(limited) != 2 || str(limited[0].Email) != "limited@example.org" || str(limited[1].Email) != "denied@example.org" {
		t.Fatalf("RATE_LIMITED events: %+v", limited)
	}
	if len(evs) != 11 {
		t.Fatalf("%d events, want 11 (the flood sampled away)", len(evs))
	}
	mresp, err := http.Get("http://" + s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !strings.Contains(string(b), `loginguard_gateway_refusals_total{reason="RATE_LIMITED"} 22`) {
		t.Errorf("the metric does not count every refusal")
	}
}

func TestRateLimitsMemory(t *testing.T) { rateLimits(t, "memory") }

func TestRateLimitsRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	rateLimits(t, "redis://"+srv.Addr)
}

func TestRateLimitsRedisCluster(t *testing.T) {
	rateLimits(t, "redis+cluster://"+strings.Join(redistest.StartCluster(t), ","))
}

// TestRedisManyAccountsManyIPs: 3 accounts attacked from 100 IPs each, over 3
// Caddy processes sharing one Redis: no account's portal sees more than 5.
func TestRedisManyAccountsManyIPs(t *testing.T) {
	srv := redistest.StartServer(t)
	cf := config{Global: trustXFF, App: "state redis://" + srv.Addr}.String()
	s := newStack(t, stackOptions{Caddyfile: cf, PortalArgs: []string{"-slow", "10ms"}})
	ins := []*instance{{url: s.url, events: s.events}, s.addInstance(), s.addInstance()}
	accounts := []string{"active@example.com", "disabled@example.com", "waiting@example.com"}
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 120; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				acct, ipn := accounts[i%3], (i/3)%100
				b, _ := json.Marshal(map[string]string{"email": acct, "password": fmt.Sprint("guess-", i)})
				req, _ := http.NewRequest("POST", ins[i%3].url+"/api/login", strings.NewReader(string(b)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", ipn))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	for i := 0; i < 900; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	got := s.received()
	for _, a := range accounts {
		if got[a] > 5 || got[a] == 0 {
			t.Errorf("%s: portal received %d wrong passwords, want 1..5", a, got[a])
		}
	}
	evs := waitAttempts(t, func() []event.Event { return readAll(t, ins) }, 900)
	if n := len(byType(evs, event.AccountLocked)); n != 3 {
		t.Errorf("%d lock events, want 3", n)
	}
	t.Logf("portal received %v", got)
}
