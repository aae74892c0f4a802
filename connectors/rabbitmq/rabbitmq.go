// Package rabbitmq is the RabbitMQ connector (AMQP 0-9-1, rabbitmq/amqp091-go):
// every event is one persistent message on an exchange with a routing key, its
// message id the event id, published in confirm mode: a batch counts as
// delivered once the broker has confirmed every message. A lost connection is
// dialled again at the next delivery.
package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/format"
	"github.com/loginguard/loginguard/event"
)

// Options configures a Sink.
type Options struct {
	// URL of the broker: amqp://user:password@host:5672/vhost (amqps:// for
	// TLS). Required.
	URL string
	// Exchange the events are published to; "" is the default exchange, which
	// routes to the queue named by RoutingKey.
	Exchange string
	// RoutingKey of every message. Required with the default exchange.
	RoutingKey string
	// Queue, when set, is declared durable at connection (and bound to
	// Exchange with RoutingKey when Exchange is set), so that no event is
	// dropped for want of a queue.
	Queue string
	// Encoder turns an event into the message body. Default: the connector event's JSON.
	Encoder format.Encoder
	// Timeout bounds a dial and one batch's confirms when the caller's context
	// has no deadline. Default: 10s.
	Timeout time.Duration
}

// Sink publishes events to RabbitMQ. It is safe for concurrent use.
type Sink struct {
	o   Options
	enc format.Encoder

	mu     sync.Mutex
	conn   *amqp.Connection
	ch     *amqp.Channel
	closed bool
}

// New checks o and returns a Sink; it connects at the first delivery, so a
// broker that is down at start-up is not an error.
func New(o Options) (*Sink, error) {
	u, err := url.Parse(o.URL)
	if o.URL == "" || err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		return nil, fmt.Errorf("rabbitmq: url: want amqp://user:password@host:port/vhost, got %q", redact(o.URL))
	}
	if o.Exchange == "" && o.RoutingKey == "" {
		return nil, errors.New("rabbitmq: routing_key: required with the default exchange")
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	s := &Sink{o: o, enc: o.Encoder}
	if s.enc == nil {
		s.enc, _ = format.Lookup("")
	}
	return s, nil
}

// redact hides the password of a URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// connect opens the connection and a confirm-mode channel when there is none.
func (s *Sink) connect() error {
	if s.ch != nil && !s.ch.IsClosed() && !s.conn.IsClosed() {
		return nil
	}
	s.drop()
	conn, err := amqp.DialConfig(s.o.URL, amqp.Config{Dial: amqp.DefaultDial(s.o.Timeout), Properties: amqp.Table{"connection_name": "loginguard"}})
	if err != nil {
		return fmt.Errorf("rabbitmq: connecting to %s: %w", redact(s.o.URL), err)
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err == nil && s.o.Queue != "" {
		_, err = ch.QueueDeclare(s.o.Queue, true, false, false, false, nil)
		if err == nil && s.o.Exchange != "" {
			err = ch.QueueBind(s.o.Queue, s.o.RoutingKey, s.o.Exchange, false, nil)
		}
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("rabbitmq: setting up the channel: %w", err)
	}
	s.conn, s.ch = conn, ch
	return nil
}

// drop forgets a broken connection.
func (s *Sink) drop() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.conn, s.ch = nil, nil
}

// Deliver publishes batch and waits for the broker's confirms.
func (s *Sink) Deliver(ctx context.Context, batch []event.Event) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.o.Timeout)
		defer cancel()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("rabbitmq: sink closed")
	}
	if err := s.connect(); err != nil {
		return err
	}
	confirms := make([]*amqp.DeferredConfirmation, 0, len(batch))
	var buf []byte
	for i := range batch {
		var err error
		buf, err = s.enc(buf[:0], &batch[i])
		if err != nil {
			return connectors.Permanent(fmt.Errorf("rabbitmq: encoding event %s: %w", batch[i].ID, err))
		}
		dc, err := s.ch.PublishWithDeferredConfirmWithContext(ctx, s.o.Exchange, s.o.RoutingKey, true, false, amqp.Publishing{
			ContentType:  "application/json",
			DeliveryMode: amqp.Persistent,
			MessageId:    batch[i].ID,
			Timestamp:    batch[i].EventDate,
			Type:         string(batch[i].EventType),
			AppId:        "loginguard",
			Body:         append([]byte(nil), buf...),
		})
		if err != nil {
			s.drop()
			return fmt.Errorf("rabbitmq: publishing: %w", err)
		}
		confirms = append(confirms, dc)
	}
	for _, dc := range confirms {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			s.drop()
			return fmt.Errorf("rabbitmq: waiting for the broker's confirms: %w", err)
		}
		if !ok {
			return fmt.Errorf("rabbitmq: the broker refused message %d of %d (nack)", dc.DeliveryTag, len(batch))
		}
	}
	return nil
}

// Close closes the connection.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.drop()
	return nil
}

var _ connectors.Connector = (*Sink)(nil)
