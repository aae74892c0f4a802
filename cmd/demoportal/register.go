package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/mail"
	"strings"
)

// Messages of the registration answers.
const (
	msgRegisterFieldsRequired = "Email and password are required."
	msgInvalidEmail           = "The email address is not valid."
	msgEmailTaken             = "An account with this email address already exists."
)

// maxEmailLength is the longest email address a registration accepts (RFC 5321's
// limit on a path, less its angle brackets).
const maxEmailLength = 254

// handleRegister serves POST /api/register {"email","password","displayName"}:
// a new ACTIVE account, answered 201 with the account in the shape of a login's
// answer. The email is kept lower-cased; an empty displayName becomes the part of
// the email before the @. The checks run in order: fields present (400
// BAD_REQUEST), email valid (400 INVALID_EMAIL), password strong enough (400
// WEAK_PASSWORD), email free (409 EMAIL_TAKEN, case-insensitive).
func (p *portal) handleRegister(w http.ResponseWriter, r *http.Request) {
	var vals [3]string
	err := readFields(w, r, vals[:], "email", "password", "displayName")
	email, password, displayName := strings.ToLower(vals[0]), vals[1], vals[2]
	if !p.beginWithFields(w, r, routeRegister, email, err, msgRegisterFieldsRequired, email, password) {
		return
	}
	if !validEmail(email) {
		writeError(w, r, http.StatusBadRequest, "INVALID_EMAIL", msgInvalidEmail)
		return
	}
	if weakPassword(password) {
		writeError(w, r, http.StatusBadRequest, "WEAK_PASSWORD", msgWeakPassword)
		return
	}
	if displayName == "" {
		displayName = email[:strings.LastIndexByte(email, '@')]
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		writeInternal(w, r, "The account")
		return
	}
	acct := account{
		ID:          "acc-" + hex.EncodeToString(id),
		DisplayName: displayName,
		Email:       email,
		Password:    password,
		State:       stateActive,
	}
	switch err := p.dir.register(acct); {
	case errors.Is(err, errEmailTaken):
		writeError(w, r, http.StatusConflict, "EMAIL_TAKEN", msgEmailTaken)
	case err != nil:
		writeInternal(w, r, "The account")
	default:
		noteOutcome(r, "REGISTERED")
		writeJSON(w, http.StatusCreated, accountBody(acct))
	}
}

// validEmail reports whether s is a plain address (local@domain, no display name,
// no comments), printable ASCII without spaces, with a dot in its domain. ASCII
// only keeps the demo's accounts free of look-alike letters.
func validEmail(s string) bool {
	if len(s) > maxEmailLength {
		return false
	}
	for i := range len(s) {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}
