package main

import (
	"net/http"
)

// Manager redirect targets.
const (
	managerHome         = "/manager/home"
	managerLoginPath    = "/manager/login"
	managerLoginFailed  = "/manager/login?error=bad_credentials"
	managerLoggedOutURL = "/manager/login?logout"
)

// handleManagerLogin serves POST /manager/login. A body that cannot be read, or
// lacks a field, gets 400 like the portal API; everything else is answered with a
// redirect, in the manner of a form login.
func (p *portal) handleManagerLogin(w http.ResponseWriter, r *http.Request) {
	username, password, err := readCredentials(w, r, "username", "password")
	p.received.add(routeManagerLogin, username)
	notePrincipal(r, username)
	if !p.delay(r.Context()) {
		return
	}
	if err != nil {
		writeBadRequest(w, r, err, "Username and password are required.")
		return
	}
	if !p.dir.checkManager(username, password) {
		noteOutcome(r, "BAD_CREDENTIALS")
		http.Redirect(w, r, managerLoginFailed, http.StatusFound)
		return
	}
	token, err := p.managers.create(username)
	if err != nil {
		writeInternal(w, r, "The session")
		return
	}
	http.SetCookie(w, sessionCookie(managerCookie, "/manager", token, http.SameSiteDefaultMode))
	noteOutcome(r, "SUCCESS")
	http.Redirect(w, r, managerHome, http.StatusFound)
}

// handleManagerLogout serves POST /manager/logout. It always ends in the login page,
// with or without a session, and always expires the cookie.
func (p *portal) handleManagerLogout(w http.ResponseWriter, r *http.Request) {
	if username, token, ok := p.managers.get(r, managerCookie); ok {
		notePrincipal(r, username)
		p.managers.delete(token)
		noteOutcome(r, "LOGGED_OUT")
	} else {
		noteOutcome(r, "NOT_LOGGED_IN")
	}
	http.SetCookie(w, expiredCookie(managerCookie, "/manager", http.SameSiteDefaultMode))
	http.Redirect(w, r, managerLoggedOutURL, http.StatusFound)
}

// handleManagerHome serves GET /manager/home to a logged-in manager.
func (p *portal) handleManagerHome(w http.ResponseWriter, r *http.Request) {
	username, _, ok := p.managers.get(r, managerCookie)
	if !ok {
		http.Redirect(w, r, managerLoginPath, http.StatusFound)
		return
	}
	notePrincipal(r, username)
	renderPage(w, managerHomePage, pageData{Username: username})
}

// handleManagerLoginPage serves GET /manager/login.
func (p *portal) handleManagerLoginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	renderPage(w, managerLoginPage, pageData{
		Failed:    q.Get("error") != "",
		LoggedOut: q.Has("logout"),
	})
}

// handleHome serves GET /, the portal's login form.
func (p *portal) handleHome(w http.ResponseWriter, r *http.Request) {
	renderPage(w, portalLoginPage, pageData{})
}
