package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/loginguard/loginguard/event"
)

// TestFailClosedRateLimits: with on_state_error fail_closed and Redis
// unreachable, the rate limits (which count in Redis) refuse with 503 and
// Retry-After, and the attempt is recorded as UPSTREAM_ERROR; nothing reaches
// the portal.
func TestFailClosedRateLimits(t *testing.T) {
	cf := config{
		App:     fmt.Sprintf("state redis://127.0.0.1:%d\n\t\ton_state_error fail_closed", freePort(t)),
		Handler: "rate_limit {\n\t\t\tip 100-M\n\t\t}",
	}.String()
	s := newStack(t, stackOptions{Caddyfile: cf})
	resp, _ := s.login("active@example.com", "correct-horse")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
		t.Fatalf("with Redis unreachable: %d, Retry-After %q; want 503 and 5", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := s.received()["active@example.com"]; got != 0 {
		t.Errorf("the portal received %d attempts while the state was down", got)
	}
	evs := s.waitEvents(1)
	if evs[0].EventType != event.LoginFailure || evs[0].Reason != event.UpstreamError {
		t.Errorf("event %s %s, want LOGIN_FAILURE UPSTREAM_ERROR", evs[0].EventType, evs[0].Reason)
	}
}

// TestPortalDown: a portal that cannot be reached gets Caddy's 502, recorded
// as UPSTREAM_ERROR, never counted against the account.
func TestPortalDown(t *testing.T) {
	s := newStack(t, stackOptions{Upstream: fmt.Sprintf("127.0.0.1:%d", freePort(t))})
	for range 6 {
		resp, _ := s.login("active@example.com", "wrong")
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("portal down: %d, want 502", resp.StatusCode)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := s.readEvents()
		n := 0
		for _, e := range evs {
			if e.EventType == event.LoginFailure && e.Reason == event.UpstreamError {
				n++
			}
			if e.EventType == event.AccountLocked {
				t.Fatalf("portal errors locked the account: %+v", e)
			}
		}
		if n == 6 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d UPSTREAM_ERROR events of 6", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
