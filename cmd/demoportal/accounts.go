package main

import (
	"crypto/subtle"
	"strings"
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
)

// account is one portal user.
type account struct {
	ID          string
	DisplayName string
	Email       string
	Password    string
	State       accountState
}

// directory holds the portal's accounts and its one manager user. It is built once
// per portal and only read afterwards, so it needs no lock.
type directory struct {
	accounts map[string]account // by lower-cased email
	managers map[string]string  // username → password
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
	} {
		a.Password = portalPassword
		d.accounts[a.Email] = a
	}
	return d
}

// lookup finds the account with the given email, ignoring case.
func (d *directory) lookup(email string) (account, bool) {
	a, ok := d.accounts[strings.ToLower(email)]
	return a, ok
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
