package sqlite

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMain lets the test binary play the other process of TestOneWriterProcess.
func TestMain(m *testing.M) {
	if path := os.Getenv("LOGINGUARD_HOLD_DB"); path != "" {
		s, err := Open(context.Background(), path, Options{})
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("ready\n")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the test lets go
		s.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestOneWriterProcess: while another process writes a log file, Open refuses
// it with an error naming the file and that process; within one process the file
// can be opened again (a config reload); once the other process is gone, the
// file opens.
func TestOneWriterProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logins.db")
	other := exec.Command(os.Args[0], "-test.run=^$")
	other.Env = append(os.Environ(), "LOGINGUARD_HOLD_DB="+path)
	stdin, err := other.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := other.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer other.Process.Kill()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); strings.TrimSpace(line) != "ready" {
		t.Fatalf("the other process: %q", line)
	}

	_, err = Open(context.Background(), path, Options{})
	if err == nil {
		t.Fatal("a second process opened a log file another process writes")
	}
	for _, want := range []string{path, "pid " + strconv.Itoa(other.Process.Pid), "use PostgreSQL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}

	stdin.Close() // the other process closes its store and exits
	if err := other.Wait(); err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("after the other process ended: %v", err)
	}
	b, err := Open(context.Background(), path, Options{}) // the same process again
	if err != nil {
		t.Fatalf("a second open in the same process: %v", err)
	}
	b.Close()
	a.Close()
}
