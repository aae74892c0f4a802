package elasticsearch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/connectortest"
	"github.com/loginguard/loginguard/connectors/format"
	"github.com/loginguard/loginguard/event"
)

// fakeES answers POST /_bulk as Elasticsearch 8 does: NDJSON action and
// document lines in, {"took", "errors", "items": [{"create": {"_index", "_id",
// "status", "error"}}]} out, with X-Elastic-Product; a create of an existing
// id is a 409 version_conflict_engine_exception, a document that is not a
// JSON object a 400 mapper_parsing_exception; busy makes the next items 429
// es_rejected_execution_exception. Nothing real can run here (Elasticsearch
// needs more than this machine gives a test), so this is the one fake.
type fakeES struct {
	*httptest.Server
	mu     sync.Mutex
	order  []string // index/id in arrival order
	docs   map[string][]byte
	busy   int    // items to reject with 429
	poison string // documents containing it are refused with 400
	auth   string // the Authorization header required, if set
}

func newFakeES(t *testing.T) *fakeES {
	f := &fakeES{docs: map[string][]byte{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if f.auth != "" && r.Header.Get("Authorization") != f.auth {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":{"root_cause":[{"type":"security_exception","reason":"missing authentication credentials for REST request [/_bulk]"}],"type":"security_exception","reason":"missing authentication credentials for REST request [/_bulk]"},"status":401}`)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/_bulk" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-ndjson") {
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error":{"type":"illegal_argument_exception","reason":"unexpected %s %s"},"status":400}`, r.Method, r.URL.Path)
		return
	}
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	type item map[string]any
	var items []map[string]item
	anyErr := false
	f.mu.Lock()
	defer f.mu.Unlock()
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"type":"illegal_argument_exception","reason":"Malformed action/metadata line"},"status":400}`)
			return
		}
		a, ok := action["create"]
		if !ok || !sc.Scan() {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":{"type":"illegal_argument_exception","reason":"expected a create action and its source"},"status":400}`)
			return
		}
		doc := append([]byte(nil), sc.Bytes()...)
		key := a.Index + "/" + a.ID
		it := item{"_index": a.Index, "_id": a.ID}
		var obj map[string]any
		switch {
		case f.busy > 0:
			f.busy--
			it["status"] = 429
			it["error"] = map[string]any{"type": "es_rejected_execution_exception", "reason": "rejected execution of coordinating operation"}
		case json.Unmarshal(doc, &obj) != nil || (f.poison != "" && bytes.Contains(doc, []byte(f.poison))):
			it["status"] = 400
			it["error"] = map[string]any{"type": "mapper_parsing_exception", "reason": "failed to parse"}
		case f.docs[key] != nil:
			it["status"] = 409
			it["error"] = map[string]any{"type": "version_conflict_engine_exception", "reason": "[" + a.ID + "]: version conflict, document already exists"}
		default:
			f.docs[key] = doc
			f.order = append(f.order, key)
			it["status"] = 201
			it["result"] = "created"
		}
		if it["status"] != 201 {
			anyErr = true
		}
		items = append(items, map[string]item{"create": it})
	}
	json.NewEncoder(w).Encode(map[string]any{"took": 3, "errors": anyErr, "items": items})
}

// events returns the stored documents, decoded as connector-event JSON.
func (f *fakeES) events(t *testing.T) []event.Event {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []event.Event
	for _, k := range f.order {
		var ev event.Event
		if err := json.Unmarshal(f.docs[k], &ev); err != nil {
			t.Fatalf("document %s: %v", k, err)
		}
		out = append(out, ev)
	}
	return out
}

func TestConformance(t *testing.T) {
	var f *fakeES
	seed, _ := format.Lookup("json")
	connectortest.Run(t, connectortest.Sink{
		New: func(t *testing.T) connectors.Connector {
			f = newFakeES(t)
			s, err := New(Options{URL: f.URL, Index: "loginguard", Encoder: seed})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Read: func(t *testing.T) []event.Event { return f.events(t) },
	})
}

func ev(email string, at time.Time) event.Event {
	return event.Event{ID: event.NewID(), Source: event.SourcePortal, Email: event.Str(email), EventDate: at, EventType: event.LoginFailure, RemoteAddress: "192.0.2.1", Reason: event.BadCredentials}
}

// TestPartialFailures: of one bulk, a rejected (429) item is retried, a
// poisoned (400) item is permanent, the rest delivered; a retry after that
// creates the rejected one and counts the existing ones (409) as delivered.
func TestPartialFailures(t *testing.T) {
	f := newFakeES(t)
	f.busy, f.poison = 1, "poison@x.com"
	s, err := New(Options{URL: f.URL, Index: "logins-{yyyy}.{MM}.{dd}", APIKey: "a2V5OnNlY3JldA=="})
	if err != nil {
		t.Fatal(err)
	}
	f.auth = "ApiKey a2V5OnNlY3JldA=="
	day := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	batch := []event.Event{ev("busy@x.com", day), ev("poison@x.com", day), ev("ok@x.com", day.Add(24*time.Hour))}
	err = s.Deliver(context.Background(), batch)
	var items connectors.ItemErrors
	if !errors.As(err, &items) || len(items) != 2 || connectors.IsPermanent(items[0]) || !connectors.IsPermanent(items[1]) {
		t.Fatalf("first delivery: %v, want item 0 retryable and item 1 permanent", err)
	}
	if err := s.Deliver(context.Background(), []event.Event{batch[0], batch[2]}); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.order) != 2 || f.order[0] != "logins-2026.12.07/"+batch[2].ID || f.order[1] != "logins-2026.12.06/"+batch[0].ID {
		t.Fatalf("stored %v", f.order)
	}
	var doc map[string]any
	json.Unmarshal(f.docs[f.order[1]], &doc)
	if doc["@timestamp"] == nil {
		t.Fatalf("the default format is not ECS: %v", doc)
	}
}

// TestRequestErrors: a 401 is retried (the credentials may be fixed), a 400 of
// the whole request is permanent, an unreachable cluster is an error.
func TestRequestErrors(t *testing.T) {
	f := newFakeES(t)
	f.auth = "ApiKey right"
	s, _ := New(Options{URL: f.URL, Index: "x", APIKey: "wrong"})
	err := s.Deliver(context.Background(), []event.Event{ev("a@x.com", time.Now())})
	if err == nil || connectors.IsPermanent(err) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("401: %v", err)
	}
	bad, _ := New(Options{URL: f.URL + "/nowhere", Index: "x", APIKey: "right"})
	if err := bad.Deliver(context.Background(), []event.Event{ev("a@x.com", time.Now())}); !connectors.IsPermanent(err) {
		t.Fatalf("400: %v", err)
	}
	down, _ := New(Options{URL: "http://127.0.0.1:1", Index: "x", Timeout: time.Second})
	if err := down.Deliver(context.Background(), []event.Event{ev("a@x.com", time.Now())}); err == nil || connectors.IsPermanent(err) {
		t.Fatalf("down: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{URL: "ftp://x", Index: "i"}, "elasticsearch: url: want http(s)://host:port"},
		{Options{URL: "http://x:9200", Index: "Bad Index"}, "elasticsearch: index: want a lower-case name"},
		{Options{URL: "http://x:9200"}, "elasticsearch: index: want"},
		{Options{URL: "http://x:9200", Index: "i", APIKey: "k", Username: "u"}, "elasticsearch: api_key and username: give one of them"},
	} {
		if _, err := New(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
}
