// Package cli is the `caddy loginguard` command: subcommands that talk to the
// loginguard admin API (package admin) over HTTP. The Caddy module registers
// Run as the loginguard command; nothing here imports Caddy.
//
// The API's URL and token come from --url and --token, or from the
// LOGINGUARD_ADMIN_URL and LOGINGUARD_ADMIN_TOKEN environment variables.
// Output is a human-friendly table by default, or --output json or csv.
//
// Exit codes: 0 success, 1 an error of the API (its message is printed) or of
// the network, 2 a usage error, 3 an authentication error (401, 403), 4 not
// found (404).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Exit codes of Run.
const (
	ExitOK       = 0
	ExitAPI      = 1
	ExitUsage    = 2
	ExitAuth     = 3
	ExitNotFound = 4
)

// Defaults and environment variables.
const (
	DefaultURL = "http://localhost:8081"
	EnvURL     = "LOGINGUARD_ADMIN_URL"
	EnvToken   = "LOGINGUARD_ADMIN_TOKEN"
)

// command is one subcommand.
type command struct {
	name, args, summary string
	// flags adds the subcommand's own flags to fs and returns its function.
	flags func(fs *flag.FlagSet) func(ctx context.Context, e *env, pos []string) error
	// minArgs and maxArgs bound the positional arguments.
	minArgs, maxArgs int
	// stream: the command streams an export, so the request has no timeout.
	stream bool
}

// commands lists the subcommands in the order of the usage text.
func commands() []command {
	return []command{
		{name: "logs", summary: "search the login log (one page)", flags: logsCmd},
		{name: "stats", summary: "login statistics", flags: statsCmd},
		{name: "users", summary: "users' last login, logout, failure and status", flags: usersCmd},
		{name: "suspicious", summary: "IPs and accounts with suspicious failures", flags: suspiciousCmd},
		{name: "lockouts", summary: "locked accounts and blocked IPs", flags: lockoutsCmd},
		{name: "lock", args: "<principal>", summary: "lock an account", flags: lockCmd, minArgs: 1, maxArgs: 1},
		{name: "unlock", args: "<principal>", summary: "unlock an account and clear its failures", flags: unlockCmd, minArgs: 1, maxArgs: 1},
		{name: "block", args: "<ip|cidr>", summary: "block an IP or range", flags: blockCmd, minArgs: 1, maxArgs: 1},
		{name: "unblock", args: "<ip|cidr>", summary: "lift a block", flags: unblockCmd, minArgs: 1, maxArgs: 1},
		{name: "export", summary: "stream every matching event (csv, ndjson), or one identity's (--subject)", flags: exportCmd, stream: true},
		{name: "connectors", summary: "delivery counters of the connectors", flags: connectorsCmd},
		{name: "erase", args: "<principal>", summary: "erase or pseudonymise one identity's events", flags: eraseCmd, minArgs: 1, maxArgs: 1},
	}
}

// globals are the flags every subcommand takes.
type globals struct {
	url, token, output string
	timeout            time.Duration
}

func (g *globals) add(fs *flag.FlagSet) {
	fs.StringVar(&g.url, "url", g.url, "admin API URL (env "+EnvURL+")")
	fs.StringVar(&g.token, "token", g.token, "bearer token (env "+EnvToken+")")
	fs.StringVar(&g.output, "output", g.output, "output format: table, json or csv")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "request timeout (not for export)")
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// Run runs `caddy loginguard <args...>`: args[0] (after any global flags) is the
// subcommand. env reads the environment (os.Getenv). It returns the exit code.
func Run(args []string, env func(string) string, stdout, stderr io.Writer) int {
	if env == nil {
		env = func(string) string { return "" }
	}
	g := globals{url: env(EnvURL), token: env(EnvToken), output: "table", timeout: 30 * time.Second}
	if g.url == "" {
		g.url = DefaultURL
	}
	gfs := flag.NewFlagSet("loginguard", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	g.add(gfs)
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return ExitOK
		}
		fmt.Fprintf(stderr, "loginguard: %v\n", err)
		usage(stderr)
		return ExitUsage
	}
	rest := gfs.Args()
	if len(rest) == 0 {
		usage(stderr)
		return ExitUsage
	}
	if rest[0] == "help" {
		usage(stdout)
		return ExitOK
	}
	if rest[0] == "pwned" {
		return runPwned(rest[1:], os.Stdin, stdout, stderr)
	}
	i := slices.IndexFunc(commands(), func(c command) bool { return c.name == rest[0] })
	if i < 0 {
		fmt.Fprintf(stderr, "loginguard: unknown subcommand %q\n", rest[0])
		usage(stderr)
		return ExitUsage
	}
	cmd := commands()[i]
	fs := flag.NewFlagSet("loginguard "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	g.add(fs)
	run := cmd.flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: caddy loginguard %s [flags] %s\n  %s\n\nflags:\n", cmd.name, cmd.args, cmd.summary)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, rest[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return ExitOK
		}
		return ExitUsage // the flag package printed the error and the usage
	}
	if len(pos) < cmd.minArgs || len(pos) > cmd.maxArgs {
		want := "no arguments"
		if cmd.args != "" {
			want = cmd.args
		}
		fmt.Fprintf(stderr, "loginguard %s: want %s, got %d argument(s)\n", cmd.name, want, len(pos))
		fs.Usage()
		return ExitUsage
	}
	if !slices.Contains([]string{"table", "json", "csv"}, g.output) {
		fmt.Fprintf(stderr, "loginguard %s: --output %q: want table, json or csv\n", cmd.name, g.output)
		return ExitUsage
	}
	e, err := newEnv(g, cmd.stream, stdout)
	if err == nil {
		ctx := context.Background()
		err = run(ctx, e, pos)
	}
	return report(err, cmd.name, stderr)
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// report prints err and returns its exit code.
func report(err error, name string, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var ue *usageError
	var ae *apiError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "loginguard %s: %s\n", name, ue.msg)
		return ExitUsage
	case errors.As(err, &ae):
		fmt.Fprintf(stderr, "loginguard %s: %s\n", name, ae.Error())
		switch ae.status {
		case 401, 403:
			return ExitAuth
		case 404:
			return ExitNotFound
		}
		return ExitAPI
	}
	fmt.Fprintf(stderr, "loginguard %s: %v\n", name, err)
	return ExitAPI
}

func usage(w io.Writer) {
	var b strings.Builder
	b.WriteString("usage: caddy loginguard [--url URL] [--token TOKEN] [--output table|json|csv] <subcommand> [flags] [args]\n\nsubcommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-11s %-12s %s\n", c.name, c.args, c.summary)
	}
	b.WriteString("  pwned       build <in> -o <out>  build the breached-passwords file (no API; see `caddy loginguard pwned help`)\n")
	b.WriteString("\nThe URL and token default to $" + EnvURL + " (else " + DefaultURL + ") and $" + EnvToken + ".\n")
	b.WriteString("Exit codes: 0 ok, 1 API or network error, 2 usage error, 3 authentication error, 4 not found.\n")
	b.WriteString("`caddy loginguard <subcommand> -h` lists a subcommand's flags.\n")
	io.WriteString(w, b.String())
}
