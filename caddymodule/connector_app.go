package caddymodule

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// checkName checks a connector's name; the error names the field.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("name: required")
	case name == "none":
		return errors.New("name: none is reserved (`connectors none` means no connector)")
	case !nameRE.MatchString(name):
		return errors.New("name: want letters, digits, '.', '_' or '-' (at most 64)")
	}
	return nil
}

// provisionConnectors loads the connector modules, builds the active ones and
// opens their spools. It returns every output to deliver to: the active
// connectors and the deprecated sinks (the app's `sinks`, connector modules
// too). It records the connectors' names, active or not, in a.connNames, the
// names a route's or the alerts' `connectors` may choose; a sink's name
// ("file#0", unless its config gives one) is not among them, so a sink gets
// every event whatever the routes choose, as sinks always did.
func (a *App) provisionConnectors(ctx caddy.Context) ([]connectors.Named, error) {
	a.connNames = map[string]bool{}
	sinks, err := ctx.LoadModule(a, "SinksRaw")
	if err != nil {
		return nil, fmt.Errorf("loading sinks: %w", err)
	}
	conns, err := ctx.LoadModule(a, "ConnectorsRaw")
	if err != nil {
		return nil, fmt.Errorf("loading connectors: %w", err)
	}
	var mods []ConnectorModule
	for i, m := range sinks.([]any) {
		c := m.(ConnectorModule)
		b := c.base()
		if b.Name == "" {
			b.Name = fmt.Sprintf("%s#%d", b.kind, i)
		}
		ctx.Slogger().Warn("the loginguard app's `sinks` are deprecated: make each a named connector, which routes' `connectors` may choose (a sink gets every event)",
			"sink", b.Name, "json", fmt.Sprintf(`"connectors": [{"connector": %q, "name": "<name>", ...}]`, b.kind),
			"caddyfile", fmt.Sprintf("connector <name> %s ...", b.kind))
		mods = append(mods, c)
	}
	for _, m := range conns.([]any) {
		c := m.(ConnectorModule)
		b := c.base()
		if err := checkName(b.Name); err != nil {
			return nil, b.errf("%w", err)
		}
		if a.connNames[b.Name] {
			return nil, fmt.Errorf("connector %s: name: used by two connectors", b.Name)
		}
		a.connNames[b.Name] = true
		mods = append(mods, c)
	}
	var named []connectors.Named
	fail := func(err error) ([]connectors.Named, error) {
		for _, n := range named {
			n.Connector.Close()
			if n.Spool != nil {
				n.Spool.Close()
			}
		}
		return nil, err
	}
	for _, c := range mods {
		b := c.base()
		if !b.IsActive() {
			continue
		}
		conn, err := c.Build(ctx)
		if err != nil {
			return fail(err)
		}
		sp, err := b.openSpool()
		if err != nil {
			conn.Close()
			return fail(err)
		}
		named = append(named, connectors.Named{Name: b.Name, Connector: conn, Spool: sp})
	}
	return named, nil
}

// parseConnector reads, at the dispenser's `connector` token of the global
// option, `connector <name> <type> [<args>] [{ ... }]` (see connector_base.go)
// and returns the module's JSON, with "connector": <type> and "name": <name>.
func parseConnector(d *caddyfile.Dispenser) ([]byte, error) {
	if !d.NextArg() {
		return nil, d.Errf("connector: want `connector <name> <type>`")
	}
	name := d.Val()
	if err := checkName(name); err != nil {
		return nil, d.Errf("connector %s: %v", name, err)
	}
	if !d.NextArg() {
		return nil, d.Errf("connector %s: want a type (kafka, webhook, file, ...) after the name", name)
	}
	typ := d.Val()
	mod, err := unmarshalConnector(d, typ)
	if err != nil {
		return nil, fmt.Errorf("connector %s: %w", name, err)
	}
	mod.base().Name = name
	return caddyconfig.JSONModuleObject(mod, "connector", typ, nil), nil
}

// unmarshalConnector reads the connector module of type typ from `<type>
// [<args>] [{ ... }]` at the dispenser.
func unmarshalConnector(d *caddyfile.Dispenser, typ string) (ConnectorModule, error) {
	mod, err := caddyfile.UnmarshalModule(d, "loginguard.connectors."+typ)
	if err != nil {
		return nil, err
	}
	cm, ok := mod.(ConnectorModule)
	if !ok {
		return nil, d.Errf("%s is not a connector", typ)
	}
	return cm, nil
}

// parseSink reads the deprecated `sink file <path> [{ fsync }]` and `sink log
// [<level>]` at the dispenser's `sink` token, warns with the connector that
// replaces it, and returns the sink's JSON as it always was.
func parseSink(d *caddyfile.Dispenser) ([]byte, error) {
	file, line := d.File(), d.Line()
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	typ := d.Val()
	if typ != "file" && typ != "log" {
		return nil, d.Errf("sink: want file or log, got %q (other outputs are `connector <name> <type>`)", typ)
	}
	mod, err := unmarshalConnector(d, typ)
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	var now string
	switch m := mod.(type) {
	case *FileConnector:
		now = "connector events file " + m.Path
		if m.Fsync {
			now += " { fsync }"
		}
	case *LogConnector:
		now = "connector log log " + m.Level
	}
	adaptWarn(caddyconfig.Warning{File: file, Line: line, Directive: "loginguard",
		Message: fmt.Sprintf("`sink %s` is deprecated: write `%s` (a connector gets the events of every route without a `connectors` list and of the routes whose list names it; a sink gets every event)", typ, now)})
	return caddyconfig.JSONModuleObject(mod, "sink", typ, nil), nil
}

// adaptWarn reports a Caddyfile adapt warning. Caddy gives a global option no
// way to return one to the Caddyfile adapter, so it is logged as `caddy adapt`
// and `caddy run` log the adapter's warnings.
var adaptWarn = func(w caddyconfig.Warning) {
	caddy.Log().Named("caddyfile").Sugar().Warnw(w.Directive+": "+w.Message, "file", w.File, "line", w.Line)
}
