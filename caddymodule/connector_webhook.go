package caddymodule

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/webhook"
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
	// Batch is the most events in one request (1 to 1000): 1 posts every
	// event alone (Standard Webhooks' one message per event); more posts them
	// as JSON arrays of up to Batch events, under a batch id. Default: 1.
	Batch int `json:"batch,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*WebhookConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.webhook", New: func() caddy.Module { return new(WebhookConnector) }}
}

// Provision checks the config.
func (c *WebhookConnector) Provision(caddy.Context) error {
	if err := c.check("webhook"); err != nil {
		return err
	}
	if c.URL == "" {
		return c.errf("url: required")
	}
	if _, err := webhook.ParseURL(c.URL); err != nil {
		return c.errf("url: %w", err)
	}
	if c.Timeout < 0 {
		return c.errf("timeout: must be positive")
	}
	if c.Batch < 0 || c.Batch > webhook.MaxBatch {
		return c.errf("batch: want 1 to %d events, got %d", webhook.MaxBatch, c.Batch)
	}
	return nil
}

// Build replaces the placeholders of the secrets and headers and makes the
// connector.
func (c *WebhookConnector) Build(caddy.Context) (connectors.Connector, error) {
	repl := caddy.NewReplacer()
	secrets := make([]string, len(c.Secrets))
	for i, s := range c.Secrets {
		secrets[i] = repl.ReplaceAll(s, "")
		if _, err := webhook.ParseSecret(secrets[i]); err != nil {
			return nil, c.errf("secret %d: %w", i+1, err)
		}
	}
	headers := make(map[string]string, len(c.Headers))
	for k, v := range c.Headers {
		headers[k] = repl.ReplaceAll(v, "")
	}
	return c.made(webhook.New(webhook.Options{URL: c.URL, Secrets: secrets, Headers: headers,
		Timeout: time.Duration(c.Timeout), Encoder: c.encoder(), Batch: c.Batch}))
}

// UnmarshalCaddyfile reads, after `connector <name>`:
//
//	webhook <url> {
//	    secret whsec_<base64>        (repeat for rotation)
//	    header <name> <value>
//	    timeout <duration>
//	    batch <events>
//	}
func (c *WebhookConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := parseHead(d, "webhook <url>", 1, &c.URL); err != nil {
		return err
	}
	return c.parseBlock(d, "webhook", map[string]option{
		"secret": texts(&c.Secrets), "timeout": duration(&c.Timeout), "batch": integer(&c.Batch),
		"header": func(d *caddyfile.Dispenser) error {
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("header: want <name> <value>")
			}
			if c.Headers == nil {
				c.Headers = map[string]string{}
			}
			c.Headers[args[0]] = args[1]
			return nil
		},
	})
}

// Interface guard.
var _ ConnectorModule = (*WebhookConnector)(nil)
