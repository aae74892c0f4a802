// Package webhook is the webhook connector: every event is one HTTP POST to a
// target URL, signed as Standard Webhooks specifies (https://www.standardwebhooks.com):
//
//	webhook-id:        the event's id (the same on every redelivery, for dedup)
//	webhook-timestamp: unix seconds of the attempt
//	webhook-signature: "v1,<base64 HMAC-SHA256 of id.timestamp.body>", one per
//	                   secret, space separated, so a receiver can rotate secrets
//
// Answers: 2xx delivered; 410 Gone disables the target (no more requests, the
// events are dead-lettered and Stats report it); 408, 429 and 5xx are retried,
// no sooner than their Retry-After; any other status is Permanent (the event is
// dead-lettered, not retried). Events of a batch are posted one after another,
// in order.
//
// With Options.Batch above 1, up to that many events go in one request, the
// body a JSON array of them in order, and webhook-id "batch_" and 32 hex digits
// of a SHA-256 of their ids (the same events give the same id on a retry; a
// receiver de-duplicates on each event's own id). A batch refused for good
// (a 4xx other than 408, 410 and 429) is posted again event by event, each an
// array of one, so that only the events refused are dead-lettered.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/format"
	"github.com/loginguard/loginguard/event"
)

// DefaultTimeout bounds one request when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// SecretPrefix starts every Standard Webhooks secret.
const SecretPrefix = "whsec_"

// Options configures a Sink.
type Options struct {
	// URL the events are posted to, http or https. Required.
	URL string
	// Secrets sign every request, each "whsec_" and base64 bytes; with
	// several, each gives a signature (rotation). Default: none (unsigned).
	Secrets []string
	// Headers are added to every request (e.g. Authorization).
	Headers map[string]string
	// Timeout bounds one request, answer included. Default: 10s.
	Timeout time.Duration
	// Encoder turns an event into the request body. Default: the connector
	// event JSON.
	Encoder format.Encoder
	// ContentType of the body. Default: application/json.
	ContentType string
	// Client sends the requests. Default: a client of its own.
	Client *http.Client
	// Batch is the most events in one request: 0 or 1 (the default) posts
	// every event alone, its body the event; more posts up to Batch events of
	// a delivery as one JSON array (see the package comment).
	Batch int
}

// MaxBatch bounds Options.Batch.
const MaxBatch = 1000

// ParseSecret returns the key of a "whsec_" secret.
func ParseSecret(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("a secret must start with %q", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("a secret must be %q and base64: %w", SecretPrefix, err)
	}
	if len(key) == 0 {
		return nil, errors.New("the secret is empty")
	}
	return key, nil
}

// ParseURL checks a target URL.
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: want an http or https URL", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q: no host", s)
	}
	return u, nil
}

// Sink posts events to one URL. It is safe for concurrent use.
type Sink struct {
	url     string
	keys    [][]byte
	headers http.Header
	timeout time.Duration
	enc     format.Encoder
	ctype   string
	client  *http.Client
	own     bool
	batch   int

	disabled atomic.Bool
	mu       sync.RWMutex
	closed   bool
}

// New returns a sink for o.
func New(o Options) (*Sink, error) {
	u, err := ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("webhook: url: %w", err)
	}
	if o.Batch < 0 || o.Batch > MaxBatch {
		return nil, fmt.Errorf("webhook: batch: want 1 to %d events, got %d", MaxBatch, o.Batch)
	}
	s := &Sink{url: u.String(), timeout: o.Timeout, enc: o.Encoder, ctype: o.ContentType, client: o.Client,
		headers: make(http.Header), batch: max(o.Batch, 1)}
	for i, sec := range o.Secrets {
		key, err := ParseSecret(sec)
		if err != nil {
			return nil, fmt.Errorf("webhook: secrets[%d]: %w", i, err)
		}
		s.keys = append(s.keys, key)
	}
	for k, v := range o.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("webhook: headers: invalid header %q", k)
		}
		s.headers.Set(k, v)
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.enc == nil {
		s.enc, _ = format.Lookup("")
	}
	if s.ctype == "" {
		s.ctype = "application/json"
	}
	if s.client == nil {
		s.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		s.own = true
	}
	return s, nil
}

// Disabled reports whether the target answered 410 Gone.
func (s *Sink) Disabled() bool { return s.disabled.Load() }

// sign returns the webhook-signature header of body.
func (s *Sink) sign(id string, ts int64, body []byte) string {
	var b strings.Builder
	for i, key := range s.keys {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(id))
		h.Write([]byte{'.'})
		h.Write(strconv.AppendInt(nil, ts, 10))
		h.Write([]byte{'.'})
		h.Write(body)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(h.Sum(nil)))
	}
	return b.String()
}

// Deliver posts the events of batch one after another (or, with Batch, up to
// Batch at a time). An event refused for good is named in the
// connectors.ItemErrors it returns, and the next ones are still posted; when
// a post fails otherwise, it names that event and every later one (not
// tried), so that the pipeline retries from there in order.
func (s *Sink) Deliver(ctx context.Context, batch []event.Event) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errors.New("webhook: sink closed")
	}
	items := connectors.ItemErrors{}
	for start := 0; start < len(batch); start += s.batch {
		chunk := batch[start:min(start+s.batch, len(batch))]
		switch err := s.post(ctx, chunk); {
		case err == nil:
		case refused(err) && len(chunk) == 1:
			items[start] = err // this event only; the next ones are tried
		case refused(err):
			// A batch refused for good: find the events refused, each alone.
			for j := range chunk {
				switch e := s.post(ctx, chunk[j:j+1]); {
				case e == nil:
				case refused(e):
					items[start+j] = e
				default:
					return failFrom(items, start+j, len(batch), e)
				}
			}
		default:
			return failFrom(items, start, len(batch), err)
		}
	}
	switch {
	case len(items) == 0:
		return nil
	case len(batch) == 1:
		return items[0]
	case len(items) == len(batch):
		return connectors.Permanent(items) // every event refused for good
	}
	return items
}

// refused reports whether err refuses the events for good (a Permanent error
// that does not disable the target).
func refused(err error) bool {
	return connectors.IsPermanent(err) && !connectors.IsDisabled(err)
}

// failFrom is the error of a delivery whose events from i on failed with err,
// those before having been taken or refused (items).
func failFrom(items connectors.ItemErrors, i, n int, err error) error {
	if i == 0 {
		// Nothing was taken: one error for the batch says it all.
		return err
	}
	for j := i; j < n; j++ {
		items[j] = err
	}
	return items
}

// body is the request of evs and its webhook-id: the event alone without
// Batch, else the JSON array of evs.
func (s *Sink) body(evs []event.Event) (string, []byte, error) {
	if s.batch == 1 {
		body, err := s.enc(nil, &evs[0])
		if err != nil {
			return "", nil, fmt.Errorf("event %s: %w", evs[0].ID, err)
		}
		return evs[0].ID, body, nil
	}
	h := sha256.New()
	body := make([]byte, 0, 512*len(evs))
	body = append(body, '[')
	for i := range evs {
		if i > 0 {
			body = append(body, ',')
		}
		var err error
		if body, err = s.enc(body, &evs[i]); err != nil {
			return "", nil, fmt.Errorf("event %s: %w", evs[i].ID, err)
		}
		h.Write([]byte(evs[i].ID))
		h.Write([]byte{'\n'})
	}
	body = append(body, ']')
	return "batch_" + hex.EncodeToString(h.Sum(nil)[:16]), body, nil
}

// post sends evs in one request: one event, or with Batch an array of them.
func (s *Sink) post(ctx context.Context, evs []event.Event) error {
	if s.disabled.Load() {
		return connectors.Disabled(fmt.Errorf("webhook: %s answered 410 Gone: target disabled", s.url))
	}
	id, body, err := s.body(evs)
	if err != nil {
		return connectors.Permanent(fmt.Errorf("webhook: encoding: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return connectors.Permanent(fmt.Errorf("webhook: %w", err))
	}
	for k, v := range s.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", s.ctype)
	req.Header.Set("User-Agent", "loginguard-webhook")
	ts := time.Now().Unix()
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	if len(s.keys) > 0 {
		req.Header.Set("webhook-signature", s.sign(id, ts, body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: posting to %s: %w", s.url, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusGone:
		s.disabled.Store(true)
		return connectors.Disabled(fmt.Errorf("webhook: %s answered 410 Gone: target disabled", s.url))
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		err := fmt.Errorf("webhook: %s answered %s", s.url, resp.Status)
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return connectors.RetryAfter(err, d)
		}
		return err
	default:
		return connectors.Permanent(fmt.Errorf("webhook: %s answered %s", s.url, resp.Status))
	}
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Close stops the sink; its idle connections are closed.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.own {
		s.client.CloseIdleConnections()
	}
	return nil
}

var _ connectors.Connector = (*Sink)(nil)
