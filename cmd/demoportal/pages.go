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
