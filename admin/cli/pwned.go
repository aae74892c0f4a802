package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/loginguard/loginguard/pwned"
)

// pwnedUsage is the help of `caddy loginguard pwned`.
const pwnedUsage = `usage: caddy loginguard pwned build <pwnedpasswords.txt|-> -o <pwned.bin> [--min-count N] [--mode fuse|table] [--temp-dir DIR] [--quiet]
       caddy loginguard pwned info <pwned.bin>

build reads Have I Been Pwned's Pwned Passwords set in its text form (lines
SHA1HEX:COUNT, as the haveibeenpwned-downloader writes them; "-" reads standard
input) and writes the compact file loginguard checks passwords against. The file
is written under a temporary name beside the output and renamed over it when
complete, so a running Caddy never sees a part of it. Progress goes to stderr.

  --mode fuse    a binary fuse filter: about 1.13 bytes per hash, 0.39 % false
                 positives (the default)
  --mode table   sorted 32-bit remainders: about 4.2 bytes per hash, under one
                 false positive in 100 million
  --min-count N  keep only the passwords seen at least N times (default: all)
  --temp-dir DIR partition files, 8 bytes per hash kept (default: the output's
                 directory)

info checks a file (header, length, checksum) and prints what it holds.
`

// runPwned runs `caddy loginguard pwned ...`: it needs no admin API.
func runPwned(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		io.WriteString(stderr, pwnedUsage)
		return ExitUsage
	}
	switch args[0] {
	case "help", "-h", "--help", "-help":
		io.WriteString(stdout, pwnedUsage)
		return ExitOK
	case "build":
		return pwnedBuild(args[1:], stdin, stdout, stderr)
	case "info":
		return pwnedInfo(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "loginguard pwned: unknown subcommand %q\n", args[0])
	io.WriteString(stderr, pwnedUsage)
	return ExitUsage
}

func pwnedBuild(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loginguard pwned build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { io.WriteString(fs.Output(), pwnedUsage) }
	out := fs.String("o", "", "output file")
	fs.StringVar(out, "output", "", "output file")
	minCount := fs.Uint64("min-count", 0, "keep only the passwords seen at least this many times")
	mode := fs.String("mode", "fuse", "fuse or table")
	tempDir := fs.String("temp-dir", "", "directory of the partition files")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	every := fs.Duration("progress", 5*time.Second, "interval between progress lines")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stdout, pwnedUsage)
			return ExitOK
		}
		return ExitUsage
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "loginguard pwned build: "+format+"\n", a...)
		return code
	}
	if len(pos) != 1 {
		return fail(ExitUsage, "want one input file (or - for standard input), got %d arguments", len(pos))
	}
	if *out == "" {
		return fail(ExitUsage, "-o: want the output file, e.g. -o pwned.bin")
	}
	m, err := pwned.ParseMode(*mode)
	if err != nil {
		return fail(ExitUsage, "--%v", err)
	}
	in := stdin
	name := "standard input"
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fail(ExitAPI, "%v", err)
		}
		defer f.Close()
		in, name = f, pos[0]
	}
	opts := pwned.BuildOptions{Mode: m, MinCount: *minCount, TempDir: *tempDir, ProgressEvery: *every}
	if !*quiet {
		opts.Progress = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st, err := pwned.Build(ctx, in, *out, opts)
	if err != nil {
		var le *pwned.LineError
		if errors.As(err, &le) {
			return fail(ExitAPI, "%s %v", name, err)
		}
		return fail(ExitAPI, "%s: %v", name, err)
	}
	fmt.Fprintf(stdout, "%s: %d hashes (of %d lines), mode %s, %d bytes (%.3f bytes per hash), in %s\n",
		*out, st.Distinct, st.Lines, st.Mode, st.Size, st.BytesPerHash(), st.Elapsed.Round(time.Millisecond))
	return ExitOK
}

func pwnedInfo(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "loginguard pwned info: want one file\n")
		return ExitUsage
	}
	f, err := pwned.Open(args[0], pwned.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "loginguard pwned info: %v\n", err)
		return ExitAPI
	}
	defer f.Close()
	st := f.Stats()
	fmt.Fprintf(stdout, "%s: %d hashes, mode %s, min count %d, %d shards, %d bytes (%.3f bytes per hash)\n",
		st.Path, st.Hashes, st.Mode, st.MinCount, 1<<st.ShardBits, st.Size, float64(st.Size)/float64(max(st.Hashes, 1)))
	return ExitOK
}
