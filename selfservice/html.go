package selfservice

import (
	"html/template"
	"io"
	"time"
)

// The HTML fragment is one table, for a portal to put in its own page (with
// fetch and innerHTML, or in an iframe): no script, no style, no link, every
// value escaped by html/template. The classes are the portal's to style:
// loginguard-signins on the table, success or failure on each row. The
// device cell's title is the full user agent.
var fragment = template.Must(template.New("signins").Funcs(template.FuncMap{
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
}).Parse(`<table class="loginguard-signins">
<caption>Recent sign-ins{{with .DisplayName}} of {{.}}{{end}}</caption>
<thead><tr><th scope="col">Time</th><th scope="col">Result</th><th scope="col">Location</th><th scope="col">Device</th><th scope="col">IP address</th></tr></thead>
<tbody>
{{- range .Logins}}
<tr class="{{if .Success}}success{{else}}failure{{end}}"><td><time datetime="{{iso .Time}}">{{when .Time}}</time></td><td>{{if .Success}}Signed in{{else}}Failed: {{.ReasonText}}{{end}}</td><td>{{with .Location}}{{.}}{{else}}Unknown{{end}}</td><td{{with .UserAgent}} title="{{.}}"{{end}}>{{.Device}}</td><td>{{.IP}}</td></tr>
{{- else}}
<tr><td colspan="5">No sign-ins{{if not .Since.IsZero}} since {{when .Since}}{{end}}.</td></tr>
{{- end}}
</tbody>
</table>
`))

// WriteHTML writes v as the HTML fragment.
func WriteHTML(w io.Writer, v View) error {
	return fragment.Execute(w, v)
}
