// Command demoportal is a small web portal that behaves like the API portal of the
// login-log page: accounts in every state, a JSON login API with the
// page's messages, a form-login manager console, and a counter of the login
// requests that reached it. It is the upstream loginguard is demonstrated and
// tested in front of.
//
//	go run ./cmd/demoportal [-addr 127.0.0.1:9080] [-slow 0s] [-jitter 0s]
//
// The address defaults to $DEMOPORTAL_ADDR, then 127.0.0.1:9080. All accounts use
// the password "correct-horse"; the manager user is admin / manager-secret.
//
// Besides logging in, the portal offers every other step of an account's life,
// each a JSON route (that also reads form bodies) answering errors as
// {"code":"...","message":"..."}: a second login step with a TOTP code (RFC 6238:
// HMAC-SHA1, 6 digits, 30-second steps, one step of skew either way), MFA
// enrolment and disabling, password reset by a mailed token, password change, and
// registration. The account mfa@example.com has MFA on from the start, with the
// base32 TOTP secret NRXWO2LOM52WC4TEFVSGK3LPFVWWMYJB (DemoMFASecret): a right
// password answers {"mfaRequired":true,"mfaToken":"..."}, and POST
// /api/login/mfa {"mfaToken","code"} ends the login.
//
// Two routes exist for tests only: GET /api/_received counts the requests that
// reached each counted route, per principal (DELETE resets it), and GET
// /api/_mailbox?email= shows the last reset token "mailed" to an account.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// defaultAddr is where the portal listens without -addr or $DEMOPORTAL_ADDR.
const defaultAddr = "127.0.0.1:9080"

// demoAccountsHelp ends the usage text: the demo's accounts.
const demoAccountsHelp = `
Demo accounts (password "` + portalPassword + `"): active@example.com, markup@example.com
(ACTIVE), disabled@, waiting@, unconfirmed@, rejected@, notapproved@example.com
(one per refused state), and ` + mfaEmail + ` (ACTIVE, MFA on, TOTP secret
` + DemoMFASecret + `). Manager: ` + managerUsername + ` / ` + managerPassword + `.
`

// shutdownTimeout bounds how long in-flight requests may run after a signal.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	default:
		fmt.Fprintln(os.Stderr, "demoportal:", err)
		os.Exit(1)
	}
}

// run parses args, serves the portal until ctx is done, then shuts down gracefully.
// ready, when not nil, is called with the listening address once connections are
// accepted.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(net.Addr)) error {
	fs := flag.NewFlagSet("demoportal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := defaultAddr
	if env := getenv("DEMOPORTAL_ADDR"); env != "" {
		addr = env
	}
	fs.StringVar(&addr, "addr", addr, "listen address (default from $DEMOPORTAL_ADDR, else "+defaultAddr+")")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: demoportal [flags]\n\n")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), demoAccountsHelp)
	}
	slow := fs.Duration("slow", 0, "duration added to every response of a login or account route")
	jitter := fs.Duration("jitter", 0, "a random duration in [0, jitter) added to -slow")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if *slow < 0 {
		return fmt.Errorf("-slow must not be negative, got %s", *slow)
	}
	if *jitter < 0 {
		return fmt.Errorf("-jitter must not be negative, got %s", *jitter)
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           newPortalWith(options{slow: *slow, jitter: *jitter, logger: logger}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("demoportal listening", "addr", ln.Addr().String(), "slow", *slow, "jitter", *jitter)
	if ready != nil {
		ready(ln.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("demoportal shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}
