package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestExampleConnectors: Caddyfile.example with LOGINGUARD_KAFKA_BROKERS and
// LOGINGUARD_WEBHOOK_URL set: a login through Caddy in front of the demo portal
// arrives at Kafka (an in-process broker speaking the real protocol) as the
// the connector event's JSON, with its field names, types and order, keyed by the
// email; and at the webhook, signed.
func TestExampleConnectors(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "logins"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the example's webhook secret!"))
	var mu sync.Mutex
	var bodies [][]byte
	var heads []http.Header
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, heads = append(bodies, b), append(heads, r.Header.Clone())
		mu.Unlock()
	}))
	defer hook.Close()
	s := newStack(t, stackOptions{Env: []string{
		"LOGINGUARD_KAFKA_BROKERS=" + cluster.ListenAddrs()[0],
		"LOGINGUARD_KAFKA_TOPIC=logins",
		"LOGINGUARD_WEBHOOK_URL=" + hook.URL + "/logins",
		"LOGINGUARD_WEBHOOK_SECRET=" + secret,
	}})
	if resp, _ := s.login("Active@Example.com", "wrong"); resp.StatusCode != 401 {
		t.Fatalf("login: %d", resp.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: cluster.ListenAddrs(), Topic: "logins", Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("reading Kafka: %v", err)
	}
	if string(m.Key) != "active@example.com" {
		t.Errorf("key %q", m.Key)
	}
	// The connector event's fields, in its order, with its JSON types; extensions after.
	seed := []string{"id", "source", "principal", "email", "displayName", "eventDate", "eventType", "remoteAddress", "message", "errorType", "portalId", "accountId"}
	dec := json.NewDecoder(strings.NewReader(string(m.Value)))
	dec.Token() // {
	var keys []string
	values := map[string]any{}
	for dec.More() {
		k, _ := dec.Token()
		var v any
		dec.Decode(&v)
		keys = append(keys, k.(string))
		values[k.(string)] = v
	}
	if len(keys) < len(seed) || strings.Join(keys[:len(seed)], ",") != strings.Join(seed, ",") {
		t.Fatalf("fields %v, want the connector event's %v first", keys, seed)
	}
	if values["principal"] != nil || values["email"] != "active@example.com" || values["eventType"] != "LOGIN_FAILURE" ||
		values["source"] != "API_PORTAL" || values["portalId"] != "demo-portal" || values["accountId"] != nil {
		t.Errorf("values %v", values)
	}
	if d, ok := values["eventDate"].(string); !ok || len(d) != len("2006-01-02T15:04:05.000Z") {
		t.Errorf("eventDate %v", values["eventDate"])
	}
	var id string
	for _, h := range m.Headers {
		if h.Key == "event-id" {
			id = string(h.Value)
		}
	}
	if id != values["id"] {
		t.Errorf("event-id header %q, id %v", id, values["id"])
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(bodies)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook got nothing in 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	wh, _ := standardwebhooks.NewWebhook(secret)
	if err := wh.Verify(bodies[0], heads[0]); err != nil {
		t.Errorf("webhook signature: %v", err)
	}
	if heads[0].Get("webhook-id") != id {
		t.Errorf("webhook-id %q, want the event id %s", heads[0].Get("webhook-id"), id)
	}
}
