package syslog

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/connectortest"
	"github.com/loginguard/loginguard/event"
)

// receiver is a syslog server that parses what it receives with go-syslog's
// RFC 5424 parser (octet-counted frames on TCP and TLS, one message per
// datagram on UDP).
type receiver struct {
	addr string
	mu   sync.Mutex
	msgs []*rfc5424.SyslogMessage
	errs []error
}

func (r *receiver) add(m gosyslog.Message, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs = append(r.errs, err)
		return
	}
	r.msgs = append(r.msgs, m.(*rfc5424.SyslogMessage))
}

func listen(t *testing.T, network string, cfg *tls.Config) *receiver {
	t.Helper()
	r := &receiver{}
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		pc.(*net.UDPConn).SetReadBuffer(8 << 20)
		r.addr = pc.LocalAddr().String()
		p := rfc5424.NewParser(rfc5424.WithCompliantMsg())
		go func() {
			buf := make([]byte, 65536)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				r.add(p.Parse(append([]byte(nil), buf[:n]...)))
			}
		}()
		return r
	}
	var ln net.Listener
	var err error
	if cfg != nil {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", cfg)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r.addr = ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				p := octetcounting.NewParser(gosyslog.WithMaxMessageLength(1<<20),
					gosyslog.WithMachineOptions(rfc5424.WithCompliantMsg()),
					gosyslog.WithListener(func(res *gosyslog.Result) { r.add(res.Message, res.Error) }))
				p.Parse(c)
			}()
		}
	}()
	return r
}

// events decodes what r received, checking each message's header and
// structured data against its event; it fails t on any parse error.
func (r *receiver) events(t *testing.T) []event.Event {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		t.Fatalf("the receiver could not parse %d messages: %v", len(r.errs), r.errs[0])
	}
	var out []event.Event
	for i, m := range r.msgs {
		if m.Message == nil {
			t.Fatalf("message %d has no MSG", i)
		}
		var ev event.Event
		if err := json.Unmarshal([]byte(strings.TrimPrefix(*m.Message, "\ufeff")), &ev); err != nil {
			t.Fatalf("message %d: %v: %q", i, err, *m.Message)
		}
		sd := (*m.StructuredData)[fmt.Sprintf("loginguard@%d", DefaultPEN)]
		if sd["id"] != ev.ID || sd["eventType"] != string(ev.EventType) || sd["remoteAddress"] != spaced(ev.RemoteAddress) ||
			sd["email"] != spaced(event.Value(ev.Email)) || sd["principal"] != spaced(event.Value(ev.Principal)) {
			t.Fatalf("message %d: structured data %v does not match %s", i, sd, ev.ID)
		}
		if *m.Appname != "loginguard" || *m.MsgID != string(ev.EventType) || *m.Facility != DefaultFacility || int(*m.Severity) != Severity(ev.EventType) {
			t.Fatalf("message %d: header app %s msgid %s facility %d severity %d", i, *m.Appname, *m.MsgID, *m.Facility, *m.Severity)
		}
		if !m.Timestamp.Equal(ev.EventDate) {
			t.Fatalf("message %d: timestamp %v, event %v", i, m.Timestamp, ev.EventDate)
		}
		out = append(out, ev)
	}
	return out
}

// spaced is v as structured data carries it: control characters as spaces.
func spaced(v string) string {
	return strings.Map(func(r rune) rune {
		if r < 32 || r == 127 {
			return ' '
		}
		return r
	}, v)
}

// waitEvents returns what r received once nothing new arrives (TCP delivers
// before the receiver has parsed).
func (r *receiver) waitEvents(t *testing.T) []event.Event {
	t.Helper()
	connectortest.Quiet(func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.msgs) + len(r.errs)
	})
	return r.events(t)
}

func selfSigned(t *testing.T) (server *tls.Config, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func conformance(t *testing.T, network string) {
	var srv, cli *tls.Config
	if network == "tls" {
		srv, cli = selfSigned(t)
	}
	var r *receiver
	connectortest.Run(t, connectortest.Sink{
		New: func(t *testing.T) connectors.Connector {
			r = listen(t, network, srv)
			s, err := New(Options{Network: network, Address: r.addr, TLS: cli})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T) []event.Event { return r.waitEvents(t) },
	})
}

func TestConformanceTCP(t *testing.T) { conformance(t, "tcp") }
func TestConformanceTLS(t *testing.T) { conformance(t, "tls") }

// TestUDP: one datagram per event, parsed as RFC 5424 (not the conformance
// suite: UDP may drop datagrams by design).
func TestUDP(t *testing.T) {
	r := listen(t, "udp", nil)
	s, err := New(Options{Network: "udp", Address: r.addr, Hostname: "gw 1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := []event.Event{
		{ID: event.NewID(), Source: event.SourcePortal, Email: event.Str(`quote"back\slash]@x.com`), EventDate: time.Now().UTC().Truncate(time.Millisecond), EventType: event.LoginFailure, RemoteAddress: "192.0.2.1", Reason: event.BadCredentials, FailureCount: 2},
		{ID: event.NewID(), Source: event.SourceManager, Principal: event.Str("admin"), EventDate: time.Now().UTC().Truncate(time.Millisecond), EventType: event.Alert, RemoteAddress: "192.0.2.2"},
	}
	if err := s.Deliver(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		n := len(r.msgs) + len(r.errs)
		r.mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := r.events(t)
	if len(got) != 2 || event.Value(got[0].Email) != `quote"back\slash]@x.com` {
		t.Fatalf("got %+v", got)
	}
	if h := *r.msgs[0].Hostname; h != "gw1" {
		t.Fatalf("hostname %q, want gw1 (no space)", h)
	}
}

// TestReceiverDown: a receiver that is down fails the delivery; one that comes
// back is dialled again.
func TestReceiverDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	s, err := New(Options{Network: "tcp", Address: addr, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev := []event.Event{{ID: event.NewID(), EventDate: time.Now().UTC(), EventType: event.LoginSuccess, Source: event.SourcePortal}}
	if err := s.Deliver(context.Background(), ev); err == nil {
		t.Fatal("Deliver to a closed port succeeded")
	}
}

func TestBadOptions(t *testing.T) {
	bad := -1
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Network: "smtp", Address: "h:1"}, "syslog: network: want udp, tcp or tls"},
		{Options{Network: "tcp", Address: "nowhere"}, "syslog: address: want host:port"},
		{Options{Network: "tcp", Address: "h:514", Facility: &bad}, "syslog: facility: want 0 to 23"},
		{Options{Network: "tcp", Address: "h:514", PEN: -3}, "syslog: pen: want a positive"},
	} {
		if _, err := New(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}
