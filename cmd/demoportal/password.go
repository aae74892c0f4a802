package main

import (
	"errors"
	"net/http"
	"strings"
)

// Messages of the password answers.
const (
	msgEmailRequired         = "Email is required."
	msgResetFieldsRequired   = "token and newPassword are required."
	msgChangeFieldsRequired  = "currentPassword and newPassword are required."
	msgInvalidResetToken     = "The reset link is invalid or has expired."
	msgWrongCurrentPassword  = "The current password is incorrect."
	msgAccountChangeInternal = "The account could not be changed."
)

// statusBody is the body of a plain success: {"status":"..."}.
type statusBody struct {
	Status string `json:"status"`
}

// handleResetRequest serves POST /api/password/reset-request {"email"}: for an
// existing account (in any state) it "mails" a reset token, which GET
// /api/_mailbox shows, and answers {"status":"sent"}. An unknown email gets 404
// USER_NOT_FOUND: like many portals, this one tells who has an account, which
// loginguard can hide by answering every request alike.
func (p *portal) handleResetRequest(w http.ResponseWriter, r *http.Request) {
	var vals [1]string
	err := readFields(w, r, vals[:], "email")
	email := vals[0]
	if !p.beginWithFields(w, r, routeResetRequest, strings.ToLower(email), err, msgEmailRequired, email) {
		return
	}
	acct, ok := p.dir.lookup(email)
	if !ok {
		writeError(w, r, http.StatusNotFound, "USER_NOT_FOUND", msgUserNotFound)
		return
	}
	token, err := p.resets.issue(acct.Email)
	if err != nil {
		writeInternal(w, r, "The reset link")
		return
	}
	p.mail.deliver(acct.Email, token)
	noteOutcome(r, "SENT")
	writeJSON(w, http.StatusOK, statusBody{Status: "sent"})
}

// handleReset serves POST /api/password/reset {"token","newPassword"}: a valid
// token (unused, under an hour old) sets the password and ends every reset token
// of the account. A weak password leaves the token valid.
func (p *portal) handleReset(w http.ResponseWriter, r *http.Request) {
	var vals [2]string
	err := readFields(w, r, vals[:], "token", "newPassword")
	token, password := vals[0], vals[1]
	email, valid := p.resets.peek(token)
	if !p.beginWithFields(w, r, routeReset, email, err, msgResetFieldsRequired, token, password) {
		return
	}
	if !valid {
		writeError(w, r, http.StatusBadRequest, "INVALID_TOKEN", msgInvalidResetToken)
		return
	}
	if weakPassword(password) {
		writeError(w, r, http.StatusBadRequest, "WEAK_PASSWORD", msgWeakPassword)
		return
	}
	if _, ok := p.resets.takeAll(token); !ok {
		// Expired, or used by a concurrent request, since the peek.
		writeError(w, r, http.StatusBadRequest, "INVALID_TOKEN", msgInvalidResetToken)
		return
	}
	if err := p.dir.setPassword(email, password); err != nil {
		writeError(w, r, http.StatusInternalServerError, "INTERNAL_ERROR", msgAccountChangeInternal)
		return
	}
	noteOutcome(r, "PASSWORD_RESET")
	writeJSON(w, http.StatusOK, statusBody{Status: "reset"})
}

// handlePasswordChange serves POST /api/password/change
// {"currentPassword","newPassword"} with a session. The new password is checked
// first: a weak one gets 400 WEAK_PASSWORD whatever the current password, so only
// a request that could succeed tests the current password (401 BAD_CREDENTIALS
// when wrong). Like logins, wrong current passwords are not limited here.
func (p *portal) handlePasswordChange(w http.ResponseWriter, r *http.Request) {
	email, ok := p.sessionRoute(w, r, routePasswordChange)
	if !ok {
		return
	}
	var vals [2]string
	err := readFields(w, r, vals[:], "currentPassword", "newPassword")
	current, password := vals[0], vals[1]
	if err := required(err, current, password); err != nil {
		writeBadRequest(w, r, err, msgChangeFieldsRequired)
		return
	}
	if weakPassword(password) {
		writeError(w, r, http.StatusBadRequest, "WEAK_PASSWORD", msgWeakPassword)
		return
	}
	switch err := p.dir.changePassword(email, current, password); {
	case errors.Is(err, errWrongPassword):
		writeError(w, r, http.StatusUnauthorized, "BAD_CREDENTIALS", msgWrongCurrentPassword)
	case err != nil:
		writeError(w, r, http.StatusInternalServerError, "INTERNAL_ERROR", msgAccountChangeInternal)
	default:
		noteOutcome(r, "PASSWORD_CHANGED")
		writeJSON(w, http.StatusOK, statusBody{Status: "changed"})
	}
}
