package webhook

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/connectortest"
	"github.com/loginguard/loginguard/connectors/spool"
	"github.com/loginguard/loginguard/event"
)

var (
	secretA = "whsec_" + base64.StdEncoding.EncodeToString([]byte("the first secret, 32 bytes long!"))
	secretB = "whsec_" + base64.StdEncoding.EncodeToString([]byte("the second secret after rotation"))
)

// receiver is a webhook target that keeps every request it took.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
	answer func(n int) (int, http.Header) // status for the n-th request (from 0)
	n      int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	n := r.n
	r.n++
	code := http.StatusNoContent
	var h http.Header
	if r.answer != nil {
		code, h = r.answer(n)
	}
	if code/100 == 2 {
		r.bodies = append(r.bodies, body)
		r.heads = append(r.heads, req.Header.Clone())
	}
	r.mu.Unlock()
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(code)
}

func (r *receiver) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *receiver) events(t *testing.T) []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]event.Event, len(r.bodies))
	for i, b := range r.bodies {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("request %d is not an event: %v: %q", i, err, b)
		}
	}
	return out
}

// answerNth is a receiver answering code to its n-th request (from 0), 200 to
// the others.
func answerNth(n, code int) *receiver {
	return &receiver{answer: func(i int) (int, http.Header) {
		if i == n {
			return code, nil
		}
		return 200, nil
	}}
}

func serve(t *testing.T, r *receiver) *httptest.Server {
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func TestConformance(t *testing.T) {
	var r *receiver
	connectortest.Run(t, connectortest.Sink{
		New: func(t *testing.T) connectors.Connector {
			r = &receiver{}
			s, err := New(Options{URL: serve(t, r).URL, Secrets: []string{secretA}})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T) []event.Event { return r.events(t) },
	})
}

// TestConformanceBatched: the same suite with events posted 50 at a time.
func TestConformanceBatched(t *testing.T) {
	var r *receiver
	connectortest.Run(t, connectortest.Sink{
		New: func(t *testing.T) connectors.Connector {
			r = &receiver{}
			s, err := New(Options{URL: serve(t, r).URL, Secrets: []string{secretA}, Batch: 50})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T) []event.Event {
			var all []event.Event
			for _, a := range r.arrays(t) {
				all = append(all, a...)
			}
			return all
		},
	})
}

func testEvent(id string) event.Event {
	return event.Event{ID: id, Source: event.SourcePortal, Email: event.Str("user@example.com"),
		EventDate: time.Now(), EventType: event.LoginFailure, RemoteAddress: "192.0.2.1",
		Message: event.Str("Bad credentials"), Reason: event.BadCredentials}
}

// TestSignatures: every request verifies with each of the secrets through the
// Standard Webhooks library, not with another secret, and carries the event id
// and the custom headers.
func TestSignatures(t *testing.T) {
	r := &receiver{}
	s, err := New(Options{URL: serve(t, r).URL, Secrets: []string{secretA, secretB},
		Headers: map[string]string{"Authorization": "Bearer t0ken", "X-Tenant": "acme"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := []event.Event{testEvent(event.NewID()), testEvent(event.NewID())}
	if err := s.Deliver(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	for _, sec := range []string{secretA, secretB} {
		wh, err := standardwebhooks.NewWebhook(sec)
		if err != nil {
			t.Fatal(err)
		}
		for i := range r.bodies {
			if err := wh.Verify(r.bodies[i], r.heads[i]); err != nil {
				t.Errorf("request %d does not verify with a configured secret: %v (%q)", i, err, r.heads[i].Get("webhook-signature"))
			}
		}
	}
	other, _ := standardwebhooks.NewWebhook("whsec_" + base64.StdEncoding.EncodeToString([]byte("another secret")))
	if err := other.Verify(r.bodies[0], r.heads[0]); err == nil {
		t.Error("a request verifies with a secret it was not signed with")
	}
	for i, h := range r.heads {
		if h.Get("webhook-id") != evs[i].ID {
			t.Errorf("request %d webhook-id %q, want the event id %q", i, h.Get("webhook-id"), evs[i].ID)
		}
		if h.Get("Authorization") != "Bearer t0ken" || h.Get("X-Tenant") != "acme" {
			t.Errorf("request %d lacks the custom headers: %v", i, h)
		}
		if h.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", h.Get("Content-Type"))
		}
	}
	// A body changed on the way no longer verifies.
	wh, _ := standardwebhooks.NewWebhook(secretA)
	if err := wh.Verify(append(r.bodies[0], ' '), r.heads[0]); err == nil {
		t.Error("a changed body verifies")
	}
}

func TestStatuses(t *testing.T) {
	for _, c := range []struct {
		code      int
		permanent bool
		disabled  bool
	}{
		{400, true, false}, {401, true, false}, {404, true, false}, {413, true, false},
		{410, true, true},
		{408, false, false}, {429, false, false}, {500, false, false}, {503, false, false},
	} {
		r := &receiver{answer: func(int) (int, http.Header) { return c.code, nil }}
		s, _ := New(Options{URL: serve(t, r).URL})
		err := s.Deliver(context.Background(), []event.Event{testEvent("a")})
		if err == nil || connectors.IsPermanent(err) != c.permanent || connectors.IsDisabled(err) != c.disabled {
			t.Errorf("status %d: %v (permanent %v, disabled %v)", c.code, err, connectors.IsPermanent(err), connectors.IsDisabled(err))
		}
		if c.disabled {
			// A disabled target gets no more requests.
			before := r.requests()
			s.Deliver(context.Background(), []event.Event{testEvent("b")})
			if r.requests() != before || !s.Disabled() {
				t.Errorf("410: the target was called again")
			}
		}
		s.Close()
	}
}

// TestPartialBatch: a failure part way names that event and the later ones.
func TestPartialBatch(t *testing.T) {
	r := answerNth(2, 503)
	s, _ := New(Options{URL: serve(t, r).URL})
	defer s.Close()
	err := s.Deliver(context.Background(), []event.Event{testEvent("0"), testEvent("1"), testEvent("2"), testEvent("3")})
	items, ok := err.(connectors.ItemErrors)
	if !ok || len(items) != 2 || items[2] == nil || items[3] == nil {
		t.Fatalf("partial failure: %#v", err)
	}
}

// TestRefusedEventAlone: an event refused for good (400) is named alone; the
// events after it are still posted.
func TestRefusedEventAlone(t *testing.T) {
	r := answerNth(1, 400)
	s, _ := New(Options{URL: serve(t, r).URL})
	defer s.Close()
	err := s.Deliver(context.Background(), []event.Event{testEvent("0"), testEvent("1"), testEvent("2")})
	items, ok := err.(connectors.ItemErrors)
	if !ok || len(items) != 1 || !connectors.IsPermanent(items[1]) {
		t.Fatalf("Deliver = %#v, want event 1 alone refused for good", err)
	}
	if got := r.events(t); ids(got) != "0 2 " {
		t.Fatalf("delivered %q, want 0 2", ids(got))
	}
}

// TestTimeout: a target that does not answer in time fails the delivery, to
// be retried.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	s, _ := New(Options{URL: srv.URL, Timeout: 50 * time.Millisecond})
	defer s.Close()
	err := s.Deliver(context.Background(), []event.Event{testEvent("a")})
	if err == nil || connectors.IsPermanent(err) {
		t.Fatalf("timeout: %v", err)
	}
}

// TestRetryAfterThroughDispatcher: a 429 with Retry-After: 1 is retried, and
// not before a second; then the event arrives once.
func TestRetryAfterThroughDispatcher(t *testing.T) {
	var first atomic.Int64
	var second atomic.Int64
	r := &receiver{answer: func(n int) (int, http.Header) {
		if n == 0 {
			first.Store(time.Now().UnixNano())
			return 429, http.Header{"Retry-After": {"1"}}
		}
		second.CompareAndSwap(0, time.Now().UnixNano())
		return 200, nil
	}}
	s, _ := New(Options{URL: serve(t, r).URL})
	d := connectors.NewDispatcher(connectors.Options{Logger: slog.New(slog.DiscardHandler),
		FlushInterval: time.Millisecond, RetryBackoff: time.Millisecond}, connectors.Named{Name: "wh", Connector: s})
	d.Emit(testEvent("ra"))
	waitFor(t, func() bool { return d.Stats()[0].Delivered == 1 })
	d.Close(context.Background())
	if gap := time.Duration(second.Load() - first.Load()); gap < time.Second {
		t.Fatalf("retried %v after a Retry-After of 1s", gap)
	}
	if got := r.events(t); len(got) != 1 || got[0].ID != "ra" {
		t.Fatalf("received %v", got)
	}
}

// TestGoneThroughSpool: a 410 disables the connector (Stats.Disabled, the last
// error says so) and its events go to the dead-letter file, with no retry.
func TestGoneThroughSpool(t *testing.T) {
	r := &receiver{answer: func(int) (int, http.Header) { return 410, nil }}
	s, _ := New(Options{URL: serve(t, r).URL})
	sp, err := spool.Open(spool.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	d := connectors.NewDispatcher(connectors.Options{Logger: slog.New(slog.DiscardHandler),
		FlushInterval: time.Millisecond, RetryBackoff: time.Millisecond},
		connectors.Named{Name: "wh", Connector: s, Spool: sp})
	for _, id := range []string{"a", "b", "c"} {
		d.Emit(testEvent(id))
	}
	waitFor(t, func() bool { return d.Stats()[0].DeadLettered == 3 })
	d.Close(context.Background())
	st := d.Stats()[0]
	if !st.Disabled || !strings.Contains(st.LastError, "410") || r.requests() != 1 {
		t.Fatalf("after 410: %+v, %d requests", st, r.requests())
	}
}

// arrays decodes the bodies r took as JSON arrays of events.
func (r *receiver) arrays(t *testing.T) [][]event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]event.Event, len(r.bodies))
	for i, b := range r.bodies {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("request %d is not an array of events: %v: %q", i, err, b)
		}
	}
	return out
}

func ids(evs []event.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString(ev.ID + " ")
	}
	return b.String()
}

// TestBatchSigned: with Batch, a delivery is posted Batch events at a time, as
// JSON arrays in order, each request signed (verified by the Standard Webhooks
// library) under a batch id that is the same when the same events are posted
// again and differs between batches.
func TestBatchSigned(t *testing.T) {
	r := &receiver{}
	s, err := New(Options{URL: serve(t, r).URL, Secrets: []string{secretA}, Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var evs []event.Event
	for i := range 7 {
		evs = append(evs, testEvent(fmt.Sprintf("ev-%d", i)))
	}
	for range 2 { // the second time, as a redelivery
		if err := s.Deliver(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	got := r.arrays(t)
	if len(got) != 6 || len(got[0]) != 3 || len(got[1]) != 3 || len(got[2]) != 1 {
		t.Fatalf("requests %v, want arrays of 3, 3 and 1, twice", got)
	}
	var all []event.Event
	for _, a := range got[:3] {
		all = append(all, a...)
	}
	if ids(all) != ids(evs) || all[4].Email == nil || *all[4].Email != "user@example.com" {
		t.Fatalf("events %q, want %q in order and whole", ids(all), ids(evs))
	}
	wh, _ := standardwebhooks.NewWebhook(secretA)
	seen := map[string]bool{}
	for i, h := range r.heads {
		if err := wh.Verify(r.bodies[i], h); err != nil {
			t.Errorf("request %d does not verify: %v", i, err)
		}
		id := h.Get("webhook-id")
		if !strings.HasPrefix(id, "batch_") || len(id) != len("batch_")+32 {
			t.Errorf("request %d webhook-id %q, want batch_ and 32 hex digits", i, id)
		}
		if i < 3 {
			if seen[id] {
				t.Errorf("two batches share the webhook-id %q", id)
			}
			seen[id] = true
		} else if r.heads[i-3].Get("webhook-id") != id {
			t.Errorf("redelivered batch %d has a new webhook-id %q", i-3, id)
		}
	}
}

// TestBatchRefusedIsolated: a batch refused for good (400) is posted again
// event by event, so that only the refused event is named (and dead-lettered)
// and the others are delivered, in order.
func TestBatchRefusedIsolated(t *testing.T) {
	r := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if strings.Contains(string(body), `"poison"`) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		r.ServeHTTP(w, req)
	}))
	defer srv.Close()
	s, _ := New(Options{URL: srv.URL, Batch: 10})
	defer s.Close()
	evs := []event.Event{testEvent("a"), testEvent("b"), testEvent("poison"), testEvent("c"), testEvent("d")}
	err := s.Deliver(context.Background(), evs)
	items, ok := err.(connectors.ItemErrors)
	if !ok || len(items) != 1 || !connectors.IsPermanent(items[2]) {
		t.Fatalf("Deliver = %#v, want the poisoned event alone refused for good", err)
	}
	var got []event.Event
	for _, a := range r.arrays(t) {
		got = append(got, a...)
	}
	if ids(got) != "a b c d " {
		t.Fatalf("delivered %q, want a b c d", ids(got))
	}
}

// TestBatchPartialRetry: a batch that fails to be retried names its events and
// the later ones; the batches before were taken.
func TestBatchPartialRetry(t *testing.T) {
	r := answerNth(1, 503)
	s, _ := New(Options{URL: serve(t, r).URL, Batch: 2})
	defer s.Close()
	err := s.Deliver(context.Background(), []event.Event{testEvent("0"), testEvent("1"), testEvent("2"), testEvent("3"), testEvent("4")})
	items, ok := err.(connectors.ItemErrors)
	if !ok || len(items) != 3 || items[2] == nil || items[3] == nil || items[4] == nil || connectors.IsPermanent(items[2]) {
		t.Fatalf("Deliver = %#v, want events 2 to 4 to retry", err)
	}
	if got := r.arrays(t); len(got) != 1 || ids(got[0]) != "0 1 " {
		t.Fatalf("delivered %v", got)
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{}, "url"},
		{Options{URL: "ftp://x"}, "url"},
		{Options{URL: "http://"}, "url"},
		{Options{URL: "http://x", Secrets: []string{"s3cret"}}, "whsec_"},
		{Options{URL: "http://x", Secrets: []string{"whsec_!!"}}, "secrets[0]"},
		{Options{URL: "http://x", Headers: map[string]string{"Bad Header": "v"}}, "headers"},
		{Options{URL: "http://x", Batch: -1}, "batch"},
		{Options{URL: "http://x", Batch: MaxBatch + 1}, "batch"},
	} {
		if _, err := New(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", c.o, err, c.want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
