package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestMeCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"loginguard_me @me {\n session_cookie s\n}", `loginguard_me: the path "@me" must start with /`},
		{"loginguard_me /a /b", "wrong argument count"},
		{"loginguard_me {\n colour blue\n}", `loginguard_me: unknown option "colour"`},
		{"loginguard_me {\n session_cookie\n}", "loginguard_me session_cookie: missing value"},
		{"loginguard_me {\n realm a b\n}", "loginguard_me realm: want one value"},
		{"loginguard_me {\n limit lots\n}", `loginguard_me limit: "lots" is not a number`},
		{"loginguard_me {\n since soon\n}", "loginguard_me since:"},
	} {
		body := ":8080 {\n" + tc.body + "\nreverse_proxy 127.0.0.1:9\n}\n"
		_, err := adapt(t, "Caddyfile", []byte(body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.body, err, tc.want)
		}
	}
}

// TestMeValidate: a config that adapts but is wrong fails to load, naming the
// field; one with only session_cookie loads (the defaults fill the rest: a
// limit left at 0 would not pass).
func TestMeValidate(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	load := func(opts string) error {
		t.Helper()
		out, err := adapt(t, "Caddyfile", []byte("{\n admin off\n}\n:0 {\nloginguard_me {\n"+opts+"\n}\nreverse_proxy 127.0.0.1:9\n}\n"))
		if err != nil {
			t.Fatalf("%q: adapt: %v", opts, err)
		}
		var cfg caddy.Config
		if err := json.Unmarshal(out, &cfg); err != nil {
			t.Fatal(err)
		}
		return caddy.Validate(&cfg)
	}
	for _, tc := range []struct{ opts, want string }{
		{"", "session_cookie: required"},
		{"session_cookie a;b", `session_cookie: "a;b" is not a cookie name`},
		{"session_cookie s\nlimit 1001", "limit: must be between 1 and 1000, got 1001"},
		{"session_cookie s\nlimit -1", "limit: must be between 1 and 1000, got -1"},
		{"session_cookie s\nsince -1h", "since: must be positive"},
	} {
		if err := load(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.opts, err, tc.want)
		}
	}
	if err := load("session_cookie s*"); err != nil {
		t.Errorf("a valid config: %v", err)
	}
}
