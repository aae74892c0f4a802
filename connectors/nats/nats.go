// Package nats is the NATS JetStream connector: every event is one message on
// a subject, published with the event id as the JetStream message id
// (Nats-Msg-Id), so that the stream drops a redelivered event within its
// duplicate window, and acknowledged by the stream before the batch counts as
// delivered.
package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/format"
	"github.com/loginguard/loginguard/event"
)

// Options configures a Sink.
type Options struct {
	// URL of the NATS servers (nats://host:4222, comma-separated). Required.
	URL string
	// Subject the events are published on. Required.
	Subject string
	// Stream, when set, is created (or updated) at start to capture Subject,
	// with file storage; leave it empty when the stream is managed elsewhere.
	Stream string
	// Encoder turns an event into the message data. Default: the connector event's JSON.
	Encoder format.Encoder
	// Options are more nats.go connection options (credentials, TLS, ...).
	Options []natsgo.Option
	// Timeout bounds the connection and one batch's acknowledgements when the
	// caller's context has no deadline. Default: 10s.
	Timeout time.Duration
}

// Sink publishes events to JetStream. It is safe for concurrent use.
type Sink struct {
	o   Options
	enc format.Encoder

	mu sync.Mutex
	nc *natsgo.Conn
	js jetstream.JetStream
}

// New checks o and returns a Sink. It connects at once; a server that is down
// is not an error here (the connection retries in the background and Deliver
// fails until it is up).
func New(o Options) (*Sink, error) {
	if strings.TrimSpace(o.URL) == "" {
		return nil, errors.New("nats: url: required")
	}
	if strings.TrimSpace(o.Subject) == "" || strings.ContainsAny(o.Subject, " \t\r\n") {
		return nil, fmt.Errorf("nats: subject: want a subject without spaces, got %q", o.Subject)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	s := &Sink{o: o, enc: o.Encoder}
	if s.enc == nil {
		s.enc, _ = format.Lookup("")
	}
	opts := append([]natsgo.Option{
		natsgo.Name("loginguard"),
		natsgo.Timeout(o.Timeout),
		natsgo.RetryOnFailedConnect(true),
		natsgo.MaxReconnects(-1),
	}, o.Options...)
	nc, err := natsgo.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats: url %s: %w", o.URL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: %w", err)
	}
	s.nc, s.js = nc, js
	return s, nil
}

// ensureStream creates or updates o.Stream once the server is reachable.
func (s *Sink) ensureStream(ctx context.Context) error {
	if s.o.Stream == "" {
		return nil
	}
	_, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     s.o.Stream,
		Subjects: []string{s.o.Subject},
		Storage:  jetstream.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("nats: stream %s: %w", s.o.Stream, err)
	}
	s.o.Stream = "" // done
	return nil
}

// Deliver publishes batch and waits for every acknowledgement.
func (s *Sink) Deliver(ctx context.Context, batch []event.Event) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.o.Timeout)
		defer cancel()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.js == nil {
		return errors.New("nats: sink closed")
	}
	if err := s.ensureStream(ctx); err != nil {
		return err
	}
	futures := make([]jetstream.PubAckFuture, 0, len(batch))
	var buf []byte
	for i := range batch {
		var err error
		buf, err = s.enc(buf[:0], &batch[i])
		if err != nil {
			return connectors.Permanent(fmt.Errorf("nats: encoding event %s: %w", batch[i].ID, err))
		}
		m := natsgo.NewMsg(s.o.Subject)
		m.Data = append([]byte(nil), buf...)
		f, err := s.js.PublishMsgAsync(m, jetstream.WithMsgID(batch[i].ID))
		if err != nil {
			return fmt.Errorf("nats: publishing to %s: %w", s.o.Subject, err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("nats: publishing to %s: %w", s.o.Subject, err)
		case <-ctx.Done():
			return fmt.Errorf("nats: waiting for the acknowledgements of %s: %w", s.o.Subject, ctx.Err())
		}
	}
	return nil
}

// Close drains the connection.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nc == nil {
		return nil
	}
	s.nc.Close()
	s.nc, s.js = nil, nil
	return nil
}

var _ connectors.Connector = (*Sink)(nil)
