package main

import (
	"net/http"
	"strings"
	"sync"
)

// receivedCounter counts the login requests that reached the portal, per lower-cased
// principal ("" when the request carried none that could be read). Tests use it to
// prove which attempts the gateway stopped.
type receivedCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func newReceivedCounter() *receivedCounter {
	return &receivedCounter{counts: make(map[string]int)}
}

// add counts one login request for principal.
func (c *receivedCounter) add(principal string) {
	key := strings.ToLower(principal)
	c.mu.Lock()
	c.counts[key]++
	c.mu.Unlock()
}

// snapshot returns a copy of the counts.
func (c *receivedCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// reset forgets all counts.
func (c *receivedCounter) reset() {
	c.mu.Lock()
	clear(c.counts)
	c.mu.Unlock()
}

// handleReceived serves GET /api/_received.
func (p *portal) handleReceived(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, p.received.snapshot())
}

// handleResetReceived serves DELETE /api/_received.
func (p *portal) handleResetReceived(w http.ResponseWriter, r *http.Request) {
	p.received.reset()
	w.WriteHeader(http.StatusNoContent)
}
