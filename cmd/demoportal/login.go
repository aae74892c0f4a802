package main

import (
	"errors"
	"net/http"
	"strings"
)

// loginAccount is the account part of a successful login response.
type loginAccount struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Email       string `json:"email"`
}

// loginSuccess is the body of a successful login response.
type loginSuccess struct {
	Status  accountState `json:"status"`
	Account loginAccount `json:"account"`
}

// handleLogin serves POST /api/login. The portal never locks accounts itself: that
// is the gateway's job.
func (p *portal) handleLogin(w http.ResponseWriter, r *http.Request) {
	email, password, err := readCredentials(w, r, "email", "password")
	p.received.add(email)
	notePrincipal(r, strings.ToLower(email))
	if !p.delay(r.Context()) {
		return
	}
	if err != nil {
		msg := "The request body is malformed."
		if errors.Is(err, errMissingFields) {
			msg = "Email and password are required."
		}
		writeError(w, r, http.StatusBadRequest, "BAD_REQUEST", msg)
		return
	}
	acct, ok := p.dir.lookup(email)
	if !ok {
		writeError(w, r, http.StatusUnauthorized, "USER_NOT_FOUND", msgUserNotFound)
		return
	}
	if !passwordsEqual(password, acct.Password) {
		writeError(w, r, http.StatusUnauthorized, "BAD_CREDENTIALS", msgBadCredentials)
		return
	}
	if acct.State != stateActive {
		writeError(w, r, http.StatusForbidden, string(acct.State), acct.State.message())
		return
	}
	token, err := p.users.create(acct.Email)
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "INTERNAL_ERROR", "The session could not be created.")
		return
	}
	http.SetCookie(w, sessionCookie(portalCookie, "/", token, http.SameSiteLaxMode))
	noteOutcome(r, string(stateActive))
	writeJSON(w, http.StatusOK, loginSuccess{
		Status:  stateActive,
		Account: loginAccount{ID: acct.ID, DisplayName: acct.DisplayName, Email: acct.Email},
	})
}

// handleLogout serves POST /api/logout.
func (p *portal) handleLogout(w http.ResponseWriter, r *http.Request) {
	email, token, ok := p.users.get(r, portalCookie)
	if !ok {
		writeError(w, r, http.StatusUnauthorized, "NOT_LOGGED_IN", "")
		return
	}
	notePrincipal(r, email)
	p.users.delete(token)
	http.SetCookie(w, expiredCookie(portalCookie, "/", http.SameSiteLaxMode))
	noteOutcome(r, "LOGGED_OUT")
	w.WriteHeader(http.StatusNoContent)
}

// handleMe serves GET /api/me.
func (p *portal) handleMe(w http.ResponseWriter, r *http.Request) {
	email, _, ok := p.users.get(r, portalCookie)
	if !ok {
		writeError(w, r, http.StatusUnauthorized, "NOT_LOGGED_IN", "")
		return
	}
	notePrincipal(r, email)
	writeJSON(w, http.StatusOK, struct {
		Email string `json:"email"`
	}{email})
}
