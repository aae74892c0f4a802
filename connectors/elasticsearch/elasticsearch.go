// Package elasticsearch is the Elasticsearch connector: batches go to the
// bulk API as "create" actions with the event id as the document id (so a
// redelivered event is a 409 conflict, counted as delivered), into a data
// stream or an index whose name may carry the event's date. Items that fail
// are reported one by one: a 429 or 5xx item is retried, any other item
// error (a mapping error, say) is permanent and dead-letters that event only.
package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/format"
	"github.com/loginguard/loginguard/event"
)

// Options configures a Sink.
type Options struct {
	// URL of the cluster (https://host:9200). Required.
	URL string
	// Index the events go to: a data stream's name, or an index name in which
	// {yyyy}, {MM} and {dd} become the event's date (UTC), e.g.
	// loginguard-{yyyy}.{MM}.{dd}. Required.
	Index string
	// APIKey, when set, is sent as "Authorization: ApiKey <key>" (the key's
	// base64 "id:api_key" form, as Elasticsearch shows it).
	APIKey string
	// Username and Password, when set, are sent as basic auth.
	Username, Password string
	// Encoder makes each document. Default: ECS (a data stream needs
	// @timestamp).
	Encoder format.Encoder
	// Client sends the requests. Default: a client with Timeout.
	Client *http.Client
	// Timeout of one bulk request. Default 30s.
	Timeout time.Duration
}

// Sink writes events with the bulk API. It is safe for concurrent use.
type Sink struct {
	o    Options
	enc  format.Encoder
	bulk string
}

// New checks o and returns a Sink.
func New(o Options) (*Sink, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("elasticsearch: url: want http(s)://host:port, got %q", o.URL)
	}
	if o.Index == "" || strings.ContainsAny(o.Index, ` "*\<|,>/?#`) || o.Index != strings.ToLower(o.Index) && !strings.Contains(o.Index, "{") {
		return nil, fmt.Errorf("elasticsearch: index: want a lower-case name without spaces or \\/*?\"<>|,#, got %q", o.Index)
	}
	if o.APIKey != "" && o.Username != "" {
		return nil, errors.New("elasticsearch: api_key and username: give one of them")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	s := &Sink{o: o, enc: o.Encoder, bulk: strings.TrimSuffix(o.URL, "/") + "/_bulk"}
	if s.enc == nil {
		s.enc, _ = format.Lookup("ecs")
	}
	return s, nil
}

// index is the index name of ev.
func (s *Sink) index(ev *event.Event) string {
	if !strings.Contains(s.o.Index, "{") {
		return s.o.Index
	}
	d := ev.EventDate.UTC()
	return strings.NewReplacer("{yyyy}", d.Format("2006"), "{MM}", d.Format("01"), "{dd}", d.Format("02")).Replace(s.o.Index)
}

// bulkResponse is the part of the bulk API's answer the sink reads.
type bulkResponse struct {
	Errors bool `json:"errors"`
	Items  []map[string]struct {
		Status int             `json:"status"`
		Error  json.RawMessage `json:"error"`
	} `json:"items"`
}

// Deliver sends batch in one bulk request.
func (s *Sink) Deliver(ctx context.Context, batch []event.Event) error {
	var body bytes.Buffer
	var doc []byte
	for i := range batch {
		var err error
		doc, err = s.enc(doc[:0], &batch[i])
		if err != nil {
			return connectors.Permanent(fmt.Errorf("elasticsearch: encoding event %s: %w", batch[i].ID, err))
		}
		action, _ := json.Marshal(map[string]map[string]string{"create": {"_index": s.index(&batch[i]), "_id": batch[i].ID}})
		body.Write(action)
		body.WriteByte('\n')
		body.Write(doc)
		body.WriteByte('\n')
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.bulk, &body)
	if err != nil {
		return connectors.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "application/json")
	switch {
	case s.o.APIKey != "":
		req.Header.Set("Authorization", "ApiKey "+s.o.APIKey)
	case s.o.Username != "":
		req.SetBasicAuth(s.o.Username, s.o.Password)
	}
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("elasticsearch: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("elasticsearch: reading the bulk answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("elasticsearch: bulk: %s: %s", resp.Status, snippet(b))
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge {
			return connectors.Permanent(err)
		}
		return err // 401/403 (fix the credentials), 429, 5xx: retried
	}
	var br bulkResponse
	if err := json.Unmarshal(b, &br); err != nil || len(br.Items) != len(batch) {
		return fmt.Errorf("elasticsearch: bulk: an answer of %d items for %d events (%v)", len(br.Items), len(batch), err)
	}
	if !br.Errors {
		return nil
	}
	failed := connectors.ItemErrors{}
	for i, item := range br.Items {
		for _, r := range item { // one action: "create"
			switch {
			case r.Status < 300, r.Status == http.StatusConflict: // created, or there already
			case r.Status == http.StatusTooManyRequests || r.Status >= 500:
				failed[i] = fmt.Errorf("elasticsearch: event %s: %d %s", batch[i].ID, r.Status, snippet(r.Error))
			default:
				failed[i] = connectors.Permanent(fmt.Errorf("elasticsearch: event %s: %d %s", batch[i].ID, r.Status, snippet(r.Error)))
			}
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return failed
}

// snippet is the start of an error body, for messages.
func snippet(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// Close releases nothing: each delivery is one request.
func (s *Sink) Close() error { return nil }

var _ connectors.Connector = (*Sink)(nil)
