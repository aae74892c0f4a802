package gelf

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/connectortest"
	"github.com/loginguard/loginguard/event"
)

// receiver is a GELF input as the spec describes one: null-delimited
// messages on TCP; on UDP, datagrams that are a whole message or chunks
// (magic 0x1e 0x0f, message id, sequence, count) put back together.
type receiver struct {
	addr string
	mu   sync.Mutex
	msgs []map[string]any
	errs []string
}

func (r *receiver) add(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		r.errs = append(r.errs, err.Error()+": "+string(b))
		return
	}
	r.msgs = append(r.msgs, m)
}

func listen(t *testing.T, network string) *receiver {
	t.Helper()
	r := &receiver{}
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		r.addr = pc.LocalAddr().String()
		go func() {
			chunks := map[string][][]byte{}
			buf := make([]byte, 65536)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				d := append([]byte(nil), buf[:n]...)
				if len(d) < 12 || d[0] != 0x1e || d[1] != 0x0f {
					r.add(d)
					continue
				}
				id, seq, count := string(d[2:10]), int(d[10]), int(d[11])
				if chunks[id] == nil {
					chunks[id] = make([][]byte, count)
				}
				chunks[id][seq] = d[12:]
				whole := true
				for _, c := range chunks[id] {
					whole = whole && c != nil
				}
				if whole {
					var msg []byte
					for _, c := range chunks[id] {
						msg = append(msg, c...)
					}
					delete(chunks, id)
					r.add(msg)
				}
			}
		}()
		return r
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
				br := bufio.NewReader(c)
				for {
					b, err := br.ReadBytes(0)
					if err != nil {
						return
					}
					r.add(b[:len(b)-1])
				}
			}()
		}
	}()
	return r
}

// events checks every message against GELF 1.1 and returns the events of
// their full_message.
func (r *receiver) events(t *testing.T) []event.Event {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		t.Fatalf("%d messages are not JSON: %s", len(r.errs), r.errs[0])
	}
	var out []event.Event
	for i, m := range r.msgs {
		if m["version"] != "1.1" || m["host"] == "" || m["short_message"] == "" {
			t.Fatalf("message %d lacks GELF's required fields: %v", i, m)
		}
		if _, ok := m["timestamp"].(float64); !ok {
			t.Fatalf("message %d: timestamp %v is not a number", i, m["timestamp"])
		}
		for k := range m {
			if k == "_id" || (!strings.HasPrefix(k, "_") && !strings.Contains(" version host short_message full_message timestamp level ", " "+k+" ")) {
				t.Fatalf("message %d: field %q is not allowed by GELF 1.1", i, k)
			}
		}
		var ev event.Event
		if err := json.Unmarshal([]byte(m["full_message"].(string)), &ev); err != nil {
			t.Fatalf("message %d: full_message: %v", i, err)
		}
		if m["_event_id"] != ev.ID || m["_event_type"] != string(ev.EventType) || m["_remote_address"] != ev.RemoteAddress {
			t.Fatalf("message %d: fields %v do not match the event %s", i, m, ev.ID)
		}
		if got := int64(m["timestamp"].(float64) * 1000); got != ev.EventDate.UnixMilli() && got+1 != ev.EventDate.UnixMilli() {
			t.Fatalf("message %d: timestamp %v, event %v", i, m["timestamp"], ev.EventDate)
		}
		out = append(out, ev)
	}
	return out
}

// settle waits until nothing new arrived for 450 ms (or 30 s pass).
func (r *receiver) settle(t *testing.T) []event.Event {
	t.Helper()
	connectortest.Quiet(func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.msgs) + len(r.errs)
	})
	return r.events(t)
}

func TestConformanceTCP(t *testing.T) {
	var r *receiver
	connectortest.Run(t, connectortest.Sink{
		New: func(t *testing.T) connectors.Connector {
			r = listen(t, "tcp")
			s, err := New(Options{Network: "tcp", Address: r.addr})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T) []event.Event { return r.settle(t) },
	})
}

// TestUDPChunked: a small event in one datagram, a large one in chunks, both
// put back together by the receiver; one past 128 chunks is refused for good.
func TestUDPChunked(t *testing.T) {
	r := listen(t, "udp")
	s, err := New(Options{Network: "udp", Address: r.addr, ChunkSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	small := event.Event{ID: event.NewID(), Source: event.SourcePortal, Email: event.Str("a@x.com"), EventDate: now, EventType: event.LoginSuccess, RemoteAddress: "192.0.2.1"}
	large := small
	large.ID, large.EventType, large.UserAgent = event.NewID(), event.LoginFailure, strings.Repeat("Mozilla/5.0 ", 300)
	if err := s.Deliver(context.Background(), []event.Event{small, large}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		n := len(r.msgs)
		r.mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := r.events(t)
	if len(got) != 2 || got[1].UserAgent != large.UserAgent {
		t.Fatalf("received %d events", len(got))
	}
	huge := small
	huge.UserAgent = strings.Repeat("x", 200*MaxChunks)
	if err := s.Deliver(context.Background(), []event.Event{huge}); !connectors.IsPermanent(err) {
		t.Fatalf("a message past 128 chunks: %v, want a permanent error", err)
	}
}

func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Network: "http", Address: "h:1"}, "gelf: network: want udp or tcp"},
		{Options{Network: "udp", Address: "h"}, "gelf: address: want host:port"},
		{Options{Network: "udp", Address: "h:12201", ChunkSize: 10}, "gelf: chunk_size: want 100 to 65000"},
	} {
		if _, err := New(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}
