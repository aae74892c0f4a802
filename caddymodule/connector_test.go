package caddymodule

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	kafkago "github.com/segmentio/kafka-go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

// refusingPortal is a portal that refuses every login with a 401 (bad
// credentials); it is closed at the end of the test.
func refusingPortal(t *testing.T) *httptest.Server {
	portal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		io.WriteString(w, `{"code":"BAD_CREDENTIALS","message":"Bad credentials"}`)
	}))
	t.Cleanup(portal.Close)
	return portal
}

// connectorsConfig adapts a Caddyfile: no admin endpoint, no log store, a 5ms
// flush, the loginguard app's options app (its connectors), and a site on
// 127.0.0.1:port whose /login route is watched in front of upstream.
func connectorsConfig(t *testing.T, port int, upstream, app string) []byte {
	t.Helper()
	body := fmt.Sprintf("{\n\tadmin off\n\tloginguard {\n\t\tstore off\n\t\tflush_interval 5ms\n%s\n\t}\n}\n"+
		"http://127.0.0.1:%d {\n\tloginguard /login\n\treverse_proxy %s\n}\n", app, port, strings.TrimPrefix(upstream, "http://"))
	out, err := adapt(t, "Caddyfile", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// failLogin posts a wrong password for email to the watched /login route on
// 127.0.0.1:port and returns the answer's status.
func failLogin(t *testing.T, port int, email string) int {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/login", port), "application/json",
		strings.NewReader(`{"email":"`+email+`","password":"wrong"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// freePort returns a TCP port of 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestConnectorCaddyfileErrors: bad connector blocks fail to adapt with a
// message naming the connector and the option.
func TestConnectorCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct{ global, want string }{
		{"connector", "want `connector <name> <type>`"},
		{"connector siem", "connector siem: want a type"},
		{"connector siem carrier-pigeon", "loginguard.connectors.carrier-pigeon"},
		{"connector 'bad name' kafka", "name: want letters"},
		{"connector siem kafka {\n format xml\n }", `format: unknown format "xml"`},
		{"connector siem kafka {\n active maybe\n }", "active: want on, off or `if <value>`"},
		{"connector siem kafka {\n sasl plain u\n }", "connector siem: kafka sasl: want <mechanism> <username> <password>"},
		{"connector siem kafka {\n colour blue\n }", `connector siem: kafka: unknown option "colour"`},
		{"connector siem kafka {\n tls {\n  pin x\n }\n }", `kafka tls: unknown option "pin"`},
		{"connector siem kafka {\n spool {\n  max_bytes lots\n }\n }", "kafka spool max_bytes: want a size"},
		{"connector siem kafka {\n spool {\n  max_age forever\n }\n }", "max_age: want a positive duration"},
		{"connector siem kafka {\n spool maybe\n }", "spool: want on, off or a block"},
		{"connector siem kafka {\n spool {\n  dead_letter_max_bytes -1\n }\n }", "spool dead_letter_max_bytes: want a size"},
		{"connector hooks webhook", "connector hooks: want `webhook <url>`"},
		{"connector hooks webhook https://x {\n header X\n }", "webhook header: want <name> <value>"},
		{"connector hooks webhook https://x {\n timeout soon\n }", "timeout: want a positive duration"},
		{"connector hooks webhook https://x {\n batch 0\n }", "batch: want a positive integer"},
	} {
		body := "{\nloginguard {\n" + tc.global + "\n}\n}\n:8080 {\nreverse_proxy 127.0.0.1:9\n}\n"
		_, err := adapt(t, "Caddyfile", []byte(body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.global, err, tc.want)
		}
	}
}

// validateCaddyfile adapts a Caddyfile and provisions it without starting it.
func validateCaddyfile(t *testing.T, body string) error {
	t.Helper()
	out, err := adapt(t, "Caddyfile", []byte(body))
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Admin = &caddy.AdminConfig{Disabled: true}
	return caddy.Validate(&cfg)
}

func withConnectors(conns string) string {
	return "{\nloginguard {\nstore off\n" + conns + "\n}\n}\n:8080 {\nreverse_proxy 127.0.0.1:9\n}\n"
}

// TestConnectorProvisionErrors: config that parses but cannot work is
// rejected at Provision, naming the connector and the field.
func TestConnectorProvisionErrors(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	for _, tc := range []struct{ conns, want string }{
		{"connector siem kafka {\n brokers 127.0.0.1:9092\n }", "connector siem (kafka): topic: required"},
		{"connector siem kafka {\n topic t\n }", "connector siem (kafka): brokers: required"},
		{"connector siem kafka {\n brokers kafka\n topic t\n }", `brokers: "kafka" is not host:port`},
		{"connector siem kafka {\n brokers k:9092\n topic t\n tls {\n  ca /nonexistent.pem\n }\n }", "connector siem (kafka): tls: ca:"},
		{"connector siem kafka {\n brokers k:9092\n topic t\n tls {\n  cert /c.pem\n }\n }", "connector siem (kafka): tls: cert and key: give both or neither"},
		{"connector siem kafka {\n brokers k:9092\n topic t\n compression brotli\n }", "connector siem (kafka): compression: unknown compression"},
		{"connector siem kafka {\n brokers k:9092\n topic t\n sasl gssapi u p\n }", "connector siem (kafka): sasl: unknown SASL mechanism"},
		{"connector events file /proc/nope/events.jsonl", "connector events (file): file sink: creating the directory"},
		{"connector events file /tmp/x.jsonl {\n format ecs\n }", "connector events (file): format: the file connector writes the connector event's JSON; want json"},
		{"connector out log loud", `connector out (log): level: want debug, info, warn or error, got "loud"`},
		{"connector hooks webhook ftp://example.com/x", "connector hooks (webhook): url:"},
		{"connector hooks webhook https:///nohost", "connector hooks (webhook): url:"},
		{"connector hooks webhook https://example.com {\n secret s3cret\n }", `connector hooks (webhook): secret 1: a secret must start with "whsec_"`},
		{"connector hooks webhook https://example.com {\n secret whsec_%%%\n }", "secret 1: a secret must be"},
		{"connector hooks webhook https://example.com {\n batch 5000\n }", "connector hooks (webhook): batch: want 1 to 1000 events, got 5000"},
		{"connector a webhook https://example.com\nconnector a webhook https://example.org", "connector a: name: used by two connectors"},
	} {
		err := validateCaddyfile(t, withConnectors(tc.conns))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.conns, err, tc.want)
		}
	}
	// A route or the alerts naming a connector the app does not define.
	for _, tc := range []struct{ conns, route, want string }{
		{"connector a webhook https://example.com", "connectors a b", `connectors: unknown connector "b": the loginguard app defines a`},
		{"", "connectors a", `connectors: unknown connector "a": the loginguard app defines none`},
		{"connector a webhook https://example.com\nalerts {\nconnectors c\n}", "", `alerts connectors: unknown connector "c": the loginguard app defines a`},
	} {
		body := "{\nloginguard {\nstore off\n" + tc.conns + "\n}\n}\n:8080 {\nloginguard /login {\n" + tc.route + "\n}\nreverse_proxy 127.0.0.1:9\n}\n"
		err := validateCaddyfile(t, body)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q / %q: error %v, want it to contain %q", tc.conns, tc.route, err, tc.want)
		}
	}
	// An inactive connector may be named: it receives nothing.
	if err := validateCaddyfile(t, "{\nloginguard {\nstore off\nconnector a webhook https://example.com {\nactive off\n}\n}\n}\n:8080 {\nloginguard /login {\nconnectors a\n}\nreverse_proxy 127.0.0.1:9\n}\n"); err != nil {
		t.Errorf("naming an inactive connector: %v", err)
	}
	// An unknown format given in JSON (the Caddyfile refuses it earlier).
	cfg := caddy.Config{Admin: &caddy.AdminConfig{Disabled: true}, AppsRaw: caddy.ModuleMap{
		"loginguard": json.RawMessage(`{"no_store":true,"connectors":[{"connector":"webhook","name":"h","url":"https://x.example","format":"xml"}]}`),
	}}
	if err := caddy.Validate(&cfg); err == nil || !strings.Contains(err.Error(), `connector h (webhook): format: unknown format "xml"`) {
		t.Errorf("unknown format: %v", err)
	}
	cfg.AppsRaw["loginguard"] = json.RawMessage(`{"no_store":true,"connectors":[{"connector":"webhook","url":"https://x.example"}]}`)
	if err := caddy.Validate(&cfg); err == nil || !strings.Contains(err.Error(), "name: required") {
		t.Errorf("no name: %v", err)
	}
}

// TestConnectorBrokersDownAtStart: Caddy starts with a Kafka connector whose
// brokers cannot be reached (a closed port); a login is answered at once, and
// the connector reports its error and holds the event in its spool.
func TestConnectorBrokersDownAtStart(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	closed := freePort(t)
	portal := refusingPortal(t)
	port := freePort(t)
	out := connectorsConfig(t, port, portal.URL, fmt.Sprintf(`		connector siem kafka {
			brokers 127.0.0.1:%d
			topic login-events
			write_timeout 1s
		}`, closed))
	if err := caddy.Load(out, true); err != nil {
		t.Fatalf("brokers down at start-up: %v", err)
	}
	defer caddy.Stop()
	if st := failLogin(t, port, "user@example.com"); st != 401 {
		t.Fatalf("login answered %d, want the portal's 401", st)
	}
	app, err := caddy.ActiveContext().App("loginguard")
	if err != nil {
		t.Fatal(err)
	}
	var st connectors.Stats
	deadline := time.Now().Add(60 * time.Second)
	for {
		st = app.(*App).ConnectorStats()[0]
		if st.LastError != "" && st.Spooled == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s the connector reports %+v, want its error and the event spooled", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.Name != "siem" || st.Delivered != 0 || st.Failed != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v: want the event kept, neither delivered nor failed", st)
	}
}

// TestConnectorsThroughCaddy runs Caddy with a Kafka connector (in-process
// broker) and a webhook connector, both spooled, in front of a portal that
// refuses a login: the attempt arrives at both, in the formats configured,
// signed for the webhook; an inactive connector gets nothing; the statistics
// list the connectors.
func TestConnectorsThroughCaddy(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "login-events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a secret of the test receiver!!"))
	var mu sync.Mutex
	var bodies [][]byte
	var heads []http.Header
	var paths []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, heads, paths = append(bodies, b), append(heads, r.Header.Clone()), append(paths, r.URL.Path)
		mu.Unlock()
	}))
	defer hook.Close()
	portal := refusingPortal(t)
	port := freePort(t)

	out := connectorsConfig(t, port, portal.URL, fmt.Sprintf(`		connector siem kafka {
			brokers %s
			topic login-events
		}
		connector hooks webhook %s {
			secret %s
			header X-Tenant acme
			format ecs
		}
		connector batched webhook %s/batched {
			batch 10
		}
		connector off webhook %s/inactive {
			active off
		}`, cluster.ListenAddrs()[0], hook.URL, secret, hook.URL, hook.URL))
	if err := caddy.Load(out, true); err != nil {
		t.Fatal(err)
	}
	defer caddy.Stop()

	failLogin(t, port, "User@Example.com")

	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(bodies)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhooks got %d requests, want 2", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	if paths[0] == "/batched" {
		bodies[0], bodies[1], heads[0], heads[1] = bodies[1], bodies[0], heads[1], heads[0]
	}
	// The batched connector: an array of the one event, under a batch id.
	var batched []event.Event
	if err := json.Unmarshal(bodies[1], &batched); err != nil || len(batched) != 1 ||
		event.Value(batched[0].Email) != "user@example.com" || !strings.HasPrefix(heads[1].Get("webhook-id"), "batch_") {
		t.Errorf("batched webhook got %s (webhook-id %q): %v", bodies[1], heads[1].Get("webhook-id"), err)
	}
	wh, _ := standardwebhooks.NewWebhook(secret)
	if err := wh.Verify(bodies[0], heads[0]); err != nil {
		t.Errorf("webhook signature: %v", err)
	}
	if heads[0].Get("X-Tenant") != "acme" {
		t.Errorf("headers %v", heads[0])
	}
	var ecs map[string]any
	json.Unmarshal(bodies[0], &ecs)
	if _, ok := ecs["@timestamp"]; !ok || !strings.Contains(string(bodies[0]), "user@example.com") {
		t.Errorf("webhook body not ECS of the attempt: %s", bodies[0])
	}
	mu.Unlock()

	// Kafka: the event as the connector event JSON, keyed by the email.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: cluster.ListenAddrs(), Topic: "login-events", Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("reading the Kafka topic: %v", err)
	}
	var ev event.Event
	if err := json.Unmarshal(m.Value, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventType != event.LoginFailure || event.Value(ev.Email) != "user@example.com" || string(m.Key) != "user@example.com" {
		t.Errorf("kafka message key %q value %s", m.Key, m.Value)
	}

	app, err := caddy.ActiveContext().App("loginguard")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, st := range app.(*App).ConnectorStats() {
		names = append(names, st.Name)
	}
	if strings.Join(names, ",") != "siem,hooks,batched" {
		t.Errorf("connectors in stats: %v, want siem,hooks,batched (off is inactive)", names)
	}
	// Both delivered, so the inactive connector had its chance: it sent nothing.
	mu.Lock()
	defer mu.Unlock()
	for _, p := range paths {
		if p == "/inactive" {
			t.Error("the inactive connector posted")
		}
	}
	// The spools are under Caddy's data directory, one per connector.
	for _, name := range []string{"siem", "hooks"} {
		if _, err := os.Stat(filepath.Join(caddy.AppDataDir(), "loginguard", "spool", name, "ack")); err != nil {
			t.Errorf("spool of %s: %v", name, err)
		}
	}
}

// TestConnectorSpoolAcrossRestartAndReload: a webhook target that is down
// when a login happens gets the event after Caddy restarts, and after a config
// reload, once it is back; the spool lives under Caddy's data directory.
func TestConnectorSpoolAcrossRestartAndReload(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	var up atomic.Bool
	var mu sync.Mutex
	got := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			w.WriteHeader(503)
			return
		}
		var ev event.Event
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &ev)
		mu.Lock()
		got[event.Value(ev.Email)]++
		mu.Unlock()
	}))
	defer hook.Close()
	portal := refusingPortal(t)
	port := freePort(t)
	config := func(timeout string) []byte {
		out := connectorsConfig(t, port, portal.URL, fmt.Sprintf(`		connector hooks webhook %s {
			timeout %s
		}`, hook.URL, timeout))
		return out
	}
	stats := func() (s connectorsStats) {
		app, err := caddy.ActiveContext().App("loginguard")
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range app.(*App).ConnectorStats() {
			if st.Name == "hooks" {
				return connectorsStats{spooled: st.Spooled, delivered: st.Delivered}
			}
		}
		return
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	received := func(email string) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return got[email] > 0 }
	}

	// Down: the attempt is spooled. Caddy stops with it undelivered.
	if err := caddy.Load(config("5s"), true); err != nil {
		t.Fatal(err)
	}
	failLogin(t, port, "first@example.com")
	wait("the first event spooled", func() bool { return stats().spooled == 1 })
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	// Back, and Caddy starts again: the event arrives.
	up.Store(true)
	if err := caddy.Load(config("5s"), true); err != nil {
		t.Fatal(err)
	}
	defer caddy.Stop()
	wait("the first event after the restart", received("first@example.com"))

	// Down again; a config reload happens while an event waits in the spool.
	up.Store(false)
	failLogin(t, port, "second@example.com")
	wait("the second event spooled", func() bool { return stats().spooled == 1 })
	if err := caddy.Load(config("4s"), true); err != nil {
		t.Fatal(err)
	}
	up.Store(true)
	wait("the second event after the reload", received("second@example.com"))
	wait("the spool emptied", func() bool { return stats().spooled == 0 })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("received %v", got)
	}
}

type connectorsStats struct {
	spooled   int64
	delivered uint64
}

// TestFileConnectorsAndSinks runs Caddy with the deprecated `sink file` and
// file and log connectors, in front of a portal that refuses a login on a
// route whose `connectors` choose two of them: the sink gets the event (a
// sink gets every event, whatever the routes choose), the chosen connectors
// get it, the one not chosen gets nothing. A file connector has no spool
// unless its config asks for one.
func TestFileConnectorsAndSinks(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name+".jsonl") }
	portal := refusingPortal(t)
	port := freePort(t)
	body := fmt.Sprintf(`{
	admin off
	loginguard {
		store off
		flush_interval 5ms
		sink file %s
		connector events file %s
		connector quiet file %s
		connector spooled file %s {
			spool
		}
		connector caddylog log warn
	}
}
http://127.0.0.1:%d {
	loginguard /login {
		connectors events spooled caddylog
	}
	reverse_proxy %s
}
`, path("sink"), path("events"), path("quiet"), path("spooled"), port, strings.TrimPrefix(portal.URL, "http://"))
	out, err := adapt(t, "Caddyfile", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(out, true); err != nil {
		t.Fatal(err)
	}
	defer caddy.Stop()
	failLogin(t, port, "User@Example.com")

	read := func(name string) []event.Event {
		b, err := os.ReadFile(path(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var evs []event.Event
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var ev event.Event
			if line != "" && json.Unmarshal([]byte(line), &ev) == nil {
				evs = append(evs, ev)
			}
		}
		return evs
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(read("sink")) == 0 || len(read("events")) == 0 || len(read("spooled")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: sink %d, events %d, spooled %d events", len(read("sink")), len(read("events")), len(read("spooled")))
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, name := range []string{"sink", "events", "spooled"} {
		if evs := read(name); len(evs) != 1 || evs[0].EventType != event.LoginFailure || event.Value(evs[0].Email) != "user@example.com" {
			t.Errorf("%s got %+v, want the one failed login", name, evs)
		}
	}
	app, err := caddy.ActiveContext().App("loginguard")
	if err != nil {
		t.Fatal(err)
	}
	// Wait until no output has an event queued: then each has delivered
	// what it was given.
	var names []string
	delivered := map[string]uint64{}
	for idle := false; !idle; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s the outputs are not idle: %+v", app.(*App).ConnectorStats())
		}
		names, idle = nil, true
		for _, st := range app.(*App).ConnectorStats() {
			names = append(names, st.Name)
			delivered[st.Name] = st.Delivered
			idle = idle && st.Queued == 0
		}
	}
	if strings.Join(names, ",") != "file#0,events,quiet,spooled,caddylog" {
		t.Errorf("outputs in stats: %v", names)
	}
	want := map[string]uint64{"file#0": 1, "events": 1, "quiet": 0, "spooled": 1, "caddylog": 1}
	if !maps.Equal(delivered, want) {
		t.Errorf("delivered %v, want %v", delivered, want)
	}
	if evs := read("quiet"); len(evs) != 0 {
		t.Errorf("the connector no route chose got %+v", evs)
	}
	spools := filepath.Join(caddy.AppDataDir(), "loginguard", "spool")
	if _, err := os.Stat(filepath.Join(spools, "spooled", "ack")); err != nil {
		t.Errorf("the spool the file connector asks for: %v", err)
	}
	for _, name := range []string{"events", "quiet", "file#0", "caddylog"} {
		if _, err := os.Stat(filepath.Join(spools, name)); !os.IsNotExist(err) {
			t.Errorf("%s has a spool (%v), want none by default", name, err)
		}
	}
}

// TestSinkDeprecated: the old `sink` syntax adapts to the JSON it always did,
// with an adapt warning that shows the connector that replaces it; the new
// syntax warns of nothing.
func TestSinkDeprecated(t *testing.T) {
	var got []caddyconfig.Warning
	defer func(f func(caddyconfig.Warning)) { adaptWarn = f }(adaptWarn)
	adaptWarn = func(w caddyconfig.Warning) { got = append(got, w) }

	old := "{\n\tloginguard {\n\t\tsink file /var/log/lg.jsonl {\n\t\t\tfsync\n\t\t}\n\t\tsink log warn\n\t}\n}\n:8080 {\n\treverse_proxy 127.0.0.1:9\n}\n"
	out, err := adapt(t, "Caddyfile", []byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"sinks": [`)) || !bytes.Contains(out, []byte(`"sink": "file"`)) {
		t.Errorf("old syntax adapted to\n%s", out)
	}
	want := []struct {
		line int
		now  string
	}{{3, "write `connector events file /var/log/lg.jsonl { fsync }`"}, {6, "write `connector log log warn`"}}
	if len(got) != len(want) {
		t.Fatalf("warnings %+v, want %d", got, len(want))
	}
	for i, w := range want {
		if got[i].File != "Caddyfile" || got[i].Line != w.line || got[i].Directive != "loginguard" ||
			!strings.Contains(got[i].Message, "is deprecated: "+w.now) {
			t.Errorf("warning %d: %+v, want line %d and %q", i, got[i], w.line, w.now)
		}
	}

	got = nil
	now := "{\n\tloginguard {\n\t\tconnector events file /var/log/lg.jsonl {\n\t\t\tfsync\n\t\t}\n\t\tconnector log log warn\n\t}\n}\n:8080 {\n\treverse_proxy 127.0.0.1:9\n}\n"
	if _, err := adapt(t, "Caddyfile", []byte(now)); err != nil || len(got) != 0 {
		t.Errorf("new syntax: error %v, warnings %+v", err, got)
	}
}

// TestTLSConfigBuild: the connectors' one TLS builder trusts the CA file it
// is given and presents the client certificate: a handshake with a server
// whose certificate that CA signed, and which requires a client certificate
// from it, succeeds; without the CA it fails.
func TestTLSConfigBuild(t *testing.T) {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(name string, usage x509.ExtKeyUsage) tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
		os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{issue("receiver.test", x509.ExtKeyUsageServerAuth)},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	issue("gateway.test", x509.ExtKeyUsageClientAuth)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	dial := func(tc *TLSConfig) error {
		cfg, err := tc.build()
		if err != nil {
			return err
		}
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		// The server checks the client certificate after the client's
		// handshake: a read sees its verdict.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != nil && err != io.EOF {
			return err
		}
		return nil
	}
	full := &TLSConfig{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "gateway.test.pem"), Key: filepath.Join(dir, "gateway.test.key"), ServerName: "receiver.test"}
	if err := dial(full); err != nil {
		t.Errorf("with the CA and the client certificate: %v", err)
	}
	if err := dial(&TLSConfig{Cert: full.Cert, Key: full.Key, ServerName: "receiver.test"}); err == nil {
		t.Error("without the CA the handshake succeeded")
	}
	if err := dial(&TLSConfig{CA: full.CA, ServerName: "receiver.test"}); err == nil {
		t.Error("without the client certificate the handshake succeeded")
	}
}
