package ratelimit_test

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loginguard/loginguard/ratelimit"
)

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		o    ratelimit.Options
		want string
	}{
		{ratelimit.Options{IP: "20/M"}, `ip: invalid rate "20/M"`},
		{ratelimit.Options{Account: "0-M"}, `account: invalid rate "0-M"`},
		{ratelimit.Options{Route: "5-W"}, `route: invalid rate "5-W"`},
		{ratelimit.Options{Route: "-5-M"}, `route: invalid rate "-5-M"`},
		{ratelimit.Options{IP: " 20-M"}, `ip: invalid rate " 20-M"`},
		{ratelimit.Options{IPv4Prefix: 33}, `ipv4 prefix: 33 is not between 1 and 32`},
		{ratelimit.Options{IPv4Prefix: -1}, `ipv4 prefix: -1`},
		{ratelimit.Options{IPv6Prefix: 129}, `ipv6 prefix: 129 is not between 1 and 128`},
		{ratelimit.Options{Deny: []string{"10.0.0.0/8", "192.0.2.1", "10.0.0.0/33"}}, `deny[2]: invalid CIDR "10.0.0.0/33"`},
		{ratelimit.Options{Allow: []string{""}}, `allow[0]: empty entry`},
		{ratelimit.Options{Allow: []string{"example.com"}}, `allow[0]: invalid IP address "example.com"`},
		{ratelimit.Options{Allow: []string{"fe80::1%eth0"}}, `allow[0]: invalid IP address "fe80::1%eth0": zones are not allowed`},
		{ratelimit.Options{Deny: []string{"::ffff:10.0.0.0/8"}}, `deny[0]: invalid CIDR "::ffff:10.0.0.0/8": an IPv4-mapped prefix needs at least 96 bits`},
	}
	for _, tt := range tests {
		_, err := ratelimit.New(tt.o)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error starting %q", tt.o, err, tt.want)
		}
	}
}

func TestNewAcceptsRates(t *testing.T) {
	for _, r := range []string{"20-M", "1-S", "1000-H", "5-D", "20-m"} {
		l := mustNew(t, ratelimit.Options{IP: r, Account: r, Route: r})
		if d := check(t, l, "192.0.2.1", "a"); d.Verdict != ratelimit.Allowed || d.Limit < 1 {
			t.Errorf("rate %q: %+v", r, d)
		}
	}
	// List entries are trimmed and host bits cleared; mapped IPv4 is IPv4.
	l := mustNew(t, ratelimit.Options{Deny: []string{" 192.0.2.77/24 ", "::ffff:198.51.100.0/120", "::ffff:203.0.113.9"}})
	for _, ip := range []string{"192.0.2.1", "198.51.100.200", "203.0.113.9", "::ffff:203.0.113.9"} {
		if d := check(t, l, ip, ""); d.Verdict != ratelimit.Denied {
			t.Errorf("%s: %+v, want denied", ip, d)
		}
	}
	if d := check(t, l, "203.0.113.10", ""); d.Verdict != ratelimit.Allowed || d.Scope != "" {
		t.Errorf("203.0.113.10: %+v, want allowed, no limit", d)
	}
}

func TestCheckInvalidIP(t *testing.T) {
	l := mustNew(t, ratelimit.Options{IP: "1-M"})
	if _, err := l.Check(context.Background(), netip.Addr{}, "a"); err == nil {
		t.Fatal("Check with the zero Addr: no error")
	}
	// A zone does not make a client of its own.
	n := countAllowed(t, l, 1, "fe80::1%eth0", "", "ip") + countAllowed(t, l, 1, "fe80::1%eth1", "", "ip")
	if n != 1 {
		t.Fatalf("%d allowed from fe80::1 with two zones, want 1", n)
	}
}

func TestPrefixOf(t *testing.T) {
	tests := []struct {
		ip     string
		v4, v6 int
		want   string
	}{
		{"192.0.2.77", 32, 64, "192.0.2.77/32"},
		{"192.0.2.77", 24, 64, "192.0.2.0/24"},
		{"::ffff:192.0.2.77", 24, 64, "192.0.2.0/24"},
		{"2001:db8:1:2:3:4:5:6", 32, 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 32, 48, "2001:db8:1::/48"},
		{"fe80::1%eth0", 32, 128, "fe80::1/128"},
		{"192.0.2.77", 40, 64, "192.0.2.77/32"}, // clamped
		{"2001:db8::1", 32, -3, "::/0"},         // clamped
	}
	for _, tt := range tests {
		got := ratelimit.PrefixOf(netip.MustParseAddr(tt.ip), tt.v4, tt.v6)
		if got.String() != tt.want {
			t.Errorf("PrefixOf(%s, %d, %d) = %s, want %s", tt.ip, tt.v4, tt.v6, got, tt.want)
		}
	}
	if p := ratelimit.PrefixOf(netip.Addr{}, 32, 64); p.IsValid() {
		t.Errorf("PrefixOf(zero) = %v, want the zero Prefix", p)
	}
}

func TestHeaders(t *testing.T) {
	l := mustNew(t, ratelimit.Options{IP: "2-M", Deny: []string{"10.0.0.0/8"}, Allow: []string{"192.168.0.0/16"}})

	h := http.Header{}
	d := check(t, l, "192.0.2.1", "")
	d.Headers(h)
	reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	if err != nil {
		t.Fatalf("X-RateLimit-Reset %q: %v", h.Get("X-RateLimit-Reset"), err)
	}
	if h.Get("X-RateLimit-Limit") != "2" || h.Get("X-RateLimit-Remaining") != "1" || h.Get("Retry-After") != "" {
		t.Fatalf("allowed: headers %v", h)
	}
	if now := time.Now().Unix(); reset < now+59 || reset > now+61 {
		t.Fatalf("X-RateLimit-Reset %d, want about %d (a minute from now, Unix seconds)", reset, now+60)
	}

	check(t, l, "192.0.2.1", "")
	d = check(t, l, "192.0.2.1", "")
	if d.Verdict != ratelimit.Limited {
		t.Fatalf("3rd attempt: %+v, want limited", d)
	}
	h = http.Header{}
	d.Headers(h)
	if h.Get("X-RateLimit-Limit") != "2" || h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("limited: headers %v", h)
	}
	ra, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 61 {
		t.Fatalf("Retry-After %q, want whole seconds between 1 and 61", h.Get("Retry-After"))
	}
	// Retry-After points at or after the reset it announces.
	if reset, _ := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); time.Now().Unix()+int64(ra) < reset {
		t.Fatalf("Retry-After %d ends before X-RateLimit-Reset %d", ra, reset)
	}

	for _, ip := range []string{"10.1.1.1", "192.168.1.1"} {
		h = http.Header{}
		check(t, l, ip, "").Headers(h)
		if len(h) != 0 {
			t.Fatalf("%s (denied or skipped): headers %v, want none", ip, h)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		reset time.Time
		want  int64
	}{
		{now.Add(30 * time.Second), 30},
		{now.Add(29*time.Second + time.Millisecond), 30},
		{now.Add(time.Millisecond), 1},
		{now, 1},
		{now.Add(-time.Hour), 1},
	}
	for _, tt := range tests {
		d := ratelimit.Decision{Verdict: ratelimit.Limited, Limit: 1, Reset: tt.reset}
		if got := d.RetryAfter(now); got != tt.want {
			t.Errorf("RetryAfter(reset in %v) = %d, want %d", tt.reset.Sub(now), got, tt.want)
		}
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[ratelimit.Verdict]string{
		ratelimit.Allowed: "allowed", ratelimit.Limited: "limited", ratelimit.Denied: "denied",
		ratelimit.Skipped: "skipped", 0: "verdict(0)",
	} {
		if v.String() != want {
			t.Errorf("%d: %q, want %q", int(v), v.String(), want)
		}
	}
}
