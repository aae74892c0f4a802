package main

import (
	"errors"
	"net/http"
	"time"
)

// Messages of the MFA answers.
const (
	msgMFACodeRequired   = "mfaToken and code are required."
	msgCodeRequired      = "code is required."
	msgInvalidMFACode    = "The verification code is incorrect."
	msgMFATokenExpired   = "The sign-in has expired. Please sign in again."
	msgMFAEnabled        = "MFA is already on for this account."
	msgMFANotEnabled     = "MFA is not on for this account."
	msgEnrolmentNotBegun = "Start the MFA enrolment first."
)

// mfaChallenge answers a right password for an account with MFA on.
type mfaChallenge struct {
	MFARequired bool   `json:"mfaRequired"`
	MFAToken    string `json:"mfaToken"`
}

// mfaEnrolment answers POST /api/mfa/enroll: the new secret, in base32 and as the
// URI an authenticator app scans.
type mfaEnrolment struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauthUri"`
}

// mfaStatus answers a confirmed enrolment or a disabling.
type mfaStatus struct {
	MFAEnabled bool `json:"mfaEnabled"`
}

// askForMFACode answers a right password for an account with MFA on: a ticket for
// POST /api/login/mfa, and no session yet.
func (p *portal) askForMFACode(w http.ResponseWriter, r *http.Request, acct account) {
	ticket, err := p.mfaPending.issue(acct.Email)
	if err != nil {
		writeInternal(w, r, "The sign-in")
		return
	}
	noteOutcome(r, "MFA_REQUIRED")
	writeJSON(w, http.StatusOK, mfaChallenge{MFARequired: true, MFAToken: ticket})
}

// handleLoginMFA serves POST /api/login/mfa {"mfaToken","code"}, the second step
// of a login with MFA: a right code ends the ticket and starts the session.
//
// The portal does not limit wrong codes: a ticket takes any number of guesses
// until it expires, and a new password login gives a new ticket. Counting them
// and locking the account is what loginguard adds in front.
func (p *portal) handleLoginMFA(w http.ResponseWriter, r *http.Request) {
	var vals [2]string
	err := readFields(w, r, vals[:], "mfaToken", "code")
	ticket, code := vals[0], vals[1]
	email, pending := p.mfaPending.peek(ticket)
	if !p.beginWithFields(w, r, routeLoginMFA, email, err, msgMFACodeRequired, ticket, code) {
		return
	}
	acct, ok := p.dir.lookup(email)
	if !pending || !ok || acct.MFAKey == nil {
		writeError(w, r, http.StatusUnauthorized, "MFA_TOKEN_EXPIRED", msgMFATokenExpired)
		return
	}
	if !verifyTOTP(acct.MFAKey, code, p.opts.now()) {
		writeError(w, r, http.StatusUnauthorized, "INVALID_MFA_CODE", msgInvalidMFACode)
		return
	}
	if _, ok := p.mfaPending.take(ticket); !ok {
		// Expired, or redeemed by a concurrent request, since the peek.
		writeError(w, r, http.StatusUnauthorized, "MFA_TOKEN_EXPIRED", msgMFATokenExpired)
		return
	}
	p.startSession(w, r, acct)
}

// begin begins a counted route: it counts the request under principal ("" when
// not known), notes principal for the request log and waits for -slow. It is false
// when the client went away meanwhile, leaving the request unanswered.
func (p *portal) begin(r *http.Request, route, principal string) bool {
	p.received.add(route, principal)
	notePrincipal(r, principal)
	return p.delay(r.Context())
}

// beginWithFields is begin for a route whose body readFields read into vals, with
// readErr its error: after the wait it answers 400 with msg when the body could not
// be read or a value of vals is empty. It is false when the request is answered
// (or its client gone).
func (p *portal) beginWithFields(w http.ResponseWriter, r *http.Request, route, principal string,
	readErr error, msg string, vals ...string) bool {
	if !p.begin(r, route, principal) {
		return false
	}
	if err := required(readErr, vals...); err != nil {
		writeBadRequest(w, r, err, msg)
		return false
	}
	return true
}

// sessionRoute begins a counted route that needs a portal session: it counts the
// request under the session's email ("" without one), waits for -slow and answers
// 401 NOT_LOGGED_IN without a session. ok is false when the request is answered.
func (p *portal) sessionRoute(w http.ResponseWriter, r *http.Request, route string) (email string, ok bool) {
	email, _, hasSession := p.users.get(r, portalCookie)
	if !p.begin(r, route, email) {
		return "", false
	}
	if !hasSession {
		writeNotLoggedIn(w, r)
		return "", false
	}
	return email, true
}

// handleMFAEnroll serves POST /api/mfa/enroll with a session: a new secret,
// pending until POST /api/mfa/enroll/confirm proves the app has it. A second
// enrolment replaces a pending one. The body is ignored.
func (p *portal) handleMFAEnroll(w http.ResponseWriter, r *http.Request) {
	email, ok := p.sessionRoute(w, r, routeMFAEnroll)
	if !ok {
		return
	}
	key, err := newTOTPKey()
	if err != nil {
		writeInternal(w, r, "The secret")
		return
	}
	if err := p.dir.beginEnrolment(email, key); err != nil {
		p.writeMFAError(w, r, err)
		return
	}
	noteOutcome(r, "MFA_ENROLLMENT_STARTED")
	writeJSON(w, http.StatusOK, mfaEnrolment{Secret: totpEncoding.EncodeToString(key), OTPAuthURI: otpauthURI(key, email)})
}

// handleMFAEnrollConfirm serves POST /api/mfa/enroll/confirm {"code"} with a
// session: a right code of the pending secret turns MFA on.
func (p *portal) handleMFAEnrollConfirm(w http.ResponseWriter, r *http.Request) {
	p.withMFACode(w, r, routeMFAEnrollConfirm, p.dir.confirmEnrolment, mfaStatus{MFAEnabled: true}, "MFA_ENABLED")
}

// handleMFADisable serves POST /api/mfa/disable {"code"} with a session: a right
// code turns MFA off.
func (p *portal) handleMFADisable(w http.ResponseWriter, r *http.Request) {
	p.withMFACode(w, r, routeMFADisable, p.dir.disableMFA, mfaStatus{MFAEnabled: false}, "MFA_DISABLED")
}

// withMFACode serves a session route whose body is {"code"}: change is applied to
// the session's account with the code, and answered with ok (200) or its error.
func (p *portal) withMFACode(w http.ResponseWriter, r *http.Request, route string,
	change func(email, code string, now time.Time) error, ok mfaStatus, outcome string) {
	email, hasSession := p.sessionRoute(w, r, route)
	if !hasSession {
		return
	}
	var vals [1]string
	err := readFields(w, r, vals[:], "code")
	if err := required(err, vals[0]); err != nil {
		writeBadRequest(w, r, err, msgCodeRequired)
		return
	}
	if err := change(email, vals[0], p.opts.now()); err != nil {
		p.writeMFAError(w, r, err)
		return
	}
	noteOutcome(r, outcome)
	writeJSON(w, http.StatusOK, ok)
}

// writeMFAError answers an error of the directory's MFA changes.
func (p *portal) writeMFAError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errWrongCode):
		writeError(w, r, http.StatusUnauthorized, "INVALID_MFA_CODE", msgInvalidMFACode)
	case errors.Is(err, errMFAEnabled):
		writeError(w, r, http.StatusConflict, "MFA_ALREADY_ENABLED", msgMFAEnabled)
	case errors.Is(err, errMFANotEnabled):
		writeError(w, r, http.StatusConflict, "MFA_NOT_ENABLED", msgMFANotEnabled)
	case errors.Is(err, errNoEnrolmentPending):
		writeError(w, r, http.StatusConflict, "MFA_ENROLLMENT_NOT_STARTED", msgEnrolmentNotBegun)
	default:
		// errNoAccount: a session outlived its account, which the portal never deletes.
		writeError(w, r, http.StatusInternalServerError, "INTERNAL_ERROR", msgAccountChangeInternal)
	}
}
