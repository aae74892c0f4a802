// Package kafka is the Kafka connector: every event is one message on a topic,
// keyed by the event's principal (or email) so that one account's events stay
// on one partition and in order, with the event id in an "event-id" header for
// the consumer's deduplication (Kafka's producer here is not idempotent, and the
// pipeline delivers at least once). Writes wait for every in-sync replica
// (acks=all).
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/format"
	"github.com/loginguard/loginguard/event"
)

// Defaults of Options.
const (
	DefaultBatchTimeout = 5 * time.Millisecond
	DefaultWriteTimeout = 10 * time.Second
)

// HeaderEventID is the message header that carries the event's id.
const HeaderEventID = "event-id"

// Options configures a Sink.
type Options struct {
	// Brokers are the bootstrap brokers, host:port. Required.
	Brokers []string
	// Topic the events are written to. Required.
	Topic string
	// Encoder turns an event into the message value. Default: the connector
	// event JSON (format.Lookup("json")).
	Encoder format.Encoder
	// Compression of the message sets: none, gzip, snappy, lz4 or zstd.
	// Default: none.
	Compression string
	// TLS, when not nil, is used to connect to the brokers.
	TLS *tls.Config
	// SASL, when not nil, authenticates to the brokers (see NewSASL).
	SASL sasl.Mechanism
	// BatchTimeout is the longest the producer waits to fill a message set;
	// the pipeline batches already. Default: 5ms (kafka-go's own 1s would add
	// a second to every delivery).
	BatchTimeout time.Duration
	// WriteTimeout bounds one write to a broker. Default: 10s.
	WriteTimeout time.Duration
}

// NewSASL returns the SASL mechanism named mechanism (plain, scram-sha-256 or
// scram-sha-512) for user and password.
func NewSASL(mechanism, user, password string) (sasl.Mechanism, error) {
	switch strings.ToLower(mechanism) {
	case "plain":
		return plain.Mechanism{Username: user, Password: password}, nil
	case "scram-sha-256":
		return scram.Mechanism(scram.SHA256, user, password)
	case "scram-sha-512":
		return scram.Mechanism(scram.SHA512, user, password)
	}
	return nil, fmt.Errorf("unknown SASL mechanism %q (want plain, scram-sha-256 or scram-sha-512)", mechanism)
}

// ParseCompression returns the kafka-go codec named name ("" and "none": none).
func ParseCompression(name string) (kafkago.Compression, error) {
	switch strings.ToLower(name) {
	case "", "none":
		return 0, nil
	case "gzip":
		return kafkago.Gzip, nil
	case "snappy":
		return kafkago.Snappy, nil
	case "lz4":
		return kafkago.Lz4, nil
	case "zstd":
		return kafkago.Zstd, nil
	}
	return 0, fmt.Errorf("unknown compression %q (want none, gzip, snappy, lz4 or zstd)", name)
}

// Sink writes events to a Kafka topic. It is safe for concurrent use.
type Sink struct {
	w   *kafkago.Writer
	enc format.Encoder
	// perEvent is the bytes an event took in the last batch's buffer.
	perEvent atomic.Int64

	mu     sync.RWMutex
	closed bool
}

// New returns a sink for o. It does not connect: a broker that is down at
// start-up only makes the first deliveries fail (and be retried).
func New(o Options) (*Sink, error) {
	if len(o.Brokers) == 0 {
		return nil, errors.New("kafka: brokers: required")
	}
	for _, b := range o.Brokers {
		if !strings.Contains(b, ":") {
			return nil, fmt.Errorf("kafka: brokers: %q is not host:port", b)
		}
	}
	if strings.TrimSpace(o.Topic) == "" {
		return nil, errors.New("kafka: topic: required")
	}
	comp, err := ParseCompression(o.Compression)
	if err != nil {
		return nil, fmt.Errorf("kafka: compression: %w", err)
	}
	if o.Encoder == nil {
		o.Encoder, _ = format.Lookup("")
	}
	if o.BatchTimeout <= 0 {
		o.BatchTimeout = DefaultBatchTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	w := &kafkago.Writer{
		Addr:         kafkago.TCP(o.Brokers...),
		Topic:        o.Topic,
		Balancer:     &kafkago.Hash{},
		RequiredAcks: kafkago.RequireAll,
		BatchTimeout: o.BatchTimeout,
		BatchSize:    connectors.DefaultBatchSize,
		BatchBytes:   16 << 20,
		WriteTimeout: o.WriteTimeout,
		ReadTimeout:  o.WriteTimeout,
		MaxAttempts:  1, // the pipeline retries, with backoff, in order
		Compression:  comp,
		Transport: &kafkago.Transport{
			TLS:         o.TLS,
			SASL:        o.SASL,
			DialTimeout: 5 * time.Second,
			ClientID:    "loginguard",
		},
	}
	return &Sink{w: w, enc: o.Encoder}, nil
}

// Deliver writes batch as one message per event, waiting for acks=all. When
// only some messages fail it returns connectors.ItemErrors naming them; a
// message too large for the broker is a Permanent error.
func (s *Sink) Deliver(ctx context.Context, batch []event.Event) error {
	if len(batch) == 0 {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errors.New("kafka: sink closed")
	}
	// One buffer for the values, keys and ids, sized from the last batch, and
	// one array for the headers: a few allocations per batch, not per event.
	msgs := make([]kafkago.Message, len(batch))
	hdrs := make([]kafkago.Header, len(batch))
	buf := make([]byte, 0, len(batch)*int(max(s.perEvent.Load(), 256)))
	for i := range batch {
		ev := &batch[i]
		start := len(buf)
		var err error
		buf, err = s.enc(buf, ev)
		if err != nil {
			return connectors.Permanent(fmt.Errorf("kafka: encoding event %s: %w", ev.ID, err))
		}
		value := buf[start:len(buf):len(buf)]
		start = len(buf)
		buf = append(buf, ev.Identity()...)
		key := buf[start:len(buf):len(buf)]
		start = len(buf)
		buf = append(buf, ev.ID...)
		hdrs[i] = kafkago.Header{Key: HeaderEventID, Value: buf[start:len(buf):len(buf)]}
		msgs[i] = kafkago.Message{Key: key, Value: value, Headers: hdrs[i : i+1 : i+1], Time: ev.EventDate}
	}
	s.perEvent.Store(int64(len(buf)/len(batch) + 16))
	err := s.w.WriteMessages(ctx, msgs...)
	if err == nil {
		return nil
	}
	var werrs kafkago.WriteErrors
	if errors.As(err, &werrs) && len(werrs) == len(batch) {
		items := connectors.ItemErrors{}
		for i, e := range werrs {
			if e != nil {
				items[i] = classify(e)
			}
		}
		if len(items) == len(batch) {
			return fmt.Errorf("kafka: writing %d messages to %s: %w", len(batch), s.w.Topic, classify(werrs[0]))
		}
		return items
	}
	return fmt.Errorf("kafka: writing %d messages to %s: %w", len(batch), s.w.Topic, classify(err))
}

// classify marks the errors no retry will fix.
func classify(err error) error {
	var tooLarge kafkago.MessageTooLargeError
	if errors.As(err, &tooLarge) || errors.Is(err, kafkago.MessageSizeTooLarge) ||
		errors.Is(err, kafkago.InvalidMessage) || errors.Is(err, kafkago.TopicAuthorizationFailed) {
		return connectors.Permanent(err)
	}
	return err
}

// Close flushes and closes the producer.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.w.Close(); err != nil {
		return fmt.Errorf("kafka: closing the producer: %w", err)
	}
	return nil
}

var _ connectors.Connector = (*Sink)(nil)
