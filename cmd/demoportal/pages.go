package main

import (
	"bytes"
	"html/template"
	"net/http"
)

// pageData is what the HTML pages show.
type pageData struct {
	Username  string
	Failed    bool
	LoggedOut bool
	// Token is the MFA ticket or reset token a page's form sends on.
	Token string
}

var (
	portalLoginPage = template.Must(template.New("portal").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo portal – sign in</title></head>
<body>
<h1>Demo portal</h1>
<form method="post" action="/api/login">
<label>Email <input type="email" name="email" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
</body></html>
`))

	managerLoginPage = template.Must(template.New("manager-login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo manager – sign in</title></head>
<body>
<h1>Demo manager</h1>
{{if .Failed}}<p role="alert">Wrong username or password.</p>{{end}}
{{if .LoggedOut}}<p role="status">You have been signed out.</p>{{end}}
<form method="post" action="/manager/login">
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
</body></html>
`))

	managerHomePage = template.Must(template.New("manager-home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo manager</title></head>
<body>
<h1>Welcome, {{.Username}}</h1>
<form method="post" action="/manager/logout"><button type="submit">Sign out</button></form>
</body></html>
`))
)

// The pages of the account flows. Like the sign-in page, each is a plain form
// that posts to its JSON route (which reads urlencoded bodies too) and shows that
// route's JSON answer.
var (
	mfaLoginPage = template.Must(template.New("mfa-login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo portal – verification code</title></head>
<body>
<h1>Demo portal</h1>
<form method="post" action="/api/login/mfa">
<input type="hidden" name="mfaToken" value="{{.Token}}">
<label>Code from your authenticator app <input name="code" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" required></label>
<button type="submit">Verify</button>
</form>
</body></html>
`))

	registerPage = template.Must(template.New("register").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo portal – create an account</title></head>
<body>
<h1>Create an account</h1>
<form method="post" action="/api/register">
<label>Email <input type="email" name="email" autocomplete="username" required></label>
<label>Name <input name="displayName" autocomplete="name"></label>
<label>Password <input type="password" name="password" autocomplete="new-password" minlength="8" required></label>
<button type="submit">Create account</button>
</form>
</body></html>
`))

	resetRequestPage = template.Must(template.New("reset-request").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo portal – reset your password</title></head>
<body>
<h1>Reset your password</h1>
<form method="post" action="/api/password/reset-request">
<label>Email <input type="email" name="email" autocomplete="username" required></label>
<button type="submit">Send reset link</button>
</form>
</body></html>
`))

	resetPage = template.Must(template.New("reset").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo portal – choose a new password</title></head>
<body>
<h1>Choose a new password</h1>
<form method="post" action="/api/password/reset">
<input type="hidden" name="token" value="{{.Token}}">
<label>New password <input type="password" name="newPassword" autocomplete="new-password" minlength="8" required></label>
<button type="submit">Set password</button>
</form>
</body></html>
`))

	passwordChangePage = template.Must(template.New("password-change").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo portal – change your password</title></head>
<body>
<h1>Change your password</h1>
<form method="post" action="/api/password/change">
<label>Current password <input type="password" name="currentPassword" autocomplete="current-password" required></label>
<label>New password <input type="password" name="newPassword" autocomplete="new-password" minlength="8" required></label>
<button type="submit">Change password</button>
</form>
</body></html>
`))

	mfaPage = template.Must(template.New("mfa").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo portal – two-step verification</title></head>
<body>
<h1>Two-step verification</h1>
<form method="post" action="/api/mfa/enroll"><button type="submit">Get a new secret</button></form>
<form method="post" action="/api/mfa/enroll/confirm">
<label>Code for the new secret <input name="code" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" required></label>
<button type="submit">Turn on</button>
</form>
<form method="post" action="/api/mfa/disable">
<label>Current code <input name="code" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" required></label>
<button type="submit">Turn off</button>
</form>
</body></html>
`))
)

// handleMFALoginPage serves GET /login/mfa?mfaToken=, the code form of a login
// with MFA.
func (p *portal) handleMFALoginPage(w http.ResponseWriter, r *http.Request) {
	renderPage(w, mfaLoginPage, pageData{Token: r.URL.Query().Get("mfaToken")})
}

// handleRegisterPage serves GET /register.
func (p *portal) handleRegisterPage(w http.ResponseWriter, r *http.Request) {
	renderPage(w, registerPage, pageData{})
}

// handleResetRequestPage serves GET /password/reset.
func (p *portal) handleResetRequestPage(w http.ResponseWriter, r *http.Request) {
	renderPage(w, resetRequestPage, pageData{})
}

// handleResetPage serves GET /password/reset/confirm?token=, the reset mail's link.
func (p *portal) handleResetPage(w http.ResponseWriter, r *http.Request) {
	renderPage(w, resetPage, pageData{Token: r.URL.Query().Get("token")})
}

// handlePasswordChangePage serves GET /password/change.
func (p *portal) handlePasswordChangePage(w http.ResponseWriter, r *http.Request) {
	renderPage(w, passwordChangePage, pageData{})
}

// handleMFAPage serves GET /account/mfa: enrol, confirm and turn off MFA.
func (p *portal) handleMFAPage(w http.ResponseWriter, r *http.Request) {
	renderPage(w, mfaPage, pageData{})
}

// renderPage writes the page t with data as an HTML response.
func renderPage(w http.ResponseWriter, t *template.Template, data pageData) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "rendering page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = buf.WriteTo(w)
}
