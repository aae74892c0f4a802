package caddymodule

import (
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/elasticsearch"
)

func init() {
	caddy.RegisterModule(new(ElasticsearchConnector))
}

// ElasticsearchConnector indexes every event with the bulk API
// (connectors/elasticsearch).
type ElasticsearchConnector struct {
	ConnectorBase
	// URL of the cluster. Required.
	URL string `json:"url,omitempty"`
	// Index: a data stream, or an index name with {yyyy}, {MM}, {dd}.
	// Required.
	Index string `json:"index,omitempty"`
	// APIKey (base64 id:key), or Username and Password; placeholders are
	// replaced at load time. Default: none.
	APIKey   string `json:"api_key,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// TLS configures an https URL. Default: the system's roots.
	TLS *TLSConfig `json:"tls,omitempty"`
	// CAFile is the same as tls.ca. Default: none.
	CAFile string `json:"ca_file,omitempty"`
	// Timeout of one bulk request. Default: 30s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*ElasticsearchConnector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.connectors.elasticsearch", New: func() caddy.Module { return new(ElasticsearchConnector) }}
}

// Provision fills the defaults (format ecs) and checks the config.
func (c *ElasticsearchConnector) Provision(caddy.Context) error {
	if c.Format == "" {
		c.Format = "ecs"
	}
	if c.Timeout == 0 {
		c.Timeout = caddy.Duration(30 * time.Second)
	}
	c.TLS = c.TLS.withCA(c.CAFile)
	return c.check("elasticsearch")
}

// Build makes the connector; it connects at the first delivery.
func (c *ElasticsearchConnector) Build(caddy.Context) (connectors.Connector, error) {
	repl := caddy.NewReplacer()
	o := elasticsearch.Options{URL: c.URL, Index: c.Index, APIKey: repl.ReplaceAll(c.APIKey, ""),
		Username: repl.ReplaceAll(c.Username, ""), Password: repl.ReplaceAll(c.Password, ""), Encoder: c.encoder(), Timeout: time.Duration(c.Timeout)}
	cfg, err := c.TLS.build()
	if err != nil {
		return nil, c.errf("tls: %w", err)
	}
	if cfg != nil {
		o.Client = &http.Client{Timeout: o.Timeout, Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment}}
	}
	return c.made(elasticsearch.New(o))
}

// UnmarshalCaddyfile reads, after `connector <name>`:
//
//	elasticsearch <url> {
//	    index <name>
//	    api_key <key>
//	    username <name>
//	    password <password>
//	    tls [{ ca <pem>; cert <pem>; key <pem>; server_name <name> }]
//	    ca_file <pem>
//	    timeout <duration>
//	}
func (c *ElasticsearchConnector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if err := parseHead(d, "elasticsearch <url>", 1, &c.URL); err != nil {
		return err
	}
	return c.parseBlock(d, "elasticsearch", map[string]option{
		"index": text(&c.Index), "api_key": text(&c.APIKey), "username": text(&c.Username), "password": text(&c.Password),
		"tls": tlsBlock(&c.TLS), "ca_file": text(&c.CAFile), "timeout": duration(&c.Timeout),
	})
}

// Interface guard.
var _ ConnectorModule = (*ElasticsearchConnector)(nil)
