package logsink

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/connectortest"
	"github.com/loginguard/loginguard/event"
)

// records splits JSON-handler output into records, failing t on a broken line.
func records(t *testing.T, out []byte) []map[string]json.RawMessage {
	t.Helper()
	var recs []map[string]json.RawMessage
	for i, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %d %q: %v", i+1, line, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	bufs := map[*testing.T]*bytes.Buffer{}
	connectortest.Run(t, connectortest.Sink{
		New: func(t *testing.T) connectors.Connector {
			buf := new(bytes.Buffer)
			mu.Lock()
			bufs[t] = buf
			mu.Unlock()
			return New(slog.New(slog.NewJSONHandler(buf, nil)), slog.LevelInfo)
		},
		Read: func(t *testing.T) []event.Event {
			mu.Lock()
			buf, ok := bufs[t]
			mu.Unlock()
			if !ok {
				t.Fatal("Read before New")
			}
			var out []event.Event
			data := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
			if len(data) == 0 {
				return nil
			}
			for i, line := range bytes.Split(data, []byte("\n")) {
				var rec struct{ Msg, Level string }
				var ev event.Event
				if err := json.Unmarshal(line, &rec); err != nil {
					t.Fatalf("log line %d %q: %v", i+1, line, err)
				}
				if rec.Msg != Message || rec.Level != "INFO" {
					t.Fatalf("log line %d: msg %q level %q, want %q at INFO", i+1, rec.Msg, rec.Level, Message)
				}
				if err := json.Unmarshal(line, &ev); err != nil {
					t.Fatalf("log line %d does not decode to an event: %v", i+1, err)
				}
				out = append(out, ev)
			}
			return out
		},
	})
}

func TestRecordShape(t *testing.T) {
	var buf bytes.Buffer
	s := New(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), slog.LevelWarn)
	evs := []event.Event{
		{
			ID: "id-1", Source: event.SourceManager, Principal: event.Str("alice"),
			EventDate: time.Date(2026, 3, 31, 12, 0, 0, 5e8, time.FixedZone("X", 3600)),
			EventType: event.LoginFailure, RemoteAddress: "1.2.3.4",
			Message: event.Str("Authentication failed -> DISABLED"), Reason: event.Disabled, FailureCount: 2,
		},
		{ID: "id-2", Source: event.SourcePortal, Email: event.Str("bob@example.com"), EventType: event.LoginSuccess,
			EventDate: time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC), RemoteAddress: "5.6.7.8", PortalID: event.Str("p1")},
	}
	if err := s.Deliver(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	recs := records(t, buf.Bytes())
	if len(recs) != 2 {
		t.Fatalf("%d records for 2 events", len(recs))
	}
	want := map[string]string{
		"msg": `"login event"`, "level": `"WARN"`, "id": `"id-1"`, "eventType": `"LOGIN_FAILURE"`,
		"source": `"API_MANAGER"`, "principal": `"alice"`, "email": "null", "displayName": "null",
		"eventDate": `"2026-03-31T11:00:00.500Z"`, "remoteAddress": `"1.2.3.4"`,
		"message": `"Authentication failed -\u003e DISABLED"`, "errorType": "null", "portalId": "null",
		"accountId": "null", "reason": `"DISABLED"`, "failureCount": "2",
	}
	for k, v := range want {
		got := string(recs[0][k])
		if k == "message" {
			var s string
			_ = json.Unmarshal(recs[0][k], &s)
			got, v = s, "Authentication failed -> DISABLED"
		}
		if got != v {
			t.Errorf("attribute %s = %s, want %s", k, got, v)
		}
	}
	for _, k := range []string{"userAgent", "host", "path", "traceId"} {
		if _, ok := recs[0][k]; ok {
			t.Errorf("unset extension %s logged", k)
		}
	}
	if _, ok := recs[1]["reason"]; ok {
		t.Errorf("success record has a reason: %v", recs[1])
	}
	if string(recs[1]["portalId"]) != `"p1"` || string(recs[1]["principal"]) != "null" {
		t.Errorf("second record %v", recs[1])
	}
}

func TestLevelBelowHandler(t *testing.T) {
	var buf bytes.Buffer
	s := New(slog.New(slog.NewJSONHandler(&buf, nil)), slog.LevelDebug) // handler is at INFO
	if err := s.Deliver(context.Background(), []event.Event{{ID: "x"}}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("a debug sink on an info handler logged %q", buf.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Deliver(ctx, []event.Event{{ID: "x"}}); err == nil {
		t.Error("Deliver with a cancelled context returned no error")
	}
}

func TestNilLoggerUsesDefault(t *testing.T) {
	if s := New(nil, slog.LevelInfo); s.log != slog.Default() {
		t.Error("nil logger not replaced by slog.Default()")
	}
}
