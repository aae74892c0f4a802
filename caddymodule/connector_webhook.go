package caddymodule

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors/webhook"
	"github.com/loginguard/loginguard/event"
)

func init() {
	caddy.RegisterModule(new(WebhookConnector))
}

// WebhookConnector posts every event to a URL, signed per Standard Webhooks
// (connectors/webhook).
type WebhookConnector struct {
	ConnectorBase
	// URL the events are posted to, http or https. Required.
	URL string `json:"url,omitempty"`
	// Secrets sign every request, each "whsec_" and base64; several sign with
	// each (rotation). Placeholders such as {env.WEBHOOK_SECRET} are replaced
	// at load time. Default: none (unsigned).
	Secrets []string `json:"secrets,omitempty"`
	// Headers are added to every request; placeholders are replaced at load
	// time. Default: none.
	Headers map[string]string `json:"headers,omitempty"`
	// Timeout bounds one request. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// Batch is the most events in one request (1 to 1000): 1, the default,
	// posts every event alone (Standard Webhooks' one message per event); more
	// posts them as JSON arrays of up to Batch events, under a batch id.
	Batch int `json:"batch,omitempty"`

	sink *webhook.Sink
}

// CaddyModule returns the Caddy module information.
func (*WebhookConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "loginguard.connectors.webhook",
		New: func() caddy.Module { return new(WebhookConnector) },
	}
}

// Provision checks the config and builds the sink.
func (w *WebhookConnector) Provision(caddy.Context) error {
	if err := w.checkBase("webhook"); err != nil {
		return err
	}
	where := "connector " + w.Name + " (webhook)"
	enc, err := w.encoder(where)
	if err != nil {
		return err
	}
	if w.URL == "" {
		return fmt.Errorf("%s: url: required", where)
	}
	if _, err := webhook.ParseURL(w.URL); err != nil {
		return fmt.Errorf("%s: url: %w", where, err)
	}
	repl := caddy.NewReplacer()
	secrets := make([]string, 0, len(w.Secrets))
	for i, s := range w.Secrets {
		v := repl.ReplaceAll(s, "")
		if v == "" && !w.IsActive() {
			continue // an inactive connector's unset {env.…} secret
		}
		if _, err := webhook.ParseSecret(v); err != nil {
			return fmt.Errorf("%s: secret %d: %w", where, i+1, err)
		}
		secrets = append(secrets, v)
	}
	headers := make(map[string]string, len(w.Headers))
	for k, v := range w.Headers {
		headers[k] = repl.ReplaceAll(v, "")
	}
	if w.Timeout < 0 {
		return fmt.Errorf("%s: timeout: must be positive", where)
	}
	if w.Batch < 0 || w.Batch > webhook.MaxBatch {
		return fmt.Errorf("%s: batch: want 1 to %d events, got %d", where, webhook.MaxBatch, w.Batch)
	}
	s, err := webhook.New(webhook.Options{URL: w.URL, Secrets: secrets, Headers: headers,
		Timeout: time.Duration(w.Timeout), Encoder: enc, Batch: w.Batch})
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	w.sink = s
	return nil
}

// Deliver implements connectors.Connector.
func (w *WebhookConnector) Deliver(ctx context.Context, batch []event.Event) error {
	if w.sink == nil {
		return errNoConnector
	}
	return w.sink.Deliver(ctx, batch)
}

// Close implements connectors.Connector.
func (w *WebhookConnector) Close() error {
	if w.sink == nil {
		return nil
	}
	return w.sink.Close()
}

// UnmarshalCaddyfile reads, after `connector <name>`:
//
//	webhook <url> {
//	    secret whsec_<base64>        (repeat for rotation)
//	    header <name> <value>
//	    timeout <duration>
//	    batch <events>
//	    active on|off
//	    format json|ecs|ocsf
//	    spool off | spool { dir <path>; max_bytes <size>; max_age <duration> }
//	}
func (w *WebhookConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "webhook"
	if !d.NextArg() {
		return d.Errf("webhook: url: required")
	}
	w.URL = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if ok, err := w.parseBase(d); ok {
			if err != nil {
				return err
			}
			continue
		}
		switch opt := d.Val(); opt {
		case "secret":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			w.Secrets = append(w.Secrets, v)
		case "header":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("webhook header: want <name> <value>")
			}
			if w.Headers == nil {
				w.Headers = map[string]string{}
			}
			w.Headers[args[0]] = args[1]
		case "timeout":
			v, err := durationArg(d)
			if err != nil {
				return err
			}
			w.Timeout = v
		case "batch":
			n, err := intArg(d)
			if err != nil {
				return err
			}
			w.Batch = n
		default:
			return d.Errf("webhook: unknown option %q", opt)
		}
	}
	return nil
}

// Interface guards.
var (
	_ ConnectorModule       = (*WebhookConnector)(nil)
	_ caddy.Provisioner     = (*WebhookConnector)(nil)
	_ caddyfile.Unmarshaler = (*WebhookConnector)(nil)
)
