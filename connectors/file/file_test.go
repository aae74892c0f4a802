package file

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/connectortest"
	"github.com/loginguard/loginguard/event"
)

// readLines decodes the JSON-lines file at path, failing t on any line that is
// not exactly one event.
func readLines(t *testing.T, path string) []event.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	if len(data) == 0 {
		return nil
	}
	if data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a newline: the last line is partial", path)
	}
	var out []event.Event
	for i, line := range bytes.Split(data[:len(data)-1], []byte("\n")) {
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var ev event.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%s line %d %q: %v", path, i+1, line, err)
		}
		if dec.More() {
			t.Fatalf("%s line %d holds more than one JSON value: %q", path, i+1, line)
		}
		out = append(out, ev)
	}
	return out
}

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	paths := map[*testing.T]string{}
	connectortest.Run(t, connectortest.Sink{
		New: func(t *testing.T) connectors.Connector {
			path := filepath.Join(t.TempDir(), "logs", "login", "events.jsonl")
			s, err := New(Options{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			paths[t] = path
			mu.Unlock()
			return s
		},
		Read: func(t *testing.T) []event.Event {
			mu.Lock()
			path, ok := paths[t]
			mu.Unlock()
			if !ok {
				t.Fatal("Read before New")
			}
			return readLines(t, path)
		},
	})
}

func TestConnectorEventShape(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s, err := New(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ev := event.Event{
		ID:            "0195f0b6-8c2e-7d4a-9b1e-3f2a1c0d4e5f",
		Source:        event.SourceManager,
		Principal:     event.Str("username"),
		EventDate:     time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC),
		EventType:     event.LoginSuccess,
		RemoteAddress: "1.2.3.4",
	}
	if err := s.Deliver(context.Background(), []event.Event{ev}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"0195f0b6-8c2e-7d4a-9b1e-3f2a1c0d4e5f","source":"API_MANAGER","principal":"username",` +
		`"email":null,"displayName":null,"eventDate":"2026-03-31T10:00:00.000Z","eventType":"LOGIN_SUCCESS","remoteAddress":"1.2.3.4",` +
		`"message":null,"errorType":null,"portalId":null,"accountId":null}` + "\n"
	if string(data) != want {
		t.Errorf("file holds\n%s\nwant\n%s", data, want)
	}
}

func TestModes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode, wantFile, wantDir os.FileMode
	}{
		{0, 0o600, 0o700},
		{0o640, 0o640, 0o750},
	} {
		path := filepath.Join(dir, fmt.Sprintf("m%o", tc.mode), "sub", "events.jsonl")
		s, err := New(Options{Path: path, Mode: tc.mode})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != tc.wantFile {
			t.Errorf("mode %o: file created %o, want %o", tc.mode, fi.Mode().Perm(), tc.wantFile)
		}
		di, err := os.Stat(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if di.Mode().Perm() != tc.wantDir {
			t.Errorf("mode %o: directory created %o, want %o", tc.mode, di.Mode().Perm(), tc.wantDir)
		}
	}
}

func TestOpenErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		filepath.Join(blocker, "events.jsonl"), // parent is a file
		dir,                                    // a directory
	} {
		_, err := New(Options{Path: path})
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("New(%q): %v, want an error naming the path", path, err)
		}
	}
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "path") {
		t.Errorf("New with no path: %v, want an error about the path", err)
	}
}

func TestAppendsToExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	evs := []event.Event{
		{ID: "a", Source: event.SourcePortal, EventType: event.LoginSuccess, EventDate: time.Unix(1, 0).UTC()},
		{ID: "b", Source: event.SourcePortal, EventType: event.LoginFailure, EventDate: time.Unix(2, 0).UTC()},
	}
	for i := range evs {
		s, err := New(Options{Path: path, Fsync: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Deliver(context.Background(), evs[i:i+1]); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got := readLines(t, path)
	if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
		t.Errorf("after two opens the file holds %v, want a then b", got)
	}
}

func TestDeliverEdges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s, err := New(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Deliver(ctx, []event.Event{{ID: "x"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Deliver with a cancelled context: %v", err)
	}
	if err := s.Deliver(context.Background(), nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
	if got := readLines(t, path); len(got) != 0 {
		t.Errorf("file holds %d events, want none", len(got))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	err = s.Deliver(context.Background(), []event.Event{{ID: "late"}})
	if err == nil || !strings.Contains(err.Error(), "closed") || !strings.Contains(err.Error(), path) {
		t.Errorf("Deliver after Close: %v, want a closed error naming the file", err)
	}
}

// TestOneWritePerBatch has two sinks, with no lock in common, append to one
// file at once: the kernel keeps each single O_APPEND write whole, so every
// batch must come out contiguous.
func TestOneWritePerBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	const sinks, batches, size = 2, 40, 50
	var wg sync.WaitGroup
	for k := range sinks {
		s, err := New(Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer s.Close()
			for b := range batches {
				batch := make([]event.Event, size)
				for i := range batch {
					batch[i] = event.Event{
						ID:        fmt.Sprintf("s%d-b%03d-e%03d", k, b, i),
						Source:    event.SourceManager,
						EventType: event.LoginFailure,
						Message:   event.Str(strings.Repeat("x", 200)),
					}
				}
				if err := s.Deliver(context.Background(), batch); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := readLines(t, path)
	if len(got) != sinks*batches*size {
		t.Fatalf("file holds %d events, want %d", len(got), sinks*batches*size)
	}
	for i := 0; i < len(got); i += size {
		prefix := got[i].ID[:len("s0-b000")]
		for j, ev := range got[i : i+size] {
			if want := fmt.Sprintf("%s-e%03d", prefix, j); ev.ID != want {
				t.Fatalf("line %d is %s, want %s: a batch was split", i+j+1, ev.ID, want)
			}
		}
	}
}
