package connectortest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

// memSink keeps JSON lines in memory; flaw makes it break one rule on purpose.
type memSink struct {
	flaw string

	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
}

func (m *memSink) Deliver(ctx context.Context, batch []event.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("closed")
	}
	if m.flaw == "order" && len(batch) > 1 {
		batch = slices.Clone(batch)
		slices.Reverse(batch)
	}
	for _, ev := range batch {
		if m.flaw == "date" {
			ev.EventDate = ev.EventDate.Truncate(time.Second)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if m.flaw == "framing" {
			b = bytes.ReplaceAll(b, []byte(`\n`), []byte("\n"))
		}
		m.buf.Write(b)
		m.buf.WriteByte('\n')
	}
	return nil
}

func (m *memSink) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

func (m *memSink) read(t *testing.T) []event.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []event.Event
	for i, line := range bytes.Split(bytes.TrimSuffix(m.buf.Bytes(), []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var ev event.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("line %d %q: %v", i+1, line, err)
		}
		if m.flaw == "nulls" && ev.Email == nil {
			ev.Email = new(string)
		}
		out = append(out, ev)
	}
	return out
}

func memSuite(flaw string) Sink {
	var mu sync.Mutex
	sinks := map[*testing.T]*memSink{}
	return Sink{
		New: func(t *testing.T) connectors.Connector {
			m := &memSink{flaw: flaw}
			mu.Lock()
			sinks[t] = m
			mu.Unlock()
			return m
		},
		Read: func(t *testing.T) []event.Event {
			mu.Lock()
			defer mu.Unlock()
			return sinks[t].read(t)
		},
	}
}

// TestMemorySink shows that a correct sink passes the suite. In the child
// processes of TestSuiteCatchesFlaws it runs the suite on a flawed sink instead.
func TestMemorySink(t *testing.T) { Run(t, memSuite(os.Getenv("CONNECTORTEST_FLAW"))) }

// TestSuiteCatchesFlaws checks that each flaw makes the suite fail, and why.
func TestSuiteCatchesFlaws(t *testing.T) {
	for flaw, tc := range map[string]struct{ subtest, want string }{
		"nulls":   {"RoundTrip", "differs in email"},
		"order":   {"Order", "differs in id"},
		"date":    {"RoundTrip", "differs in eventDate"},
		"framing": {"HostileText", "FAIL: TestMemorySink/HostileText"},
	} {
		t.Run(flaw, func(t *testing.T) {
			want := tc.want
			cmd := exec.Command(os.Args[0], "-test.run=^TestMemorySink$/^"+tc.subtest+"$", "-test.count=1")
			cmd.Env = append(os.Environ(), "CONNECTORTEST_FLAW="+flaw)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("suite on a sink with flaw %s: %v, want a failing run\n%s", flaw, err, out)
			}
			if !strings.Contains(string(out), want) {
				t.Errorf("suite on a sink with flaw %s failed without %q:\n%s", flaw, want, out)
			}
		})
	}
}
