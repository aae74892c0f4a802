package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// How long a ticket is valid after it was issued.
const (
	// mfaTicketTTL bounds the time between a right password and its MFA code.
	mfaTicketTTL = 5 * time.Minute
	// resetTicketTTL bounds the time between a reset request and the new password.
	resetTicketTTL = time.Hour
)

// ticket is what a ticket token stands for: an account and when it was issued.
type ticket struct {
	email  string
	issued time.Time
}

// ticketStore holds short-lived random tokens, each standing for an account: the
// pending logins waiting for an MFA code and the password reset links. It is safe
// for concurrent use.
type ticketStore struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	tickets map[string]ticket
	// sweepAt is the number of tickets at which the next issue drops the expired
	// ones, so that tickets nobody redeems do not pile up.
	sweepAt int
}

// sweepMin is the fewest tickets a store sweeps.
const sweepMin = 64

func newTicketStore(ttl time.Duration, now func() time.Time) *ticketStore {
	return &ticketStore{ttl: ttl, now: now, tickets: make(map[string]ticket), sweepAt: sweepMin}
}

// issue returns a new token for the account with the given email.
func (s *ticketStore) issue(email string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating token: %w", err)
	}
	token := hex.EncodeToString(b)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tickets) >= s.sweepAt {
		for t, tk := range s.tickets {
			if s.expired(tk, now) {
				delete(s.tickets, t)
			}
		}
		s.sweepAt = max(sweepMin, 2*len(s.tickets))
	}
	s.tickets[token] = ticket{email: email, issued: now}
	return token, nil
}

// expired reports whether tk is too old at now.
func (s *ticketStore) expired(tk ticket, now time.Time) bool {
	return now.Sub(tk.issued) >= s.ttl
}

// peek returns the account of a valid token, leaving it valid.
func (s *ticketStore) peek(token string) (email string, ok bool) {
	return s.redeem(token, keepTicket)
}

// take returns the account of a valid token and ends the token, so that of two
// requests redeeming one token only one succeeds.
func (s *ticketStore) take(token string) (email string, ok bool) {
	return s.redeem(token, endTicket)
}

// takeAll is take that also ends every other token of the same account, all at
// once: a password reset voids the account's older reset links.
func (s *ticketStore) takeAll(token string) (email string, ok bool) {
	return s.redeem(token, endAccountTickets)
}

// ending is which tokens a redemption ends.
type ending int

const (
	keepTicket        ending = iota // none: an expired token is dropped all the same
	endTicket                       // the token redeemed, valid or not
	endAccountTickets               // every token of the redeemed token's account
)

// redeem returns the account of a valid token, after ending the tokens that end
// says, all under one lock. An empty token (a field left out) is never valid.
func (s *ticketStore) redeem(token string, end ending) (email string, ok bool) {
	if token == "" {
		return "", false
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	tk, ok := s.tickets[token]
	if !ok {
		return "", false
	}
	expired := s.expired(tk, now)
	switch {
	case end == endAccountTickets:
		for t, other := range s.tickets {
			if other.email == tk.email {
				delete(s.tickets, t)
			}
		}
	case end == endTicket || expired:
		delete(s.tickets, token)
	}
	if expired {
		return "", false
	}
	return tk.email, true
}
