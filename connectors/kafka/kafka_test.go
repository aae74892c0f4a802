package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/connectortest"
	"github.com/loginguard/loginguard/connectors/format"
	"github.com/loginguard/loginguard/event"
)

const topic = "login-events"

// newCluster starts an in-process Kafka broker with the topic (one partition,
// so that the whole topic has one order) and stops it at the end of t.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// readAll returns every message of the topic's partition 0, in order.
func readAll(t testing.TB, addr string, dialer *kafkago.Dialer) []kafkago.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if dialer == nil {
		dialer = &kafkago.Dialer{Timeout: 10 * time.Second}
	}
	conn, err := dialer.DialLeader(ctx, "tcp", addr, topic, 0)
	if err != nil {
		t.Fatalf("dialing the partition leader: %v", err)
	}
	defer conn.Close()
	first, last, err := conn.ReadOffsets()
	if err != nil {
		t.Fatalf("reading offsets: %v", err)
	}
	if last == first {
		return nil
	}
	if _, err := conn.Seek(first, kafkago.SeekAbsolute); err != nil {
		t.Fatal(err)
	}
	var out []kafkago.Message
	for int64(len(out)) < last-first {
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		b := conn.ReadBatch(1, 16<<20)
		for {
			m, err := b.ReadMessage()
			if err != nil {
				break
			}
			out = append(out, m)
		}
		if err := b.Close(); err != nil && int64(len(out)) < last-first {
			t.Fatalf("reading messages (%d of %d): %v", len(out), last-first, err)
		}
	}
	return out
}

func decode(t testing.TB, ms []kafkago.Message) []event.Event {
	t.Helper()
	out := make([]event.Event, len(ms))
	for i, m := range ms {
		if err := json.Unmarshal(m.Value, &out[i]); err != nil {
			t.Fatalf("message %d is not an event: %v: %q", i, err, m.Value)
		}
	}
	return out
}

func TestConformance(t *testing.T) {
	var addr string
	connectortest.Run(t, connectortest.Sink{
		New: func(t *testing.T) connectors.Connector {
			addr = newCluster(t).ListenAddrs()[0]
			s, err := New(Options{Brokers: []string{addr}, Topic: topic})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T) []event.Event { return decode(t, readAll(t, addr, nil)) },
	})
}

// TestKeyHeaderCompression: the key is the principal (or the email), the
// event id is in a header, and compressed message sets read back whole.
func TestKeyHeaderCompression(t *testing.T) {
	for _, comp := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			addr := newCluster(t).ListenAddrs()[0]
			s, err := New(Options{Brokers: []string{addr}, Topic: topic, Compression: comp})
			if err != nil {
				t.Fatal(err)
			}
			evs := []event.Event{
				{ID: event.NewID(), Source: event.SourceManager, Principal: event.Str("alice"), EventType: event.LoginSuccess, EventDate: time.Now()},
				{ID: event.NewID(), Source: event.SourcePortal, Email: event.Str("bob@example.com"), EventType: event.LoginFailure, EventDate: time.Now()},
			}
			if err := s.Deliver(context.Background(), evs); err != nil {
				t.Fatal(err)
			}
			s.Close()
			ms := readAll(t, addr, nil)
			if len(ms) != 2 {
				t.Fatalf("%d messages", len(ms))
			}
			for i, want := range []string{"alice", "bob@example.com"} {
				if string(ms[i].Key) != want {
					t.Errorf("message %d key %q, want %q", i, ms[i].Key, want)
				}
				var id string
				for _, h := range ms[i].Headers {
					if h.Key == HeaderEventID {
						id = string(h.Value)
					}
				}
				if id != evs[i].ID {
					t.Errorf("message %d event-id header %q, want %q", i, id, evs[i].ID)
				}
			}
		})
	}
}

// TestFormatECS: the message value is in the configured format.
func TestFormatECS(t *testing.T) {
	addr := newCluster(t).ListenAddrs()[0]
	enc, _ := format.Lookup("ecs")
	s, _ := New(Options{Brokers: []string{addr}, Topic: topic, Encoder: enc})
	defer s.Close()
	ev := event.Event{ID: event.NewID(), Source: event.SourceManager, Principal: event.Str("alice"), EventType: event.LoginSuccess, EventDate: time.Now()}
	if err := s.Deliver(context.Background(), []event.Event{ev}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(readAll(t, addr, nil)[0].Value, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["@timestamp"]; !ok {
		t.Fatalf("not ECS: %v", doc)
	}
}

// TestSASLPlain: the sink authenticates; a wrong password fails delivery.
func TestSASLPlain(t *testing.T) {
	c := newCluster(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "lg", "s3cret"))
	addr := c.ListenAddrs()[0]
	good, err := NewSASL("plain", "lg", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := New(Options{Brokers: []string{addr}, Topic: topic, SASL: good})
	ev := event.Event{ID: event.NewID(), Source: event.SourceManager, Principal: event.Str("alice"), EventType: event.LoginSuccess, EventDate: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Deliver(ctx, []event.Event{ev}); err != nil {
		t.Fatalf("with the right password: %v", err)
	}
	s.Close()
	ms := readAll(t, addr, &kafkago.Dialer{Timeout: 10 * time.Second, SASLMechanism: good})
	if len(ms) != 1 {
		t.Fatalf("%d messages", len(ms))
	}
	bad, _ := NewSASL("plain", "lg", "wrong")
	s, _ = New(Options{Brokers: []string{addr}, Topic: topic, SASL: bad})
	defer s.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := s.Deliver(ctx2, []event.Event{ev}); err == nil {
		t.Fatal("delivered with a wrong password")
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Topic: "t"}, "brokers"},
		{Options{Brokers: []string{"localhost"}, Topic: "t"}, "brokers"},
		{Options{Brokers: []string{"localhost:9092"}}, "topic"},
		{Options{Brokers: []string{"localhost:9092"}, Topic: "t", Compression: "brotli"}, "compression"},
	} {
		if _, err := New(c.o); err == nil || !contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", c.o, err, c.want)
		}
	}
	if _, err := NewSASL("kerberos", "u", "p"); err == nil {
		t.Error("unknown SASL mechanism accepted")
	}
}

// TestBrokerDown: a sink whose broker is unreachable is created, and its
// deliveries fail (to be retried) without hanging past the context.
func TestBrokerDown(t *testing.T) {
	s, err := New(Options{Brokers: []string{"127.0.0.1:1"}, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = s.Deliver(ctx, []event.Event{{ID: "x", EventDate: time.Now()}})
	if err == nil || connectors.IsPermanent(err) {
		t.Fatalf("delivery to a down broker: %v, want a retryable error", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// selfSigned returns a server certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kfake"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestTLS: the sink talks TLS to a broker whose certificate it trusts, and
// refuses one it does not.
func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	c := newCluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	addr := c.ListenAddrs()[0]
	s, _ := New(Options{Brokers: []string{addr}, Topic: topic, TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	ev := event.Event{ID: event.NewID(), Source: event.SourceManager, Principal: event.Str("alice"), EventType: event.LoginSuccess, EventDate: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Deliver(ctx, []event.Event{ev}); err != nil {
		t.Fatalf("over TLS: %v", err)
	}
	s.Close()
	ms := readAll(t, addr, &kafkago.Dialer{Timeout: 10 * time.Second, TLS: &tls.Config{RootCAs: pool}})
	if len(ms) != 1 || string(ms[0].Key) != "alice" {
		t.Fatalf("read back %d messages", len(ms))
	}
	untrusting, _ := New(Options{Brokers: []string{addr}, Topic: topic, TLS: &tls.Config{MinVersion: tls.VersionTLS12}})
	defer untrusting.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := untrusting.Deliver(ctx2, []event.Event{ev}); err == nil {
		t.Fatal("delivered to a broker with an untrusted certificate")
	}
}
