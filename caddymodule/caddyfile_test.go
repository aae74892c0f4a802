package caddymodule

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestAdaptGolden")

// adapt runs `caddy adapt` on a Caddyfile, in process.
func adapt(t *testing.T, name string, body []byte) ([]byte, error) {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(body, map[string]any{"filename": name})
	if err != nil {
		return nil, err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out, "", "\t"); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	return pretty.Bytes(), nil
}

// TestAdaptGolden adapts every testdata/*.caddyfile (and Caddyfile.example) and
// compares the JSON with the golden .json next to it. Run with -update to rewrite.
func TestAdaptGolden(t *testing.T) {
	for _, env := range []string{"LOGINGUARD_PORT", "PORTAL_UPSTREAM", "CADDY_ADMIN", "LOGINGUARD_EVENTS", "LOGINGUARD_REDIS_URL", "LOGINGUARD_ADMIN_PORT", "LOGINGUARD_ADMIN_TOKEN", "LOGINGUARD_READ_TOKEN", "LOGINGUARD_DB", "LOGINGUARD_IP_RATE", "LOGINGUARD_KAFKA_BROKERS", "LOGINGUARD_KAFKA_TOPIC", "LOGINGUARD_WEBHOOK_URL", "LOGINGUARD_MODE", "LOGINGUARD_ALERTS", "LOGINGUARD_KNOWN_IPS", "LOGINGUARD_PWNED_FILE", "LOGINGUARD_GEOIP_CITY", "LOGINGUARD_GEOIP_ASN", "WP_TRUSTED_PROXIES"} {
		t.Setenv(env, "")
		os.Unsetenv(env)
	}
	files, err := filepath.Glob("testdata/*.caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../Caddyfile.example", "../examples/wordpress.caddyfile")
	if len(files) < 3 {
		t.Fatalf("want golden Caddyfiles in testdata, found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := adapt(t, f, in)
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))+".json")
			if filepath.Base(f) == "Caddyfile.example" {
				golden = filepath.Join("testdata", "Caddyfile.example.json")
			}
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestAdaptGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("adapted JSON differs from %s:\n%s", golden, got)
			}
		})
	}
}

// TestExampleNeedsAdminToken: without LOGINGUARD_ADMIN_TOKEN the example
// refuses to load, saying how to set it; the token never enters the config.
func TestExampleNeedsAdminToken(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	t.Setenv("LOGINGUARD_ADMIN_TOKEN", "")
	os.Unsetenv("LOGINGUARD_ADMIN_TOKEN")
	in, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	out, err := adapt(t, "Caddyfile.example", in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"token": "{env.LOGINGUARD_ADMIN_TOKEN}"`)) {
		t.Fatalf("the adapted config does not read the token at load time:\n%s", out)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Admin = &caddy.AdminConfig{Disabled: true}
	err = caddy.Validate(&cfg)
	if err == nil || !strings.Contains(err.Error(), "set LOGINGUARD_ADMIN_TOKEN (the variable this config reads) to a long random secret") {
		t.Fatalf("error %v", err)
	}
	// A config that reads another variable names that one.
	other := bytes.ReplaceAll(out, []byte("{env.LOGINGUARD_ADMIN_TOKEN}"), []byte("{env.MY_ADMIN_TOKEN}"))
	var cfg2 caddy.Config
	if err := json.Unmarshal(other, &cfg2); err != nil {
		t.Fatal(err)
	}
	cfg2.Admin = &caddy.AdminConfig{Disabled: true}
	if err := caddy.Validate(&cfg2); err == nil || !strings.Contains(err.Error(), "set MY_ADMIN_TOKEN (the variable this config reads)") {
		t.Fatalf("error %v; want it to name MY_ADMIN_TOKEN", err)
	}
	t.Setenv("LOGINGUARD_ADMIN_TOKEN", "now-it-is-set")
	if err := caddy.Validate(&cfg); err != nil {
		t.Fatalf("with the token set: %v", err)
	}
}

// TestCaddyfileErrors checks that bad Caddyfiles fail to adapt with a message
// that names the offending option.
func TestCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"loginguard /login {\n bogus 1\n}", `unknown option "bogus"`},
		{"loginguard /login {\n principal yaml /x\n}", "principal: want json, form, basic, header or xmlrpc"},
		{"loginguard /login {\n principal xmlrpc one\n}", `principal xmlrpc: "one": want a parameter position`},
		{"loginguard /login {\n canonical lower bogus\n}", `canonical: unknown preset or step "bogus"`},
		{"loginguard /login {\n aliases {\n  cookies x\n }\n}", `aliases: unknown option "cookies"`},
		{"loginguard /login {\n on_ambiguous\n}", "on_ambiguous: missing value"},
		{"loginguard /login {\n principal json\n}", "principal: want"},
		{"loginguard /login {\n rule success {\n  color red\n }\n}", `rule: unknown condition "color"`},
		{"loginguard /login {\n rule\n}", "rule: want"},
		{"loginguard /login {\n rule failure {\n  header X-Err\n }\n}", "rule header: want"},
		{"loginguard /login {\n lockout {\n  max_failures zero\n }\n}", "max_failures: want a positive integer"},
		{"loginguard /login {\n lockout {\n  window soon\n }\n}", "window: want a positive duration"},
		{"loginguard /login {\n lockout {\n  locked_events 0\n }\n}", "lockout locked_events: want a number ≥ 1 or `all`"},
		{"loginguard /login {\n lockout {\n  locked_events some\n }\n}", "lockout locked_events: want a number ≥ 1 or `all`"},
		{"loginguard /login {\n lockout {\n  locked_events\n }\n}", "wrong argument count"},
		{"loginguard /login {\n lockout {\n  duration forever\n }\n}", "lockout duration:"},
		{"loginguard /login {\n lockout {\n  response teapot\n }\n}", "lockout response: status"},
		{"loginguard /login {\n lockout maybe\n}", "lockout: want `lockout off`"},
		{"loginguard /login {\n session_ttl -1s\n}", "session_ttl: want a positive duration"},
		{"loginguard /login {\n source\n}", "source: missing value"},
		{"loginguard /login {\n connectors\n}", "connectors: want one or more connector names, or none"},
		{"loginguard /login {\n connectors a none\n}", "connectors: none stands alone"},
		{"loginguard /login {\n connectors a b a\n}", "connectors: a named twice"},
		{"loginguard /login {\n mfa_token mfaToken\n}", "mfa_token: want"},
		{"loginguard /login {\n mfa_token yaml /t\n}", "mfa_token: want"},
		{"loginguard /login {\n mfa_ttl soon\n}", "mfa_ttl: want a positive duration"},
		{"loginguard /login {\n uniform yes\n}", "wrong argument count"},
	} {
		body := ":8080 {\n" + tc.body + "\nreverse_proxy 127.0.0.1:9\n}\n"
		_, err := adapt(t, "Caddyfile", []byte(body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.body, err, tc.want)
		}
	}
	for _, tc := range []struct{ global, want string }{
		{"loginguard {\n colour blue\n}", `unknown global option "colour"`},
		{"loginguard {\n sink carrier-pigeon\n}", `sink: want file or log, got "carrier-pigeon"`},
		{"loginguard {\n sink file\n}", "sink: want `file <path>`"},
		{"loginguard {\n connector events file\n}", "connector events: want `file <path>`"},
		{"loginguard {\n connector events file /x {\n  fsync 1\n }\n}", `connector events: file fsync: takes no value, got "1"`},
		{"loginguard {\n connector out log debug warn\n}", "connector out: want `log [<level>]`"},
		{"loginguard {\n state memory {\n  max_accounts -3\n }\n}", "max_accounts: want a positive integer"},
		{"loginguard {\n queue_size lots\n}", "queue_size: want a positive integer"},
		{"loginguard {\n state redis\n}", "state redis: url: required"},
		{"loginguard {\n state redis://x {\n  prefix p\n }\n}", "state <url> takes no more arguments"},
		{"loginguard {\n state redis redis://x {\n  pool_size many\n }\n}", "pool_size: want a positive integer"},
		{"loginguard {\n on_state_error\n}", "on_state_error: missing value"},
		{"loginguard {\n alerts {\n  brute_force 3 1h\n }\n}", `alerts: unknown rule "brute_force"`},
		{"loginguard {\n alerts {\n  ip_failures 10\n }\n}", "alerts ip_failures: want <threshold> <window> [<cooldown>] or off"},
		{"loginguard {\n alerts {\n  ip_failures many 1h\n }\n}", `alerts ip_failures: threshold: want a positive integer, got "many"`},
		{"loginguard {\n alerts {\n  ip_failures 10 soon\n }\n}", `alerts ip_failures: window: want a positive duration, got "soon"`},
		{"loginguard {\n alerts {\n  account_locked 1h 2h\n }\n}", "alerts account_locked: too many values"},
		{"loginguard {\n alerts {\n  connectors\n }\n}", "alerts connectors: want one or more connector names, or none"},
		{"loginguard {\n connector none webhook https://x\n}", "connector none: name: none is reserved"},
		{"loginguard {\n telemetry {\n  protocol thrift\n }\n}", `telemetry protocol: want http or grpc, got "thrift"`},
		{"loginguard {\n telemetry {\n  sample_ratio 2\n }\n}", "telemetry sample_ratio: want a number from 0 to 1"},
		{"loginguard {\n telemetry {\n  sample_ratio half\n }\n}", "telemetry sample_ratio: want a number from 0 to 1"},
		{"loginguard {\n telemetry ftp://collector\n}", "telemetry endpoint: want http://host:port or https://host:port"},
		{"loginguard {\n telemetry {\n  hash_identities maybe\n }\n}", "telemetry hash_identities: want on or off"},
		{"loginguard {\n telemetry {\n  header X-Key\n }\n}", "telemetry header: want <name> <value>"},
		{"loginguard {\n telemetry {\n  colour blue\n }\n}", `telemetry: unknown option "colour"`},
	} {
		body := "{\n" + tc.global + "\n}\n:8080 {\nreverse_proxy 127.0.0.1:9\n}\n"
		_, err := adapt(t, "Caddyfile", []byte(body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.global, err, tc.want)
		}
	}
}
