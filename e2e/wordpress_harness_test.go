package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The real WordPress (Debian's `wordpress` package) the tests drive through
// Caddy's php_fastcgi. e2e/wordpress/setup.sh installs it once per machine (the
// packages, the MariaDB database, /etc/wordpress/config-loginguard-e2e.php, the
// administrator and an application password); each test starts its own php-fpm
// master on a unix socket in its temp dir.
const (
	wpSetupHint       = "WordPress is not set up for the e2e tests: run `bash e2e/wordpress/setup.sh` as root (.ci/run does)"
	wpRoot            = "/usr/share/wordpress"
	wpConfigFile      = "/etc/wordpress/config-loginguard-e2e.php"
	wpAppPasswordFile = "/etc/wordpress/loginguard-e2e-app-password"
	wpDBAddr          = "127.0.0.1:3306"

	wpAdminUser     = "wpadmin"
	wpAdminPassword = "wpadmin-right-pass-1"
	wpAdminEmail    = "wpadmin@example.com"
)

// wordpress is a running php-fpm serving the e2e WordPress.
type wordpress struct {
	Socket      string // php-fpm's FastCGI unix socket
	Root        string // the docroot, /usr/share/wordpress
	User        string // the administrator's login
	Password    string // its password
	Email       string // its email
	AppPassword string // its application password, as WordPress shows it ("abcd efgh ...")

	dir string
	fpm *proc
}

// startWordPress starts a php-fpm master (not the system service) for the e2e
// WordPress, stopped when the test ends. It fails t when setup.sh has not run.
func startWordPress(t testing.TB) *wordpress {
	t.Helper()
	fpmBin := phpFPMBinary()
	for _, f := range []string{fpmBin, filepath.Join(wpRoot, "wp-login.php"), filepath.Join(wpRoot, "xmlrpc.php"), wpConfigFile, wpAppPasswordFile} {
		if f == "" {
			t.Fatalf("%s (no php-fpm binary found)", wpSetupHint)
		}
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s (%v)", wpSetupHint, err)
		}
	}
	app, err := os.ReadFile(wpAppPasswordFile)
	if err != nil || strings.TrimSpace(string(app)) == "" {
		t.Fatalf("%s (no application password in %s: %v)", wpSetupHint, wpAppPasswordFile, err)
	}
	if c, err := net.DialTimeout("tcp", wpDBAddr, 5*time.Second); err != nil {
		t.Fatalf("MariaDB does not answer on %s (%v): start it (`start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`) and run `bash e2e/wordpress/setup.sh`", wpDBAddr, err)
	} else {
		c.Close()
	}

	dir := t.TempDir()
	// A unix socket path has at most 107 bytes.
	sockDir := dir
	if len(filepath.Join(dir, "php-fpm.sock")) > 100 {
		d, err := os.MkdirTemp("", "lg-wp-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		sockDir = d
	}
	w := &wordpress{
		Socket:      filepath.Join(sockDir, "php-fpm.sock"),
		Root:        wpRoot,
		User:        wpAdminUser,
		Password:    wpAdminPassword,
		Email:       wpAdminEmail,
		AppPassword: strings.TrimSpace(string(app)),
		dir:         dir,
	}
	tmpl, err := os.ReadFile(filepath.Join(repoRoot, "e2e", "wordpress", "php-fpm.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("@DIR@", dir, "@SOCKET@", w.Socket).Replace(string(tmpl))
	confPath := filepath.Join(dir, "php-fpm.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	logPath := filepath.Join(dir, "php-fpm-stdout.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fpmBin, "--nodaemonize", "--fpm-config", confPath)
	if os.Geteuid() == 0 {
		cmd.Args = append(cmd.Args, "--allow-to-run-as-root")
	}
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", fpmBin, err)
	}
	w.fpm = &proc{cmd: cmd, log: logPath}
	t.Cleanup(func() {
		w.fpm.stop()
		f.Close()
		if t.Failed() {
			t.Logf("php-fpm logs:\n%s", w.logs())
		}
	})

	// Ready when the socket accepts connections. php-fpm logs "ERROR: ..."
	// (then exits) when it cannot start.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.DialTimeout("unix", w.Socket, 2*time.Second); err == nil {
			c.Close()
			break
		}
		if strings.Contains(w.logs(), "ERROR:") {
			t.Fatalf("php-fpm failed to start:\n%s", w.logs())
		}
		if time.Now().After(deadline) {
			t.Fatalf("php-fpm's socket %s did not accept connections within 60s:\n%s", w.Socket, w.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return w
}

// phpFPMBinary finds php-fpm (php-fpm8.2 on Debian 12); "" when there is none.
func phpFPMBinary() string {
	for _, name := range []string{"php-fpm8.2", "php-fpm"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		if p := filepath.Join("/usr/sbin", name); fileExists(p) {
			return p
		}
	}
	if m, _ := filepath.Glob("/usr/sbin/php-fpm*"); len(m) > 0 {
		return m[0]
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// logs returns what php-fpm and the PHP workers logged so far.
func (w *wordpress) logs() string {
	var b strings.Builder
	for _, n := range []string{"php-fpm-stdout.log", "php-fpm-error.log"} {
		data, err := os.ReadFile(filepath.Join(w.dir, n))
		if err == nil && len(data) > 0 {
			fmt.Fprintf(&b, "--- %s\n%s", n, data)
		}
	}
	return b.String()
}

// siteBlock is a Caddyfile site block serving the WordPress at addr (e.g.
// "http://127.0.0.1:8080"). extra goes at the top of the block, in front of
// the WordPress directives (a loginguard handler, matchers, a route...).
// Caddy still orders plain directives by its directive order; loginguard is
// ordered before reverse_proxy, and so before php_fastcgi.
func (w *wordpress) siteBlock(addr, extra string) string {
	return addr + ` {
	` + extra + `
	root * ` + w.Root + `
	php_fastcgi unix/` + w.Socket + `
	file_server
}
`
}

// wpCaddy is a Caddy serving a WordPress.
type wpCaddy struct {
	url   string // base URL, http://127.0.0.1:<port>
	admin string // Caddy's admin address
	dir   string
	proc  *proc
}

// startWordPressCaddy starts the built Caddy with w's site on a free port.
// global goes into the global options block, extra in front of the WordPress
// directives of the site block (see siteBlock); env is added to Caddy's
// environment. It returns when Caddy's admin API and the site answer.
func startWordPressCaddy(t testing.TB, w *wordpress, global, extra string, env ...string) *wpCaddy {
	t.Helper()
	dir := t.TempDir()
	c := &wpCaddy{
		url:   fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		admin: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		dir:   dir,
	}
	cfg := `{
	admin ` + c.admin + `
	` + global + `
}
` + w.siteBlock(c.url, extra)
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c.proc = start(t, dir, "caddy", append([]string{
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"HOME=" + dir,
	}, env...), "run", "--config", cfgPath, "--adapter", "caddyfile")
	waitHTTPFor(t, "http://"+c.admin+"/config/", 60*time.Second)
	waitHTTPFor(t, c.url+"/wp-login.php", 60*time.Second)
	// A WordPress that cannot reach its database or config answers, but not 200.
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Get(c.url + "/wp-login.php")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 2000))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/wp-login.php answered %d (%s): %s\n%s", c.url, resp.StatusCode, wpSetupHint, b, w.logs())
	}
	return c
}

// waitHTTPFor waits until url answers at all, for up to d.
func waitHTTPFor(t testing.TB, url string, d time.Duration) {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(d)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %s: %v", url, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
