package redisstate

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url                string
		addrs              []string
		db                 int
		master             string
		user, pass         string
		sentUser, sentPass string
		cluster, tls       bool
	}{
		{url: "redis://127.0.0.1:6379", addrs: []string{"127.0.0.1:6379"}},
		{url: "redis://localhost", addrs: []string{"localhost:6379"}},
		{url: "redis://:s%40cret@h:7000/3", addrs: []string{"h:7000"}, db: 3, pass: "s@cret"},
		{url: "rediss://user:pw@[::1]:6380/", addrs: []string{"[::1]:6380"}, user: "user", pass: "pw", tls: true},
		{url: "redis+sentinel://s1,s2:26380/mymaster", addrs: []string{"s1:26379", "s2:26380"}, master: "mymaster"},
		{url: "redis+sentinel://:pw@s1/mymaster/2?sentinel_password=sp&sentinel_username=su",
			addrs: []string{"s1:26379"}, master: "mymaster", db: 2, pass: "pw", sentUser: "su", sentPass: "sp"},
		{url: "redis+cluster://n1:7000,n2:7001,n3", addrs: []string{"n1:7000", "n2:7001", "n3:6379"}, cluster: true},
		{url: "rediss+cluster://n1:7000", addrs: []string{"n1:7000"}, cluster: true, tls: true},
		{url: "REDIS+CLUSTER://n1:7000", addrs: []string{"n1:7000"}, cluster: true},
	} {
		o, err := parseURL(tc.url)
		if err != nil {
			t.Fatalf("parseURL(%q): %v", tc.url, err)
		}
		if !slices.Equal(o.Addrs, tc.addrs) || o.DB != tc.db || o.MasterName != tc.master ||
			o.Username != tc.user || o.Password != tc.pass || o.SentinelUsername != tc.sentUser ||
			o.SentinelPassword != tc.sentPass || o.IsClusterMode != tc.cluster || (o.TLSConfig != nil) != tc.tls {
			t.Fatalf("parseURL(%q) = %+v", tc.url, o)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, u := range []string{
		"127.0.0.1:6379",
		"http://h",
		"redis+ring://h",
		"redis://h1,h2",
		"redis://h/db",
		"redis://h/1/2",
		"redis://h:0",
		"redis://h:99999",
		"redis://h:port",
		"redis://",
		"redis://h,",
		"redis://[::1",
		"redis+sentinel://s1",
		"redis+cluster://n1/0",
		"redis://h?timeout=1",
		"redis://:secret%zz@h",
	} {
		o, err := parseURL(u)
		if err == nil {
			t.Fatalf("parseURL(%q) = %+v, want an error", u, o)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Fatalf("parseURL(%q): error %q repeats the password", u, err)
		}
	}
}

func TestNewOptions(t *testing.T) {
	ctx := context.Background()
	for _, o := range []Options{
		{URL: "redis://h", Prefix: "lg{x}:"},
		{URL: "redis://h", Prefix: "}"},
		{URL: "ftp://h"},
		{URL: "redis://h", DialTimeout: -1},
	} {
		if s, err := New(ctx, o); err == nil {
			s.Close()
			t.Fatalf("New(%+v) succeeded, want an error", o)
		}
	}
	// Nothing listens on port 1: New must still succeed.
	s, err := New(ctx, Options{URL: "redis://127.0.0.1:1"})
	if err != nil {
		t.Fatalf("New with Redis down: %v", err)
	}
	defer s.Close()
	if s.prefix != DefaultPrefix {
		t.Fatalf("prefix = %q, want %q", s.prefix, DefaultPrefix)
	}
	if got := s.accountKey("a}{b"); !strings.HasPrefix(got, DefaultPrefix+"{b") || !strings.HasSuffix(got, "}:a:a}{b") {
		t.Fatalf("account key = %q", got)
	}
}

func TestMilliseconds(t *testing.T) {
	for _, tc := range []struct {
		d    int64
		want int64
	}{{0, 0}, {-5, 0}, {1, 1}, {999_999, 1}, {1_000_000, 1}, {1_000_001, 2}, {1 << 62, (1<<62)/1_000_000 + 1}} {
		if got := ms(time.Duration(tc.d)); got != tc.want {
			t.Fatalf("ms(%d ns) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
