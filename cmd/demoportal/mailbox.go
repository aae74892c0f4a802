package main

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// sentMail is the last mail the portal "sent" to an account: a password reset
// link. The portal sends no real mail; tests and the demo read it from GET
// /api/_mailbox.
type sentMail struct {
	Email string `json:"email"`
	Token string `json:"token"`
	// Link is the page that takes the new password for the token.
	Link string `json:"link"`
}

// mailbox keeps the last mail of each account. It is safe for concurrent use.
type mailbox struct {
	mu   sync.Mutex
	last map[string]sentMail // by lower-cased email
}

func newMailbox() *mailbox {
	return &mailbox{last: make(map[string]sentMail)}
}

// deliver keeps a reset mail with token for email, replacing the one before.
func (m *mailbox) deliver(email, token string) {
	mail := sentMail{Email: email, Token: token, Link: "/password/reset/confirm?token=" + url.QueryEscape(token)}
	m.mu.Lock()
	m.last[email] = mail
	m.mu.Unlock()
}

// lastFor returns the last mail sent to email, ignoring case.
func (m *mailbox) lastFor(email string) (sentMail, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mail, ok := m.last[strings.ToLower(email)]
	return mail, ok
}

// handleMailbox serves GET /api/_mailbox?email=, a test-only view of the last
// reset mail sent to an account: 200 with the mail, 404 NO_MAIL when none was
// sent, 400 without the parameter. The mail stays (reading it does not use the
// token).
func (p *portal) handleMailbox(w http.ResponseWriter, r *http.Request) {
	email := r.URL.Query().Get("email")
	if email == "" {
		writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", `The parameter "email" is required.`)
		return
	}
	mail, ok := p.mail.lastFor(email)
	if !ok {
		writeError(w, r, http.StatusNotFound, "NO_MAIL", "No mail was sent to this address.")
		return
	}
	writeJSON(w, http.StatusOK, mail)
}
