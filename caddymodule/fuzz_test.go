package caddymodule

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FuzzHandlerCaddyfile: whatever the tokens inside a loginguard block, the
// Caddyfile parser returns a config or an error; it never panics.
func FuzzHandlerCaddyfile(f *testing.F) {
	for _, body := range []string{
		"principal form log\ncanonical wordpress\naliases {\n cookie wordpress_logged_in_* ^([^|]+)\\|\n}",
		"principal xmlrpc 1 wp.getUsersBlogs=0\nmulticall refuse",
		"rule success {\n status 2xx\n cookie SESSION*\n}\nlockout {\n max_failures 5\n backoff 1h\n}",
		"rate_limit {\n ip 30-M\n}\non_ambiguous count_all\non_missing_principal forward",
		"aliases {\n", "rule failure BAD {\n reasons {\n x\n }\n}", "principal", "lockout {\n locked_events all\n}",
	} {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if strings.Count(body, "{") > 20 || len(body) > 4096 {
			return
		}
		d := caddyfile.NewTestDispenser("loginguard /login {\n" + body + "\n}")
		_ = new(Handler).UnmarshalCaddyfile(d)
		a := caddyfile.NewTestDispenser("loginguard {\n" + body + "\n}")
		_, _ = parseApp(a, nil)
	})
}
