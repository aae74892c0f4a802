package state_test

import (
	"testing"

	"github.com/loginguard/loginguard/state"
)

func TestParseIPRange(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7":            "198.51.100.7/32",
		" 203.0.113.9/24 ":        "203.0.113.0/24",
		"2001:db8::1":             "2001:db8::1/128",
		"2001:db8:1:2::/32":       "2001:db8::/32",
		"::ffff:198.51.100.7":     "198.51.100.7/32",
		"::ffff:10.1.2.3/104":     "10.0.0.0/8",
		"0.0.0.0/0":               "0.0.0.0/0",
		"2001:DB8::ABCD/64":       "2001:db8::/64",
		"::ffff:198.51.100.0/120": "198.51.100.0/24",
	} {
		p, err := state.ParseIPRange(in)
		if err != nil || p.String() != want {
			t.Fatalf("ParseIPRange(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "x", "10.0.0.1/33", "fe80::1%eth0", "::ffff:10.0.0.0/64", "10.0.0.1/"} {
		if p, err := state.ParseIPRange(bad); err == nil {
			t.Fatalf("ParseIPRange(%q) = %v, want an error", bad, p)
		}
	}
}
