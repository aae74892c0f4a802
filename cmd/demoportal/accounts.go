package main

import (
	"crypto/subtle"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// accountState is the state of a portal account, named as in the login-log page.
type accountState string

// Account states. Only stateActive may log in.
const (
	stateActive                accountState = "ACTIVE"
	stateDisabled              accountState = "DISABLED"
	stateWaitingForApprovement accountState = "WAITING_FOR_APPROVEMENT"
	stateConfirmationNeeded    accountState = "CONFIRMATION_NEEDED"
	stateRejected              accountState = "REJECTED"
	stateNotApproved           accountState = "NOT_APPROVED"
)

// message returns, for a state that may not log in, the login-log page's "Message Shown to
// User" word for word; "" for stateActive.
func (s accountState) message() string {
	switch s {
	case stateWaitingForApprovement:
		return "Your account is waiting for administrator approval. You will be able to log in after approval."
	case stateConfirmationNeeded:
		return "Please verify your email address. You can verify your email address by clicking the link in the registration email."
	case stateDisabled:
		return "Your account has been disabled. Please contact the administrator."
	case stateRejected:
		return "Your account application has been rejected. Please contact the administrator for detailed information."
	case stateNotApproved:
		return "Your account has not yet been approved. Please wait for the approval process to complete."
	default:
		return ""
	}
}

// Messages of the portal's own error responses.
const (
	msgBadCredentials = "Email or password is incorrect."
	msgUserNotFound   = "No user registered with this email address was found."
)

// Demo credentials.
const (
	portalPassword  = "correct-horse"
	managerUsername = "admin"
	managerPassword = "manager-secret"
	// mfaEmail is the account with MFA on from the start; its TOTP secret is
	// DemoMFASecret.
	mfaEmail = "mfa@example.com"
)

// minPasswordLength is the fewest characters (Unicode code points) a new password
// may have.
const minPasswordLength = 8

// Errors of the directory's changes.
var (
	errNoAccount          = errors.New("no such account")
	errEmailTaken         = errors.New("email already registered")
	errWrongPassword      = errors.New("wrong password")
	errWrongCode          = errors.New("wrong MFA code")
	errMFAEnabled         = errors.New("MFA already enabled")
	errMFANotEnabled      = errors.New("MFA not enabled")
	errNoEnrolmentPending = errors.New("no MFA enrolment pending")
)

// account is one portal user. An account is a value: the directory replaces it
// whole on a change and never modifies the slices of one it handed out.
type account struct {
	ID          string
	DisplayName string
	Email       string
	Password    string
	State       accountState
	// MFAKey is the TOTP secret when MFA is on, else nil.
	MFAKey []byte
	// PendingMFAKey is the secret of an enrolment begun and not yet confirmed
	// with a code, else nil.
	PendingMFAKey []byte
}

// directory holds the portal's accounts and its one manager user. Accounts change
// at run time (registration, passwords, MFA), so they are guarded by mu: logins
// and every other read take the read lock only, so they never wait for each other;
// a change holds the write lock for a map update and at most a few HMACs. The
// managers never change after newDirectory and are read without the lock.
type directory struct {
	mu       sync.RWMutex
	accounts map[string]account // by lower-cased email; guarded by mu
	managers map[string]string  // username → password; read-only
}

// newDirectory returns the demo accounts, one per state.
func newDirectory() *directory {
	d := &directory{
		accounts: make(map[string]account),
		managers: map[string]string{managerUsername: managerPassword},
	}
	for _, a := range []account{
		{ID: "acc-active", DisplayName: "Active User", Email: "active@example.com", State: stateActive},
		{ID: "acc-disabled", DisplayName: "Disabled User", Email: "disabled@example.com", State: stateDisabled},
		{ID: "acc-waiting", DisplayName: "Waiting User", Email: "waiting@example.com", State: stateWaitingForApprovement},
		{ID: "acc-unconfirmed", DisplayName: "Unconfirmed User", Email: "unconfirmed@example.com", State: stateConfirmationNeeded},
		{ID: "acc-rejected", DisplayName: "Rejected User", Email: "rejected@example.com", State: stateRejected},
		{ID: "acc-notapproved", DisplayName: "Not Approved User", Email: "notapproved@example.com", State: stateNotApproved},
		// A second active user, whose display name carries markup (for escaping tests).
		{ID: "acc-markup", DisplayName: `<script>alert("name")</script> Markup User`, Email: "markup@example.com", State: stateActive},
		// An active user with MFA on: a right password asks for a TOTP code.
		{ID: "acc-mfa", DisplayName: "MFA User", Email: mfaEmail, State: stateActive, MFAKey: demoMFAKey()},
	} {
		a.Password = portalPassword
		d.accounts[a.Email] = a
	}
	return d
}

// demoMFAKey decodes DemoMFASecret.
func demoMFAKey() []byte {
	key, err := decodeTOTPSecret(DemoMFASecret)
	if err != nil {
		panic(err)
	}
	return key
}

// lookup finds the account with the given email, ignoring case.
func (d *directory) lookup(email string) (account, bool) {
	key := strings.ToLower(email)
	d.mu.RLock()
	a, ok := d.accounts[key]
	d.mu.RUnlock()
	return a, ok
}

// register adds a, whose Email must be lower-cased, unless its email is taken.
func (d *directory) register(a account) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, taken := d.accounts[a.Email]; taken {
		return errEmailTaken
	}
	d.accounts[a.Email] = a
	return nil
}

// update applies change to the account with the given email under the write
// lock, and stores the result unless change fails.
func (d *directory) update(email string, change func(a *account) error) error {
	key := strings.ToLower(email)
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.accounts[key]
	if !ok {
		return errNoAccount
	}
	if err := change(&a); err != nil {
		return err
	}
	d.accounts[key] = a
	return nil
}

// setPassword replaces the account's password.
func (d *directory) setPassword(email, password string) error {
	return d.update(email, func(a *account) error {
		a.Password = password
		return nil
	})
}

// changePassword replaces the account's password if current is the present one.
func (d *directory) changePassword(email, current, password string) error {
	return d.update(email, func(a *account) error {
		if !passwordsEqual(current, a.Password) {
			return errWrongPassword
		}
		a.Password = password
		return nil
	})
}

// beginEnrolment keeps key as the account's pending MFA secret, replacing an
// earlier pending one; MFA must be off.
func (d *directory) beginEnrolment(email string, key []byte) error {
	return d.update(email, func(a *account) error {
		if a.MFAKey != nil {
			return errMFAEnabled
		}
		a.PendingMFAKey = key
		return nil
	})
}

// confirmEnrolment turns MFA on with the pending secret if code is its code at now.
func (d *directory) confirmEnrolment(email, code string, now time.Time) error {
	return d.update(email, func(a *account) error {
		switch {
		case a.MFAKey != nil:
			return errMFAEnabled
		case a.PendingMFAKey == nil:
			return errNoEnrolmentPending
		case !verifyTOTP(a.PendingMFAKey, code, now):
			return errWrongCode
		}
		a.MFAKey, a.PendingMFAKey = a.PendingMFAKey, nil
		return nil
	})
}

// disableMFA turns MFA off if code is the account's code at now.
func (d *directory) disableMFA(email, code string, now time.Time) error {
	return d.update(email, func(a *account) error {
		switch {
		case a.MFAKey == nil:
			return errMFANotEnabled
		case !verifyTOTP(a.MFAKey, code, now):
			return errWrongCode
		}
		a.MFAKey = nil
		return nil
	})
}

// weakPassword reports whether password is too short to be set.
func weakPassword(password string) bool {
	return utf8.RuneCountInString(password) < minPasswordLength
}

// checkManager reports whether username (exact, case-sensitive) and password belong
// to a manager user.
func (d *directory) checkManager(username, password string) bool {
	want, ok := d.managers[username]
	return ok && passwordsEqual(password, want)
}

// passwordsEqual compares two passwords in constant time.
func passwordsEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
