package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/postgres"
)

// loginLoad has clients log in, each with a new email every time, until stop
// is called; it returns the emails answered (401) and stop.
func loginLoad(t *testing.T, url string, clients int) (answered func() []string, stop func()) {
	var mu sync.Mutex
	var got []string
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &http.Client{Timeout: 10 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-quit:
					return
				default:
				}
				email := fmt.Sprintf("load%d-%d@example.com", c, i)
				resp, err := cl.Post(url+"/api/login", "application/json", strings.NewReader(`{"email":"`+email+`","password":"wrong"}`))
				if err != nil {
					t.Errorf("login: %v", err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("login answered %d, want 401", resp.StatusCode)
					return
				}
				mu.Lock()
				got = append(got, email)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	var once sync.Once
	stop = func() { once.Do(func() { close(quit); wg.Wait() }) }
	t.Cleanup(stop)
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}, stop
}

// storeStats is the log store's entry of GET /api/v1/connectors.
func (s *stack) storeStats() api.Connector {
	s.t.Helper()
	st, b := s.callAPI("GET", "/api/v1/connectors", readToken, "", "")
	var cs api.Connectors
	if err := json.Unmarshal([]byte(b), &cs); st != 200 || err != nil {
		s.t.Fatalf("connectors: %d %s", st, b)
	}
	for _, c := range cs.Connectors {
		if c.Name == "store" {
			return c
		}
	}
	s.t.Fatalf("no store among the connectors: %s", b)
	return api.Connector{}
}

// TestStoreDiskFull: the SQLite log's disk fills up while logins go on. The
// logins are answered; the failure shows in the log, the metrics and the
// connectors API; the events wait in the store's spool (on another disk) and
// are stored, every one, once there is room again.
func TestStoreDiskFull(t *testing.T) {
	disk := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Fatalf("mounting a small tmpfs (the test needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	// Alerts off: the stored events are counted exactly.
	s := newStack(t, stackOptions{Env: []string{"LOGINGUARD_DB=" + filepath.Join(disk, "logins.db"), noAlerts}})
	s.login("active@example.com", "wrong")
	waitTargets(t, "the first event stored", func() bool { return s.apiTotal("") == 1 })

	// Fill the disk: what is left goes to a filler file.
	filler, err := os.Create(filepath.Join(disk, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := filler.Write(chunk); err != nil {
			break
		}
	}
	filler.Close()

	answered, stop := loginLoad(t, s.url, 4)
	waitTargets(t, "the store to fail with the disk full", func() bool {
		st := s.storeStats()
		return st.Spooled > 0 && strings.Contains(st.LastError, "full") && !st.DeliveredSinceError
	})
	waitTargets(t, "300 logins answered with the disk full", func() bool { return len(answered()) >= 300 })
	stop()
	if q, ok := s.sinkMetric("loginguard_sink_queued_events", "store"); !ok || q == 0 {
		t.Errorf("loginguard_sink_queued_events{sink=\"store\"} = %v (%v), want the events waiting", q, ok)
	}
	if !strings.Contains(s.caddyLog(), "event delivery failing, events kept in the spool") {
		t.Error("no warning in Caddy's log")
	}

	// Room again: every answered login is stored, once.
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	emails := answered()
	waitTargets(t, "the spool to empty into the store", func() bool { return s.storeStats().Queued == 0 })
	if got := s.apiTotal(""); got != len(emails)+1 {
		t.Errorf("the store holds %d events, want %d", got, len(emails)+1)
	}
	for _, e := range emails[:10] {
		if n := s.apiTotal("email=" + e); n != 1 {
			t.Errorf("%s: %d events stored, want 1", e, n)
		}
	}
}

// pgCluster is a PostgreSQL server of the test's own, to stop and start.
type pgCluster struct {
	t    *testing.T
	bin  string
	data string
	port int
}

// startPostgres initialises and starts a disposable PostgreSQL cluster (as the
// postgres user) on a free port.
func startPostgres(t *testing.T) *pgCluster {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		t.Fatal("PostgreSQL's pg_ctl is not installed (apt-get install postgresql)")
	}
	base, err := os.MkdirTemp("", "loginguard-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if out, err := exec.Command("chown", "postgres:postgres", base).CombinedOutput(); err != nil {
		t.Fatalf("chown %s: %v: %s", base, err, out)
	}
	pg := &pgCluster{t: t, bin: filepath.Dir(bins[0]), data: filepath.Join(base, "data"), port: freePort(t)}
	pg.run("initdb", "-D", pg.data, "-A", "trust", "-U", "postgres", "--no-sync")
	t.Cleanup(func() { pg.run("pg_ctl", "-D", pg.data, "-m", "immediate", "stop") })
	pg.start()
	return pg
}

// run runs a PostgreSQL program as the postgres user.
func (pg *pgCluster) run(prog string, args ...string) {
	pg.t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pg.bin, prog)}, args...)...)
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(out), "Is server running?") {
		pg.t.Fatalf("%s: %v: %s", prog, err, out)
	}
}

func (pg *pgCluster) start() {
	pg.t.Helper()
	pg.run("pg_ctl", "-D", pg.data, "-w", "-l", filepath.Join(filepath.Dir(pg.data), "log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", pg.port, filepath.Dir(pg.data)), "start")
}

// stop stops the server the way a crash or an outage does: at once.
func (pg *pgCluster) stop() { pg.run("pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop") }

func (pg *pgCluster) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

// TestStorePostgresDown: the PostgreSQL log store is stopped for 30 s while
// logins go on, then is back: the logins are answered all along, and every
// answered login's event is stored, once.
func TestStorePostgresDown(t *testing.T) {
	pg := startPostgres(t)
	cf := config{App: "store postgres {$PG_DSN}"}.String()
	s := newStack(t, stackOptions{Caddyfile: cf, Env: []string{"PG_DSN=" + pg.dsn()}})

	answered, stop := loginLoad(t, s.url, 4)
	waitTargets(t, "logins before the outage", func() bool { return len(answered()) >= 50 })
	pg.stop()
	down := time.Now()
	before := len(answered())
	waitTargets(t, "the store's spool to hold events", func() bool {
		q, ok := s.sinkMetric("loginguard_sink_queued_events", "store")
		return ok && q > 0
	})
	time.Sleep(30*time.Second - time.Since(down))
	pg.start()
	during := len(answered()) - before
	waitTargets(t, "logins after the outage", func() bool { return len(answered()) >= before+during+50 })
	stop()
	if during < 100 {
		t.Errorf("only %d logins answered during the 30 s outage", during)
	}
	emails := answered()
	waitTargets(t, "the spool to empty into PostgreSQL", func() bool {
		q, ok := s.sinkMetric("loginguard_sink_queued_events", "store")
		return ok && q == 0
	})

	ctx := context.Background()
	st, err := postgres.Open(ctx, pg.dsn(), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored := map[string]int{}
	if err := st.Each(ctx, logstore.Filter{}, true, func(e event.Event) error {
		if e.Email != nil {
			stored[*e.Email]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, e := range emails {
		if stored[e] != 1 {
			lost++
		}
	}
	if lost > 0 || len(stored) != len(emails) {
		t.Errorf("%d logins answered, %d emails stored, %d answered logins not stored once", len(emails), len(stored), lost)
	}
	t.Logf("%d logins answered, %d of them during the 30 s outage", len(emails), during)
}
