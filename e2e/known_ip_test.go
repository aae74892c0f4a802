package e2e

import (
	"fmt"
	"testing"

	"github.com/loginguard/loginguard/state/redisstate/redistest"
)

// perIPConfig trusts X-Forwarded-For from the test (127.0.0.1), so that each
// request can come from an address of its own.
func perIPConfig(state string) string {
	return config{Global: trustXFF, App: "state " + state, Handler: `lockout {
			max_failures 8
			per_ip_max_failures 3
			known_ips
		}`}.String()
}

func (s *stack) loginFrom(ip, email, password string) int {
	s.t.Helper()
	resp, _ := s.post("/api/login", "application/json", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password), "X-Forwarded-For", ip)
	return resp.StatusCode
}

// knownIPs: per-IP counting locks one prefix, not the others; the account
// ceiling locks everyone except a prefix the account logged in from before;
// IPv6 addresses of one /64 are one client.
func knownIPs(t *testing.T, state string) {
	s := newStack(t, stackOptions{Caddyfile: perIPConfig(state)})
	const user = "active@example.com"
	// The owner logs in from home once: a known prefix.
	if st := s.loginFrom("2001:db8:1:2::10", user, password); st != 200 {
		t.Fatalf("owner's login: %d", st)
	}
	// An attacker at 198.51.100.7 locks only its own pair after 3 failures.
	for i := 0; i < 3; i++ {
		s.loginFrom("198.51.100.7", user, "guess")
	}
	if st := s.loginFrom("198.51.100.7", user, password); st != 401 {
		t.Fatalf("the attacker's pair is locked: got %d for the right password", st)
	}
	// Another IP is not locked by that pair: its wrong password reaches the portal.
	before := s.received()[user]
	s.loginFrom("203.0.113.9", user, "guess")
	if s.received()[user] != before+1 {
		t.Fatal("another IP's attempt did not reach the portal")
	}
	// More attackers push the account to its ceiling of 8: 3 + 1 + 3 + 1.
	for i := 0; i < 3; i++ {
		s.loginFrom("198.51.100.8", user, "guess")
	}
	s.loginFrom("198.51.100.9", user, "guess")
	if st := s.loginFrom("203.0.113.10", user, password); st != 401 {
		t.Fatalf("at the ceiling an unknown IP is refused: %d", st)
	}
	// From another address of the owner's /64, the known prefix still gets in.
	if st := s.loginFrom("2001:db8:1:2::99", user, password); st != 200 {
		t.Fatalf("the owner's known /64 is refused while the account is locked from elsewhere: %d", st)
	}
	if st := s.loginFrom("2001:db8:1:3::1", user, password); st != 401 {
		t.Fatalf("a neighbouring /64 is not known: %d", st)
	}
	if got := s.received()[user]; got != 10 {
		t.Fatalf("portal received %d attempts, want 10", got)
	}
	evs := s.waitEvents(13)
	if evs[1].RemoteAddress != "198.51.100.7" || evs[0].RemoteAddress != "2001:db8:1:2::10" {
		t.Fatalf("remoteAddress %q, %q: want the forwarded client IPs", evs[0].RemoteAddress, evs[1].RemoteAddress)
	}
}

func TestKnownIPsMemory(t *testing.T) { knownIPs(t, "memory") }

func TestKnownIPsRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	knownIPs(t, "redis://"+srv.Addr)
}
