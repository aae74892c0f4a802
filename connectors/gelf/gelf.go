// Package gelf is the Graylog GELF 1.1 connector: every event is one GELF
// message (short_message, the event's fields as additional "_" fields, and
// the event's JSON as full_message), over UDP (chunked past the chunk size) or
// TCP (each message ended by a null byte).
package gelf

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/format"
	"github.com/loginguard/loginguard/connectors/syslog"
	"github.com/loginguard/loginguard/event"
)

// Defaults and limits of Options.
const (
	// DefaultChunkSize is the largest UDP datagram sent (Graylog's default
	// for a WAN).
	DefaultChunkSize = 1420
	// MaxChunks is the most chunks GELF allows for one message.
	MaxChunks   = 128
	chunkHeader = 12 // magic (2), message id (8), sequence (1), count (1)
)

// Options configures a Sink.
type Options struct {
	// Network is udp or tcp. Required.
	Network string
	// Address is host:port. Required.
	Address string
	// Host of the messages. Default: os.Hostname.
	Host string
	// ChunkSize of UDP datagrams (at least 100). Default 1420.
	ChunkSize int
	// Encoder makes full_message. Default: the connector event's JSON.
	Encoder format.Encoder
	// Timeout bounds a dial and one batch's writes when the context has no
	// deadline. Default: 10s.
	Timeout time.Duration
}

// Sink writes events to a GELF input. It is safe for concurrent use.
type Sink struct {
	o   Options
	enc format.Encoder

	mu     sync.Mutex
	conn   net.Conn
	w      *bufio.Writer
	closed bool
}

// New checks o and returns a Sink; it connects at the first delivery.
func New(o Options) (*Sink, error) {
	if o.Network != "udp" && o.Network != "tcp" {
		return nil, fmt.Errorf("gelf: network: want udp or tcp, got %q", o.Network)
	}
	if _, _, err := net.SplitHostPort(o.Address); err != nil {
		return nil, fmt.Errorf("gelf: address: want host:port, got %q", o.Address)
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.ChunkSize < 100 || o.ChunkSize > 65000 {
		return nil, fmt.Errorf("gelf: chunk_size: want 100 to 65000, got %d", o.ChunkSize)
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
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

// Message returns the GELF JSON of ev.
func (s *Sink) Message(ev *event.Event) ([]byte, error) {
	full, err := s.enc(nil, ev)
	if err != nil {
		return nil, err
	}
	short := string(ev.EventType)
	if ev.Message != nil && *ev.Message != "" {
		short = *ev.Message
	}
	m := map[string]any{
		"version":         "1.1",
		"host":            s.o.Host,
		"short_message":   short,
		"full_message":    string(full),
		"timestamp":       float64(ev.EventDate.UnixMilli()) / 1000,
		"level":           syslog.Severity(ev.EventType),
		"_event_id":       ev.ID,
		"_event_type":     string(ev.EventType),
		"_event_source":   string(ev.Source),
		"_remote_address": ev.RemoteAddress,
	}
	add := func(k string, v *string) {
		if v != nil {
			m[k] = *v
		}
	}
	add("_principal", ev.Principal)
	add("_email", ev.Email)
	add("_display_name", ev.DisplayName)
	add("_portal_id", ev.PortalID)
	add("_account_id", ev.AccountID)
	if ev.Reason != "" {
		m["_reason"] = string(ev.Reason)
	}
	if ev.FailureCount > 0 {
		m["_failure_count"] = ev.FailureCount
	}
	if ev.TraceID != "" {
		m["_trace_id"] = ev.TraceID
	}
	return json.Marshal(m)
}

func (s *Sink) connect(ctx context.Context) error {
	if s.conn != nil {
		return nil
	}
	d := net.Dialer{Timeout: s.o.Timeout}
	c, err := d.DialContext(ctx, s.o.Network, s.o.Address)
	if err != nil {
		return fmt.Errorf("gelf: connecting to %s %s: %w", s.o.Network, s.o.Address, err)
	}
	s.conn, s.w = c, bufio.NewWriterSize(c, 64<<10)
	return nil
}

func (s *Sink) drop() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.conn, s.w = nil, nil
}

// Deliver writes batch.
func (s *Sink) Deliver(ctx context.Context, batch []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("gelf: sink closed")
	}
	if err := s.connect(ctx); err != nil {
		return err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(s.o.Timeout)
	}
	s.conn.SetWriteDeadline(deadline)
	for i := range batch {
		msg, err := s.Message(&batch[i])
		if err != nil {
			return connectors.Permanent(fmt.Errorf("gelf: encoding event %s: %w", batch[i].ID, err))
		}
		if s.o.Network == "udp" {
			err = s.writeUDP(msg)
		} else {
			if _, err = s.w.Write(msg); err == nil {
				err = s.w.WriteByte(0)
			}
		}
		if err != nil {
			if errors.Is(err, errTooLarge) {
				return connectors.Permanent(fmt.Errorf("gelf: event %s: %w", batch[i].ID, err))
			}
			s.drop()
			return fmt.Errorf("gelf: writing to %s: %w", s.o.Address, err)
		}
	}
	if s.o.Network == "tcp" {
		if err := s.w.Flush(); err != nil {
			s.drop()
			return fmt.Errorf("gelf: writing to %s: %w", s.o.Address, err)
		}
	}
	return nil
}

var errTooLarge = errors.New("message larger than 128 chunks")

// writeUDP sends msg in one datagram, or in chunks past the chunk size.
func (s *Sink) writeUDP(msg []byte) error {
	if len(msg) <= s.o.ChunkSize {
		_, err := s.conn.Write(msg)
		return err
	}
	per := s.o.ChunkSize - chunkHeader
	n := (len(msg) + per - 1) / per
	if n > MaxChunks {
		return errTooLarge
	}
	var id [8]byte
	rand.Read(id[:])
	buf := make([]byte, 0, s.o.ChunkSize)
	for i := range n {
		part := msg[i*per : min(len(msg), (i+1)*per)]
		buf = append(buf[:0], 0x1e, 0x0f)
		buf = append(buf, id[:]...)
		buf = append(buf, byte(i), byte(n))
		buf = append(buf, part...)
		if _, err := s.conn.Write(buf); err != nil {
			return err
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
