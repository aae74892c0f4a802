// Package redistest starts disposable Redis servers and clusters for tests:
// real redis-server processes on free local ports, killed when the test ends.
// A missing redis-server or redis-cli fails the test; nothing is skipped.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds a server's start and a cluster's formation.
const startTimeout = 10 * time.Second

// Server is a disposable redis-server: no persistence, bound to 127.0.0.1.
type Server struct {
	// Addr is host:port, the same across Kill and Restart.
	Addr string

	tb   testing.TB
	port int
	dir  string
	args []string

	mu   sync.Mutex
	proc *process
}

// process is one run of redis-server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited
}

// StartServer starts a redis-server on a free port and stops it when the test
// ends.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	dir := tb.TempDir()
	for attempt := 0; ; attempt++ {
		s := &Server{tb: tb, port: freePort(tb), dir: dir}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		err := s.start()
		if err == nil {
			tb.Cleanup(s.Kill)
			return s
		}
		if attempt == 2 {
			tb.Fatalf("redistest: %v", err)
		}
	}
}

// Kill kills the server (SIGKILL) and waits until it is gone. Killing a
// stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a paused server dies too
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Restart starts a killed server again on the same port, empty; it fails the
// test if the server does not come up.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("redistest: restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pause stops the server's process (SIGSTOP): it keeps its connections and
// port but answers nothing, like a hung or unreachable server.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.tb.Helper()
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		s.tb.Fatalf("redistest: %s is not running", s.Addr)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("redistest: signal %v: %v", sig, err)
	}
}

// start runs redis-server and waits until it answers PING.
func (s *Server) start() error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return errors.New("redis-server not found on PATH (Debian package redis-server)")
	}
	logFile := filepath.Join(s.dir, "redis-"+strconv.Itoa(s.port)+".log")
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
		"--logfile", logFile,
	}, s.args...)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("redis-server on port %d exited: %s", s.port, tail(logFile))
		default:
		}
		if reply, err := command(s.Addr, "PING"); err == nil && reply == "PONG" {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-p.done
			return fmt.Errorf("redis-server on port %d did not answer PING: %s", s.port, tail(logFile))
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// StartCluster starts a three-master Redis Cluster (no replicas) on free ports,
// waits until every node reports cluster_state:ok and stops it when the test
// ends. It returns the nodes' addresses.
func StartCluster(tb testing.TB) []string {
	tb.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Fatal("redistest: redis-cli not found on PATH (Debian package redis-tools)")
	}
	dir := tb.TempDir()
	var addrs []string
	for range 3 {
		var srv *Server
		for attempt := 0; ; attempt++ {
			port := freePort(tb)
			srv = &Server{tb: tb, port: port, dir: dir, args: []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, "nodes-"+strconv.Itoa(port)+".conf"),
				"--cluster-port", strconv.Itoa(freePort(tb)),
				"--cluster-node-timeout", "2000",
			}}
			srv.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			err := srv.start()
			if err == nil {
				break
			}
			if attempt == 2 {
				tb.Fatalf("redistest: cluster node: %v", err)
			}
		}
		tb.Cleanup(srv.Kill)
		addrs = append(addrs, srv.Addr)
	}

	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, addr := range addrs {
		for {
			info, err := command(addr, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: cluster node %s not ok: %v\n%s", addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

// freePort returns a local TCP port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// command sends one command and returns a simple or bulk string reply.
func command(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(b.Bytes()); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", errors.New(line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("bad reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("unexpected reply %q", line)
	}
}

// tail returns the end of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
