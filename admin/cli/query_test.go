package cli_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/loginguard/loginguard/admin/internal/admintest"
)

// Each subcommand, run with every one of its flags, is answered: the admin
// API refuses unknown and repeated query parameters, so this shows that it
// takes every parameter the CLI sends.
func TestEveryFlagAccepted(t *testing.T) {
	filters := []string{"--from", "2025-03-01", "--to", "2025-03-31", "--email", "carol@example.com", "--ip", "10.0.0.5",
		"--status", "SUCCESS", "--event-type", "LOGIN_SUCCESS,LOGOUT", "--source", "API_PORTAL", "--portal", "p1",
		"--reason", "BAD_CREDENTIALS", "--principal", "bob", "--sort", "date,asc", "--country", "nl", "--asn", "AS64496", "--device-type", "BOT",
		"--would-refuse", "locked", "--breached"}
	runs := [][]string{
		append([]string{"logs", "--page", "0", "--size", "5"}, filters...),
		{"stats", "--from", "2025-03-01", "--to", "2025-03-31", "--interval", "day", "--top", "3"},
		{"users", "--search", "example", "--page", "0", "--size", "5"},
		{"suspicious", "--window", "24h", "--min-ip-failures", "2", "--min-account-ips", "2", "--min-ip-accounts", "2", "--limit", "5"},
		{"suspicious", "--since", "2025-03-01"},
		{"lockouts"},
		{"lock", "bob", "--duration", "1h"},
		{"unlock", "bob"},
		{"block", "10.9.9.9", "--duration", "1h"},
		{"block", "10.0.0.0/8", "--force"},
		{"unblock", "10.9.9.9"},
		append([]string{"export", "--format", "ndjson"}, filters...),
		{"export", "--subject", "bob", "--format", "csv"},
		{"connectors"},
		{"erase", "nobody@example.com", "--pseudonym", "subject-query-test", "--yes"},
	}
	f := admintest.New(t, nil, nil)
	used := map[string][]string{}
	for _, args := range runs {
		if r := run(f, args...); r.code != 0 {
			t.Errorf("%s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
		used[args[0]] = append(used[args[0]], "")
		for _, a := range args[1:] {
			if strings.HasPrefix(a, "--") {
				used[args[0]] = append(used[args[0]], strings.TrimPrefix(a, "--"))
			}
		}
	}
	// Every flag of every subcommand (from its -h) is in runs.
	flagRE := regexp.MustCompile(`(?m)^  -([a-z-]+)`)
	globals := []string{"url", "token", "output", "timeout"}
	checked := 0
	for _, line := range strings.Split(run(f, "help").stdout, "\n") {
		fields := strings.Fields(line)
		if !strings.HasPrefix(line, "  ") || len(fields) == 0 || strings.HasPrefix(fields[0], "-") {
			continue
		}
		cmd := fields[0]
		if cmd == "pwned" {
			continue // builds a local file, sends nothing to the API (pwned_test.go)
		}
		h := run(f, cmd, "-h")
		if h.code != 0 {
			continue // not a subcommand line
		}
		checked++
		for _, m := range flagRE.FindAllStringSubmatch(h.stdout, -1) {
			if !slices.Contains(globals, m[1]) && !slices.Contains(used[cmd], m[1]) {
				t.Errorf("%s --%s is in no run of this test", cmd, m[1])
			}
		}
		if _, ok := used[cmd]; !ok {
			t.Errorf("subcommand %s is in no run of this test", cmd)
		}
	}
	if checked != len(used) {
		t.Errorf("help lists %d subcommands, this test runs %d", checked, len(used))
	}
}
