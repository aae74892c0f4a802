package caddymodule

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/spf13/cobra"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/admin/cli"
)

func init() {
	caddy.RegisterModule(new(AdminHandler))
	httpcaddyfile.RegisterHandlerDirective("loginguard_admin", parseAdminHandler)
	httpcaddyfile.RegisterDirectiveOrder("loginguard_admin", httpcaddyfile.Before, "reverse_proxy")
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "loginguard",
		Usage: "<logs|stats|users|suspicious|lockouts|lock|unlock|block|unblock|export|connectors|erase> [flags]",
		Short: "Searches login logs and manages lockouts through the loginguard admin API",
		Long: `Talks to the loginguard admin API (the loginguard_admin handler). The URL and token come
from --url and --token or from LOGINGUARD_ADMIN_URL (default http://localhost:8081) and
LOGINGUARD_ADMIN_TOKEN. Run "caddy loginguard help" for the subcommands and their flags.
Exit codes: 0 ok, 1 API error, 2 usage error, 3 not authorised, 4 not found.`,
		CobraFunc: func(c *cobra.Command) {
			c.DisableFlagParsing = true
			c.RunE = func(_ *cobra.Command, args []string) error {
				if code := cli.Run(args, os.Getenv, os.Stdout, os.Stderr); code != 0 {
					os.Exit(code)
				}
				return nil
			}
		},
	})
}

// AdminHandler serves loginguard's admin API (login log search, statistics,
// users, suspicious activity, lockouts, privacy operations) at the root of
// where it is mounted. Serve it on a site of its own, bound to a private
// address, never next to the portal on the public internet.
type AdminHandler struct {
	// Tokens that may call the API, each with its scope: "read" (every GET)
	// or "admin" (also lock, unlock, block, unblock, erase). Placeholders such
	// as {env.LOGINGUARD_ADMIN_TOKEN} are replaced; a read token that is empty
	// after that is ignored, an empty admin token is an error. At least one
	// admin token is required. Tokens are kept as SHA-256 hashes only.
	Tokens []AdminToken `json:"tokens,omitempty"`

	// WideBlock gives the widest IP blocks an admin may make without
	// "force": true, as prefix lengths for IPv4 and IPv6 (a shorter prefix is
	// a wider range). Default: [16, 48].
	WideBlock []int `json:"wide_block,omitempty"`

	handler http.Handler
}

// AdminToken is one bearer token of the admin API.
type AdminToken struct {
	// Token is the bearer token.
	Token string `json:"token"`
	// Scope is "read" or "admin".
	Scope string `json:"scope"`
	// Name names the token in audit messages. Default: a prefix of its hash.
	Name string `json:"name,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*AdminHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.loginguard_admin",
		New: func() caddy.Module { return new(AdminHandler) },
	}
}

// tokenHint says how to set the token a config reads: the environment variable
// its {env.NAME} placeholder names, else LOGINGUARD_ADMIN_TOKEN.
func tokenHint(raw string) string {
	if name, ok := strings.CutPrefix(strings.TrimSpace(raw), "{env."); ok && strings.HasSuffix(name, "}") {
		name = strings.TrimSuffix(name, "}")
		return "set " + name + " (the variable this config reads) to a long random secret, e.g. export " + name + "=$(head -c 32 /dev/urandom | base64)"
	}
	return adminTokenHint
}

const adminTokenHint = "set LOGINGUARD_ADMIN_TOKEN to a long random secret, e.g. export LOGINGUARD_ADMIN_TOKEN=$(head -c 32 /dev/urandom | base64)"

// Provision builds the API over the loginguard app.
func (ah *AdminHandler) Provision(ctx caddy.Context) error {
	appIface, err := ctx.App("loginguard")
	if err != nil {
		return fmt.Errorf("loading loginguard app: %w", err)
	}
	app := appIface.(*App)
	if app.LogStore() == nil {
		return fmt.Errorf("loginguard_admin: the login log store is off (store off): the admin API needs it")
	}
	repl := caddy.NewReplacer()
	var tokens []admin.Token
	admins := 0
	for i, t := range ah.Tokens {
		value := repl.ReplaceKnown(t.Token, "")
		scope, err := admin.ParseScope(t.Scope)
		if err != nil {
			return fmt.Errorf("tokens[%d].scope: %w", i, err)
		}
		if value == "" {
			if scope == admin.ScopeAdmin {
				return fmt.Errorf("tokens[%d]: the admin token is empty: %s", i, tokenHint(t.Token))
			}
			continue
		}
		if scope == admin.ScopeAdmin {
			admins++
		}
		tokens = append(tokens, admin.Token{Hash: admin.HashToken(value), Scope: scope, Name: t.Name})
	}
	if admins == 0 {
		return fmt.Errorf("tokens: no admin token: %s", adminTokenHint)
	}
	var v4, v6 int
	switch len(ah.WideBlock) {
	case 0:
	case 2:
		v4, v6 = ah.WideBlock[0], ah.WideBlock[1]
		if v4 < 0 || v4 > 32 || v6 < 0 || v6 > 128 {
			return fmt.Errorf("wide_block: want an IPv4 prefix length (0-32) and an IPv6 one (0-128), got %v", ah.WideBlock)
		}
	default:
		return fmt.Errorf("wide_block: want two prefix lengths (IPv4, IPv6), got %v", ah.WideBlock)
	}
	h, err := admin.New(admin.Options{
		WideBlockV4: v4,
		WideBlockV6: v6,
		Store:       app.LogStore(),
		Lockouts:    app.lockouts(),
		Connectors:  app.ConnectorStats,
		Emit:        app.Emit,
		Tokens:      tokens,
		Logger:      ctx.Slogger(),
	})
	if err != nil {
		return fmt.Errorf("loginguard_admin: %w", err)
	}
	ah.handler = h
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler; the API answers every request.
func (ah *AdminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	ah.handler.ServeHTTP(w, r)
	return nil
}

func parseAdminHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	ah := new(AdminHandler)
	return ah, ah.UnmarshalCaddyfile(h.Dispenser)
}

// UnmarshalCaddyfile sets up the admin API from Caddyfile tokens:
//
//	loginguard_admin [<matcher>] {
//	    admin_token <token> [<name>]
//	    read_token  [<token> [<name>]]
//	}
//
// An admin_token without a value (an unset environment variable) is an error
// saying how to set it; a read_token without one is ignored.
func (ah *AdminHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		opt := d.Val()
		if opt == "wide_block" {
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Err("wide_block: want `wide_block <ipv4 prefix length> <ipv6 prefix length>`, e.g. 16 48")
			}
			ah.WideBlock = nil
			for _, a := range args {
				n, err := strconv.Atoi(strings.TrimPrefix(a, "/"))
				if err != nil {
					return d.Errf("wide_block: %q is not a prefix length", a)
				}
				ah.WideBlock = append(ah.WideBlock, n)
			}
			continue
		}
		scope := map[string]string{"admin_token": "admin", "read_token": "read"}[opt]
		if scope == "" {
			return d.Errf("loginguard_admin: unknown option %q", opt)
		}
		args := d.RemainingArgs()
		switch {
		case len(args) == 0 && scope == "admin":
			return d.Errf("admin_token: no token given: %s", adminTokenHint)
		case len(args) == 0:
			continue
		case len(args) > 2:
			return d.Errf("%s: want <token> [<name>]", opt)
		}
		t := AdminToken{Token: args[0], Scope: scope}
		if len(args) == 2 {
			t.Name = args[1]
		}
		ah.Tokens = append(ah.Tokens, t)
	}
	return nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*AdminHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*AdminHandler)(nil)
	_ caddyfile.Unmarshaler       = (*AdminHandler)(nil)
)
