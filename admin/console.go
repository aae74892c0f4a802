package admin

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// consoleFiles are the web console's assets: plain HTML, CSS and JavaScript,
// with no build step. index.html is served at the handler's root; the other
// files under console/.
//
//go:embed console
var consoleFiles embed.FS

// consoleCSP is the Content-Security-Policy of every console response: only
// the console's own files run or style the page (no inline script or style),
// and the page cannot be framed.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// consolePrefix is the path of the console's assets.
const consolePrefix = "/console/"

// isConsolePath reports whether an escaped path is one of the console's: the
// root, /index.html or an asset under /console/.
func isConsolePath(p string) bool {
	return p == "" || p == "/" || p == "/index.html" || strings.HasPrefix(p, consolePrefix)
}

// console serves the web console's files. It needs no token: the files hold
// no data; the page asks for a token and sends it with each API call.
func (h *handler) console(w http.ResponseWriter, r *http.Request) {
	name := "console/index.html"
	if p := r.URL.Path; strings.HasPrefix(p, consolePrefix) {
		name = path.Clean("console/" + strings.TrimPrefix(p, consolePrefix))
		if !strings.HasPrefix(name, "console/") || name == "console/index.html" {
			name = ""
		}
	}
	var b []byte
	if name != "" {
		var err error
		if b, err = fs.ReadFile(consoleFiles, name); err != nil {
			b = nil
		}
	}
	if b == nil {
		h.writeError(w, r, notFound("Could not find %q.", r.URL.Path))
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".html":
		ct = "text/html; charset=utf-8"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Security-Policy", consoleCSP)
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
