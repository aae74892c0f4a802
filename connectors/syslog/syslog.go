// Package syslog is the syslog connector: every event is one RFC 5424 message
// with the event's fields as structured data under a private-enterprise SD-ID
// (loginguard@<PEN>) and the event's JSON as the message, over UDP (one
// datagram each), TCP or TLS (octet-counting framing, RFC 6587 / RFC 5425).
package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/format"
	"github.com/loginguard/loginguard/event"
)

// Defaults of Options.
const (
	// DefaultPEN is the private enterprise number of the SD-ID: 32473, the
	// number RFC 5612 reserves for documentation. Set your own.
	DefaultPEN = 32473
	// DefaultFacility is authpriv (10), the facility of security messages.
	DefaultFacility = 10
	// MaxUDP is the longest message sent over UDP; longer ones are cut (RFC
	// 5426 allows receivers to truncate past 2,048 octets).
	MaxUDP = 8192
)

// Options configures a Sink.
type Options struct {
	// Network is udp, tcp or tls. Required.
	Network string
	// Address is host:port. Required.
	Address string
	// TLS configures the tls network (nil: the system's roots).
	TLS *tls.Config
	// PEN is the private enterprise number of the SD-ID. Default 32473.
	PEN int
	// Facility (0..23). Default authpriv (10).
	Facility *int
	// Hostname of the HOSTNAME field. Default: os.Hostname.
	Hostname string
	// AppName of the APP-NAME field. Default: loginguard.
	AppName string
	// Encoder makes the MSG part. Default: the connector event's JSON.
	Encoder format.Encoder
	// Timeout bounds a dial and one batch's writes when the context has no
	// deadline. Default: 10s.
	Timeout time.Duration
}

// Sink writes events to a syslog receiver. It is safe for concurrent use.
type Sink struct {
	o    Options
	enc  format.Encoder
	fac  int
	host string
	pid  string

	mu     sync.Mutex
	conn   net.Conn
	w      *bufio.Writer
	closed bool
}

// New checks o and returns a Sink; it connects at the first delivery.
func New(o Options) (*Sink, error) {
	switch o.Network {
	case "udp", "tcp", "tls":
	default:
		return nil, fmt.Errorf("syslog: network: want udp, tcp or tls, got %q", o.Network)
	}
	if _, _, err := net.SplitHostPort(o.Address); err != nil {
		return nil, fmt.Errorf("syslog: address: want host:port, got %q", o.Address)
	}
	if o.PEN == 0 {
		o.PEN = DefaultPEN
	}
	if o.PEN < 1 {
		return nil, fmt.Errorf("syslog: pen: want a positive private enterprise number, got %d", o.PEN)
	}
	s := &Sink{o: o, enc: o.Encoder, fac: DefaultFacility, pid: strconv.Itoa(os.Getpid())}
	if o.Facility != nil {
		if *o.Facility < 0 || *o.Facility > 23 {
			return nil, fmt.Errorf("syslog: facility: want 0 to 23, got %d", *o.Facility)
		}
		s.fac = *o.Facility
	}
	if s.enc == nil {
		s.enc, _ = format.Lookup("")
	}
	s.host = header(o.Hostname, 255)
	if o.Hostname == "" {
		h, _ := os.Hostname()
		s.host = header(h, 255)
	}
	if s.o.AppName == "" {
		s.o.AppName = "loginguard"
	}
	s.o.AppName = header(s.o.AppName, 48)
	if s.o.Timeout <= 0 {
		s.o.Timeout = 10 * time.Second
	}
	return s, nil
}

// header makes v a header field: printable US-ASCII without spaces, at most
// max octets, "-" when empty.
func header(v string, max int) string {
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v) && len(b) < max; i++ {
		if c := v[i]; c > 32 && c < 127 {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

// Severity is the syslog severity of an event: alert (1) for ALERT, warning
// (4) for a lock, notice (5) for a failure, informational (6) otherwise.
func Severity(t event.Type) int {
	switch t {
	case event.Alert:
		return 1
	case event.AccountLocked:
		return 4
	case event.LoginFailure:
		return 5
	}
	return 6
}

// Append appends the RFC 5424 message of ev to b (without framing).
func (s *Sink) Append(b []byte, ev *event.Event) ([]byte, error) {
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(s.fac*8+Severity(ev.EventType)), 10)
	b = append(b, ">1 "...)
	b = ev.EventDate.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, ' ')
	b = append(b, s.host...)
	b = append(b, ' ')
	b = append(b, s.o.AppName...)
	b = append(b, ' ')
	b = append(b, s.pid...)
	b = append(b, ' ')
	b = append(b, header(string(ev.EventType), 32)...)
	b = append(b, " [loginguard@"...)
	b = strconv.AppendInt(b, int64(s.o.PEN), 10)
	param := func(name, v string) {
		if v == "" {
			return
		}
		b = append(b, ' ')
		b = append(b, name...)
		b = append(b, `="`...)
		for _, r := range v {
			switch r {
			case '"', '\\', ']':
				b = append(b, '\\', byte(r))
			default:
				if r < 32 || r == 127 {
					b = append(b, ' ')
				} else {
					b = append(b, string(r)...)
				}
			}
		}
		b = append(b, '"')
	}
	param("id", ev.ID)
	param("eventType", string(ev.EventType))
	param("source", string(ev.Source))
	param("principal", event.Value(ev.Principal))
	param("email", event.Value(ev.Email))
	param("remoteAddress", ev.RemoteAddress)
	param("reason", string(ev.Reason))
	param("portalId", event.Value(ev.PortalID))
	if ev.FailureCount > 0 {
		param("failureCount", strconv.Itoa(ev.FailureCount))
	}
	param("traceId", ev.TraceID)
	b = append(b, "] \xef\xbb\xbf"...) // BOM: the MSG is UTF-8
	return s.enc(b, ev)
}

// connect dials when there is no connection.
func (s *Sink) connect(ctx context.Context) error {
	if s.conn != nil {
		return nil
	}
	d := net.Dialer{Timeout: s.o.Timeout}
	var c net.Conn
	var err error
	switch s.o.Network {
	case "tls":
		cfg := s.o.TLS
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(s.o.Address)
		}
		c, err = (&tls.Dialer{NetDialer: &d, Config: cfg}).DialContext(ctx, "tcp", s.o.Address)
	default:
		c, err = d.DialContext(ctx, s.o.Network, s.o.Address)
	}
	if err != nil {
		return fmt.Errorf("syslog: connecting to %s %s: %w", s.o.Network, s.o.Address, err)
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

// Deliver writes batch: one datagram per event over UDP, one octet-counted
// frame per event over TCP and TLS (flushed once per batch).
func (s *Sink) Deliver(ctx context.Context, batch []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("syslog: sink closed")
	}
	if err := s.connect(ctx); err != nil {
		return err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(s.o.Timeout)
	}
	s.conn.SetWriteDeadline(deadline)
	var buf []byte
	for i := range batch {
		var err error
		buf, err = s.Append(buf[:0], &batch[i])
		if err != nil {
			return connectors.Permanent(fmt.Errorf("syslog: encoding event %s: %w", batch[i].ID, err))
		}
		if s.o.Network == "udp" {
			if len(buf) > MaxUDP {
				buf = buf[:MaxUDP]
			}
			_, err = s.conn.Write(buf)
		} else {
			_, err = s.w.WriteString(strconv.Itoa(len(buf)) + " ")
			if err == nil {
				_, err = s.w.Write(buf)
			}
		}
		if err != nil {
			s.drop()
			return fmt.Errorf("syslog: writing to %s: %w", s.o.Address, err)
		}
	}
	if s.o.Network != "udp" {
		if err := s.w.Flush(); err != nil {
			s.drop()
			return fmt.Errorf("syslog: writing to %s: %w", s.o.Address, err)
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

// String names the sink for logs.
func (s *Sink) String() string {
	return "syslog " + strings.ToLower(s.o.Network) + "://" + s.o.Address
}

var _ connectors.Connector = (*Sink)(nil)
