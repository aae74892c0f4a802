package main

import (
	"net/http"
	"strings"
	"sync"
)

// The routes whose requests the portal counts: every step of an account's life
// that a gateway may judge from the portal's answer. Each is a POST.
const (
	routeLogin            = "/api/login"
	routeManagerLogin     = "/manager/login"
	routeLoginMFA         = "/api/login/mfa"
	routeMFAEnroll        = "/api/mfa/enroll"
	routeMFAEnrollConfirm = "/api/mfa/enroll/confirm"
	routeMFADisable       = "/api/mfa/disable"
	routeResetRequest     = "/api/password/reset-request"
	routeReset            = "/api/password/reset"
	routePasswordChange   = "/api/password/change"
	routeRegister         = "/api/register"
)

// receivedCounter counts the requests of the counted routes that reached the
// portal, so tests can prove which ones the gateway stopped. It keeps two views:
//
//   - by principal (GET /api/_received): the two login routes count under the
//     lower-cased principal alone ("" when the request carried none that could be
//     read), e.g. "active@example.com" or "admin"; every other route counts under
//     "ROUTE PRINCIPAL", e.g. "/api/login/mfa mfa@example.com" or
//     "/api/password/reset-request ghost@example.com" ("/api/login/mfa " when
//     the principal is unknown). The principal is the one the portal resolved:
//     the email sent, the session's, the MFA ticket's or the reset token's.
//   - by route (GET /api/_received?by=route): the total of each route, e.g.
//     {"/api/login":3,"/api/login/mfa":2}.
type receivedCounter struct {
	mu      sync.Mutex
	counts  map[string]int // by principal view
	byRoute map[string]int
}

func newReceivedCounter() *receivedCounter {
	return &receivedCounter{counts: make(map[string]int), byRoute: make(map[string]int)}
}

// add counts one request of route for principal.
func (c *receivedCounter) add(route, principal string) {
	key := strings.ToLower(principal)
	if route != routeLogin && route != routeManagerLogin {
		key = route + " " + key
	}
	c.mu.Lock()
	c.counts[key]++
	c.byRoute[route]++
	c.mu.Unlock()
}

// snapshot returns a copy of the counts by principal, or by route when byRoute.
func (c *receivedCounter) snapshot(byRoute bool) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	src := c.counts
	if byRoute {
		src = c.byRoute
	}
	out := make(map[string]int, len(src))
	for k, v := range src {
		out[k] = v
	}
	return out
}

// reset forgets all counts.
func (c *receivedCounter) reset() {
	c.mu.Lock()
	clear(c.counts)
	clear(c.byRoute)
	c.mu.Unlock()
}

// handleReceived serves GET /api/_received[?by=route].
func (p *portal) handleReceived(w http.ResponseWriter, r *http.Request) {
	by := r.URL.Query().Get("by")
	if by != "" && by != "route" {
		writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", `The parameter "by" must be "route" or absent.`)
		return
	}
	writeJSON(w, http.StatusOK, p.received.snapshot(by == "route"))
}

// handleResetReceived serves DELETE /api/_received.
func (p *portal) handleResetReceived(w http.ResponseWriter, r *http.Request) {
	p.received.reset()
	w.WriteHeader(http.StatusNoContent)
}
