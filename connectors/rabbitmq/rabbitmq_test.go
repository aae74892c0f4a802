package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/connectortest"
	"github.com/loginguard/loginguard/event"
)

// The machine's RabbitMQ (see .ci/run); LOGINGUARD_AMQP_URL overrides it. The
// tests fail, not skip, when it is not there.
func amqpURL() string {
	if u := os.Getenv("LOGINGUARD_AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

var seq atomic.Int64

// broker opens a channel for one test and returns a fresh queue name, deleted
// at the end.
func broker(t *testing.T) (*amqp.Channel, string) {
	t.Helper()
	conn, err := amqp.Dial(amqpURL())
	if err != nil {
		t.Fatalf("RabbitMQ at %s: %v (start rabbitmq-server)", amqpURL(), err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf("lgtest-%d-%d", time.Now().UnixNano(), seq.Add(1))
	t.Cleanup(func() { ch.QueueDelete(q, false, false, false) })
	return ch, q
}

// readAll reads back every message of queue q without consuming it for
// good: a consumer takes them all and puts them back (nack with requeue).
func readAll(t *testing.T, ch *amqp.Channel, q string) []event.Event {
	t.Helper()
	info, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
	if err != nil {
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.NotFound {
			return nil // the sink never declared it: nothing was delivered
		}
		t.Fatal(err)
	}
	if info.Messages == 0 {
		return nil
	}
	tag := q + "-reader"
	msgs, err := ch.Consume(q, tag, false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	var last uint64
	timeout := time.After(30 * time.Second)
	for len(out) < info.Messages {
		select {
		case m := <-msgs:
			last = m.DeliveryTag
			var ev event.Event
			if err := json.Unmarshal(m.Body, &ev); err != nil {
				t.Fatalf("message %d: %v: %q", len(out), err, m.Body)
			}
			if m.MessageId != ev.ID || m.DeliveryMode != amqp.Persistent {
				t.Fatalf("message %d: id %q mode %d, want the event id %s, persistent", len(out), m.MessageId, m.DeliveryMode, ev.ID)
			}
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("read %d of %d messages in 30 s", len(out), info.Messages)
		}
	}
	if err := ch.Cancel(tag, false); err != nil {
		t.Fatal(err)
	}
	if err := ch.Nack(last, true, true); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConformance(t *testing.T) {
	var ch *amqp.Channel
	var q string
	connectortest.Run(t, connectortest.Sink{
		New: func(t *testing.T) connectors.Connector {
			ch, q = broker(t)
			s, err := New(Options{URL: amqpURL(), RoutingKey: q, Queue: q})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T) []event.Event { return readAll(t, ch, q) },
	})
}

// TestExchangeAndReconnect: through a named exchange bound to the queue; the
// sink's connection closed by the broker is dialled again at the next batch.
func TestExchangeAndReconnect(t *testing.T) {
	ch, q := broker(t)
	ex := q + "-x"
	if err := ch.ExchangeDeclare(ex, "direct", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{URL: amqpURL(), Exchange: ex, RoutingKey: "login", Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev := func() event.Event {
		return event.Event{ID: event.NewID(), Source: event.SourcePortal, Email: event.Str("a@x.com"), EventDate: time.Now().UTC().Truncate(time.Millisecond), EventType: event.LoginFailure, RemoteAddress: "192.0.2.1"}
	}
	if err := s.Deliver(context.Background(), []event.Event{ev()}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.conn.Close() // as when the broker restarts
	s.mu.Unlock()
	if err := s.Deliver(context.Background(), []event.Event{ev(), ev()}); err != nil {
		t.Fatalf("after the connection closed: %v", err)
	}
	if got := readAll(t, ch, q); len(got) != 3 {
		t.Fatalf("%d messages, want 3", len(got))
	}
}

// TestBrokerDown: a broker that cannot be reached fails the delivery (the
// pipeline retries and spools) and New does not need it.
func TestBrokerDown(t *testing.T) {
	s, err := New(Options{URL: "amqp://guest:guest@127.0.0.1:1/", RoutingKey: "x", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Deliver(context.Background(), []event.Event{{ID: event.NewID(), EventDate: time.Now()}}); err == nil {
		t.Fatal("Deliver to a broker that is down succeeded")
	}
}

func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{RoutingKey: "x"}, "rabbitmq: url: want amqp://"},
		{Options{URL: "http://host/", RoutingKey: "x"}, "rabbitmq: url: want amqp://"},
		{Options{URL: "amqp://u:secret@host/"}, "rabbitmq: routing_key: required with the default exchange"},
	} {
		_, err := New(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}
