package policy

import (
	"testing"

	"github.com/loginguard/loginguard/event"
)

func TestDescribe(t *testing.T) {
	const (
		bad     = "org.springframework.security.authentication.BadCredentialsException"
		notF    = "org.springframework.security.core.userdetails.UsernameNotFoundException"
		status  = "org.springframework.security.authentication.AccountStatusException"
		service = "org.springframework.security.authentication.AuthenticationServiceException"
	)
	tests := []struct {
		r         event.Reason
		src       event.Source
		identity  string
		failures  int
		msg, kind string
	}{
		// The login-log page, wrong password on the portal.
		{event.BadCredentials, event.SourcePortal, "user@apinizer.com", 1, "Account user@apinizer.com failed authentication due to 1 failed login attempts", bad},
		{event.BadCredentials, event.SourcePortal, "user@apinizer.com", 5, "Account user@apinizer.com failed authentication due to 5 failed login attempts", bad},
		// The connector event's manager example.
		{event.BadCredentials, event.SourceManager, "username", 3, "Bad credentials", bad},
		{event.BadCredentials, event.SourcePortal, "", 2, "Bad credentials", bad},
		{event.BadCredentials, event.SourcePortal, " a\nb ", 2, "Account a\uFFFDb failed authentication due to 2 failed login attempts", bad},
		// The login-log page's summary table.
		{event.AccountNotFound, event.SourcePortal, "x@y", 0, "Authentication failed -> Account not found", notF},
		{event.AccountNotFound, event.SourceManager, "x", 0, "Authentication failed -> Account not found", notF},
		{event.Disabled, event.SourcePortal, "x@y", 5, "Authentication failed -> DISABLED", "org.springframework.security.authentication.DisabledException"},
		{event.WaitingForApprovement, event.SourcePortal, "x@y", 0, "Authentication failed -> WAITING_FOR_APPROVEMENT", status},
		{event.ConfirmationNeeded, event.SourcePortal, "x@y", 0, "Authentication failed -> CONFIRMATION_NEEDED", status},
		{event.Rejected, event.SourcePortal, "x@y", 0, "Authentication failed -> REJECTED", status},
		{event.NotApproved, event.SourcePortal, "x@y", 0, "Authentication failed -> NOT_APPROVED", status},
		{event.Locked, event.SourcePortal, "x@y", 5, "Authentication failed -> LOCKED", "org.springframework.security.authentication.LockedException"},
		{event.MFARequired, event.SourceManager, "x", 0, "Authentication failed -> MFA_REQUIRED", "org.springframework.security.authentication.InsufficientAuthenticationException"},
		{event.MFAFailed, event.SourceManager, "x", 0, "Authentication failed -> MFA_FAILED", bad},
		{event.RateLimited, event.SourcePortal, "x@y", 0, "Authentication failed -> RATE_LIMITED", service},
		{event.UpstreamError, event.SourcePortal, "x@y", 0, "Authentication failed -> UPSTREAM_ERROR", service},
		{event.Unknown, event.SourcePortal, "x@y", 0, "Authentication failed -> UNKNOWN", "org.springframework.security.core.AuthenticationException"},
		{"BOGUS", event.SourcePortal, "x@y", 0, "Authentication failed -> UNKNOWN", "org.springframework.security.core.AuthenticationException"},
		{"", event.SourcePortal, "x@y", 0, "Authentication failed -> UNKNOWN", "org.springframework.security.core.AuthenticationException"},
	}
	for _, tt := range tests {
		msg, kind := Describe(tt.r, tt.src, tt.identity, tt.failures)
		if msg != tt.msg || kind != tt.kind {
			t.Errorf("Describe(%s, %s, %q, %d) = %q, %q; want %q, %q", tt.r, tt.src, tt.identity, tt.failures, msg, kind, tt.msg, tt.kind)
		}
	}
	// Every reason has a wording and an error type.
	for _, r := range event.Reasons {
		msg, kind := Describe(r, event.SourcePortal, "x@y", 1)
		if msg == "" || kind == "" {
			t.Errorf("Describe(%s) = %q, %q", r, msg, kind)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Describe(event.Disabled, event.SourcePortal, "x@y", 1) }); n != 0 {
		t.Errorf("Describe(DISABLED) allocated %v times, want 0", n)
	}
}
