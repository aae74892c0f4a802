package main

import (
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
	p.received.add(routeLogin, email)
	notePrincipal(r, strings.ToLower(email))
	if !p.delay(r.Context()) {
		return
	}
	if err != nil {
		writeBadRequest(w, r, err, "Email and password are required.")
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
	if acct.MFAKey != nil {
		p.askForMFACode(w, r, acct)
		return
	}
	p.startSession(w, r, acct)
}

// startSession ends a successful login: a new session, its cookie and the account.
func (p *portal) startSession(w http.ResponseWriter, r *http.Request, acct account) {
	token, err := p.users.create(acct.Email)
	if err != nil {
		writeInternal(w, r, "The session")
		return
	}
	http.SetCookie(w, sessionCookie(portalCookie, "/", token, http.SameSiteLaxMode))
	noteOutcome(r, string(stateActive))
	writeJSON(w, http.StatusOK, accountBody(acct))
}

// accountBody is the body that answers a login or a registration with acct.
func accountBody(acct account) loginSuccess {
	return loginSuccess{
		Status:  acct.State,
		Account: loginAccount{ID: acct.ID, DisplayName: acct.DisplayName, Email: acct.Email},
	}
}

// handleLogout serves POST /api/logout.
func (p *portal) handleLogout(w http.ResponseWriter, r *http.Request) {
	email, token, ok := p.users.get(r, portalCookie)
	if !ok {
		writeNotLoggedIn(w, r)
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
		writeNotLoggedIn(w, r)
		return
	}
	notePrincipal(r, email)
	writeJSON(w, http.StatusOK, struct {
		Email string `json:"email"`
	}{email})
}
