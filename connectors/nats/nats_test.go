package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/connectortest"
	"github.com/loginguard/loginguard/event"
)

// The machine's NATS server with JetStream (see .ci/run); LOGINGUARD_NATS_URL
// overrides it. The tests fail, not skip, when it is not there.
func natsURL() string {
	if u := os.Getenv("LOGINGUARD_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

var seq atomic.Int64

// fresh returns a new stream name and subject for one test, and a JetStream
// client to read it back.
func fresh(t *testing.T) (stream, subject string, js jetstream.JetStream) {
	t.Helper()
	nc, err := natsgo.Connect(natsURL(), natsgo.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("NATS at %s: %v (start nats-server -js)", natsURL(), err)
	}
	t.Cleanup(nc.Close)
	js, err = jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	n := fmt.Sprintf("%d_%d", time.Now().UnixNano(), seq.Add(1))
	stream, subject = "LGTEST_"+n, "lgtest."+n+".events"
	t.Cleanup(func() { js.DeleteStream(context.Background(), stream) })
	return stream, subject, js
}

// readAll reads every message of stream, in order.
func readAll(t *testing.T, js jetstream.JetStream, stream string) []event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return nil
		}
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	for s := info.State.FirstSeq; s <= info.State.LastSeq && info.State.Msgs > 0; s++ {
		m, err := st.GetMsg(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		var ev event.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("message %d: %v: %q", s, err, m.Data)
		}
		if got := m.Header.Get(jetstream.MsgIDHeader); got != ev.ID {
			t.Fatalf("message %d: Nats-Msg-Id %q, want the event id %s", s, got, ev.ID)
		}
		out = append(out, ev)
	}
	return out
}

func TestConformance(t *testing.T) {
	var stream string
	var js jetstream.JetStream
	connectortest.Run(t, connectortest.Sink{
		New: func(t *testing.T) connectors.Connector {
			var subject string
			stream, subject, js = fresh(t)
			s, err := New(Options{URL: natsURL(), Subject: subject, Stream: stream})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T) []event.Event { return readAll(t, js, stream) },
	})
}

// TestDeduplicated: a batch delivered twice (the pipeline's at-least-once)
// is stored once, by its message ids.
func TestDeduplicated(t *testing.T) {
	stream, subject, js := fresh(t)
	s, err := New(Options{URL: natsURL(), Subject: subject, Stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := []event.Event{
		{ID: event.NewID(), Source: event.SourcePortal, Email: event.Str("a@x.com"), EventDate: time.Now().UTC().Truncate(time.Millisecond), EventType: event.LoginFailure, RemoteAddress: "192.0.2.1"},
		{ID: event.NewID(), Source: event.SourcePortal, Email: event.Str("b@x.com"), EventDate: time.Now().UTC().Truncate(time.Millisecond), EventType: event.LoginSuccess, RemoteAddress: "192.0.2.2"},
	}
	for range 2 {
		if err := s.Deliver(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if got := readAll(t, js, stream); len(got) != 2 {
		t.Fatalf("%d messages, want 2", len(got))
	}
}

// TestNoStream: without a stream capturing the subject, Deliver fails (no
// acknowledgement) instead of losing the events.
func TestNoStream(t *testing.T) {
	_, subject, _ := fresh(t)
	s, err := New(Options{URL: natsURL(), Subject: subject, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Deliver(context.Background(), []event.Event{{ID: event.NewID(), EventType: event.LoginSuccess, EventDate: time.Now()}})
	if err == nil {
		t.Fatal("Deliver to a subject no stream captures succeeded")
	}
}

func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Subject: "x"}, "nats: url: required"},
		{Options{URL: natsURL()}, "nats: subject: want a subject without spaces"},
		{Options{URL: natsURL(), Subject: "a b"}, "nats: subject: want a subject without spaces"},
	} {
		if _, err := New(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}
