package caddymodule

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/loginguard/loginguard/gateway"
	"github.com/loginguard/loginguard/policy"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("loginguard", parseHandler)
	httpcaddyfile.RegisterDirectiveOrder("loginguard", httpcaddyfile.Before, "reverse_proxy")
	httpcaddyfile.RegisterGlobalOption("loginguard", parseApp)
}

func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	loginguard [<matcher>] [login|logout|register|password_change|reset_confirm] {
//	    source      portal|manager
//	    portal_id   <id>
//	    realm       <name>
//	    principal   json <pointer>
//	    principal   form <field>
//	    principal   basic
//	    principal   header <name>
//	    principal   xmlrpc [<position>] [<method>=<position>...]
//	    on_ambiguous         refuse|count_all
//	    on_missing_principal refuse|forward
//	    canonical   <preset|step...>
//	    multicall   count|refuse
//	    refusal     own|mimic
//	    password     json <pointer>|form <field>|basic|xmlrpc
//	    new_password json <pointer>|form <field>|basic|xmlrpc
//	    breached     log|off|header <name>|refuse [<status> [<body>]]
//	    aliases {
//	        cookie     <name> [<regexp>]
//	        body       <regexp>
//	        account_id
//	        ttl        <duration>
//	    }
//	    methods     <method...>
//	    rule success|failure [<REASON>] {
//	        status   <code|class|range...>
//	        header   <name> <regexp>
//	        cookie   <name>
//	        location <regexp>
//	        body     <regexp>
//	        json     <pointer> [<regexp>]
//	        reasons {
//	            <value> <REASON>
//	        }
//	    }
//	    account_id     <pointer>
//	    display_name   <pointer>
//	    session_cookie <name>
//	    session_ttl    <duration>
//	    allow          <ip|cidr...>
//	    deny           <ip|cidr...>
//	    rate_limit {
//	        ip      <rate>
//	        account <rate>
//	        route   <rate>
//	        ipv4_prefix <bits>
//	        ipv6_prefix <bits>
//	        sample_interval <duration>
//	    }
//	    mfa_token      [json|form|header] <pointer|field|name>
//	    mfa_ttl        <duration>
//	    uniform
//	    lockout off
//	    lockout {
//	        max_failures     <n>
//	        window           <duration>
//	        duration         <duration>|permanent
//	        backoff          [<max duration>]
//	        count            <REASON...>
//	        response         <status> [<body>]
//	        content_type     <type>
//	        remaining_header [<name>]
//	        slot_ttl         <duration>
//	        admission_wait   <duration>
//	        per_ip_max_failures <n>
//	        known_ips        [<duration>]
//	        ipv4_prefix      <bits>
//	        ipv6_prefix      <bits>
//	        locked_events    <n>|all
//	    }
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		h.Action = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	for d.NextBlock(0) {
		opt := d.Val()
		switch opt {
		case "source", "portal_id", "realm", "account_id", "display_name", "session_cookie", "action", "mode":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			*map[string]*string{
				"source": &h.Source, "portal_id": &h.PortalID, "realm": &h.Realm, "account_id": &h.AccountID,
				"display_name": &h.DisplayName, "session_cookie": &h.SessionCookie, "action": &h.Action, "mode": &h.Mode,
			}[opt] = v
		case "entry":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			e, ok := gateway.ParseEntry(v)
			if !ok {
				return d.Errf("entry: must be web, api, mobile or reset (or 1, 6, 7, 8), got %q", v)
			}
			h.Entry = e
		case "single_session":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.SingleSession = true
		case "session_ttl":
			v, err := durationArg(d)
			if err != nil {
				return err
			}
			h.SessionTTL = v
		case "principal":
			if err := h.parsePrincipal(d); err != nil {
				return err
			}
		case "password", "new_password":
			ps, err := parsePassword(d, opt)
			if err != nil {
				return err
			}
			if opt == "password" {
				h.Password = ps
			} else {
				h.NewPassword = ps
			}
		case "breached":
			b, err := parseBreached(d)
			if err != nil {
				return err
			}
			h.Breached = b
		case "on_ambiguous", "on_missing_principal", "multicall", "refusal":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			*map[string]*string{"on_ambiguous": &h.OnAmbiguous, "on_missing_principal": &h.OnMissingPrincipal, "multicall": &h.Multicall, "refusal": &h.Refusal}[opt] = v
		case "canonical":
			h.Canonical = d.RemainingArgs()
			if _, err := policy.ParseCanonical(h.Canonical); err != nil {
				return d.Errf("canonical: %v", err)
			}
		case "aliases":
			if err := h.parseAliases(d); err != nil {
				return err
			}
		case "methods":
			h.Methods = d.RemainingArgs()
			if len(h.Methods) == 0 {
				return d.ArgErr()
			}
		case "rule":
			r, err := parseRule(d)
			if err != nil {
				return err
			}
			h.Rules = append(h.Rules, r)
		case "lockout":
			if err := h.parseLockout(d); err != nil {
				return err
			}
		case "connectors":
			list, err := parseTargets(d, "connectors")
			if err != nil {
				return err
			}
			h.Connectors = &list
		case "save_to_database":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			if v != "on" && v != "off" {
				return d.Errf("save_to_database: want on or off, got %q", v)
			}
			on := v == "on"
			h.SaveToDatabase = &on
		case "rate_limit":
			if err := h.parseRateLimit(d); err != nil {
				return err
			}
		case "allow", "deny":
			list := d.RemainingArgs()
			if len(list) == 0 {
				return d.Errf("%s: want one or more IPs or CIDRs", opt)
			}
			if opt == "allow" {
				h.Allow = append(h.Allow, list...)
			} else {
				h.Deny = append(h.Deny, list...)
			}
		case "mfa_token":
			if err := h.parseMFAToken(d); err != nil {
				return err
			}
		case "mfa_ttl":
			v, err := durationArg(d)
			if err != nil {
				return err
			}
			h.MFATTL = v
		case "uniform":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.Uniform = true
		default:
			return d.Errf("loginguard: unknown option %q", opt)
		}
	}
	return nil
}

// parseMFAToken reads `mfa_token <pointer>` (a JSON pointer: a login route's
// answer) or `mfa_token json|form|header <value>`.
func (h *Handler) parseMFAToken(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	const want = "mfa_token: want `mfa_token <pointer>`, `mfa_token json <pointer>`, `mfa_token form <field>` or `mfa_token header <name>`"
	if h.MFAToken == nil {
		h.MFAToken = new(policy.PrincipalSpec)
	}
	t := h.MFAToken
	switch {
	case len(args) == 1 && strings.HasPrefix(args[0], "/"):
		t.JSONPointer = args[0]
	case len(args) == 2 && args[0] == "json":
		t.JSONPointer = args[1]
	case len(args) == 2 && args[0] == "form":
		t.FormField = args[1]
	case len(args) == 2 && args[0] == "header":
		t.Header = args[1]
	default:
		return d.Err(want)
	}
	return nil
}

// parsePrincipal reads one `principal` line.
func (h *Handler) parsePrincipal(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	const want = "principal: want `principal json <pointer>`, `principal form <field>`, `principal basic`, `principal header <name>` or `principal xmlrpc [<position>] [<method>=<position>...]`"
	if len(args) == 0 {
		return d.Err(want)
	}
	if h.Principal == nil {
		h.Principal = new(policy.PrincipalSpec)
	}
	ps := h.Principal
	switch args[0] {
	case "json", "form", "header":
		if len(args) != 2 {
			return d.Err(want)
		}
		*map[string]*string{"json": &ps.JSONPointer, "form": &ps.FormField, "header": &ps.Header}[args[0]] = args[1]
	case "basic":
		if len(args) != 1 {
			return d.Err(want)
		}
		ps.Basic = true
	case "xmlrpc":
		x := policy.DefaultXMLRPC()
		for _, a := range args[1:] {
			m, pos, named := strings.Cut(a, "=")
			n, err := strconv.Atoi(pos)
			if !named {
				n, err = strconv.Atoi(a)
			}
			if err != nil || n < 0 {
				return d.Errf("principal xmlrpc: %q: want a parameter position (0 or more) or <method>=<position>", a)
			}
			if named {
				x.Methods[m] = n
			} else {
				x.Param = n
			}
		}
		ps.XMLRPC = x
	default:
		return d.Errf("principal: want json, form, basic, header or xmlrpc, got %q", args[0])
	}
	return nil
}

// parsePassword reads `<opt> json <pointer>`, `<opt> form <field>`,
// `<opt> basic` or `<opt> xmlrpc` (opt: password or new_password).
func parsePassword(d *caddyfile.Dispenser, opt string) (*policy.PasswordSpec, error) {
	args := d.RemainingArgs()
	ps := new(policy.PasswordSpec)
	switch {
	case len(args) == 2 && args[0] == "json":
		ps.JSONPointer = args[1]
	case len(args) == 2 && args[0] == "form":
		ps.FormField = args[1]
	case len(args) == 1 && args[0] == "basic":
		ps.Basic = true
	case len(args) == 1 && args[0] == "xmlrpc":
		ps.XMLRPC = policy.DefaultXMLRPC()
	default:
		return nil, d.Errf("%[1]s: want `%[1]s json <pointer>`, `%[1]s form <field>`, `%[1]s basic` or `%[1]s xmlrpc`", opt)
	}
	return ps, nil
}

// parseBreached reads `breached log|off`, `breached header <name>` or
// `breached refuse [<status> [<body>]]`.
func parseBreached(d *caddyfile.Dispenser) (*gateway.Breached, error) {
	args := d.RemainingArgs()
	const want = "breached: want `breached log`, `breached header <name>`, `breached refuse [<status> [<body>]]` or `breached off`"
	if len(args) == 0 {
		return nil, d.Err(want)
	}
	b := &gateway.Breached{Action: args[0]}
	switch {
	case (args[0] == "log" || args[0] == "off") && len(args) == 1:
	case args[0] == "header" && len(args) == 2:
		b.Header = args[1]
	case args[0] == "refuse" && len(args) <= 3:
		if len(args) > 1 {
			n, err := strconv.Atoi(args[1])
			if err != nil {
				return nil, d.Errf("breached refuse: %q is not an HTTP status", args[1])
			}
			b.Status = n
		}
		if len(args) > 2 {
			b.Body = &args[2]
		}
	default:
		return nil, d.Err(want)
	}
	return b, nil
}

// parseAliases reads an `aliases` block.
func (h *Handler) parseAliases(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	if h.Aliases == nil {
		h.Aliases = new(Aliases)
	}
	al := h.Aliases
	for n := d.Nesting(); d.NextBlock(n); {
		switch opt := d.Val(); opt {
		case "cookie":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.Err("aliases cookie: want `cookie <name> [<regexp>]`")
			}
			al.Cookie = args[0]
			if len(args) == 2 {
				al.CookieRegexp = args[1]
			}
		case "body":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			al.Body = v
		case "account_id":
			if d.NextArg() {
				return d.ArgErr()
			}
			al.AccountID = true
		case "ttl":
			v, err := durationArg(d)
			if err != nil {
				return err
			}
			al.TTL = v
		default:
			return d.Errf("aliases: unknown option %q (want cookie, body, account_id or ttl)", opt)
		}
	}
	return nil
}

func parseRule(d *caddyfile.Dispenser) (policy.Rule, error) {
	var r policy.Rule
	args := d.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return r, d.Errf("rule: want `rule success|failure [<REASON>] { ... }`")
	}
	r.Outcome = args[0]
	if len(args) == 2 {
		r.Reason = args[1]
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "status":
			r.Status = append(r.Status, d.RemainingArgs()...)
			if len(r.Status) == 0 {
				return r, d.ArgErr()
			}
		case "header":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return r, d.Errf("rule header: want `header <name> <regexp>`")
			}
			if r.Header == nil {
				r.Header = map[string]string{}
			}
			r.Header[args[0]] = args[1]
		case "cookie", "location", "body":
			opt := d.Val()
			v, err := oneArg(d)
			if err != nil {
				return r, err
			}
			switch opt {
			case "cookie":
				r.Cookie = v
			case "location":
				r.Location = v
			case "body":
				r.Body = v
			}
		case "json":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return r, d.Errf("rule json: want `json <pointer> [<regexp>]`")
			}
			r.JSON = args[0]
			if len(args) == 2 {
				r.JSONMatch = args[1]
			}
		case "reasons":
			if d.NextArg() {
				return r, d.ArgErr()
			}
			if r.Reasons == nil {
				r.Reasons = map[string]string{}
			}
			for n := d.Nesting(); d.NextBlock(n); {
				value := d.Val()
				reason, err := oneArg(d)
				if err != nil {
					return r, err
				}
				r.Reasons[value] = reason
			}
		default:
			return r, d.Errf("rule: unknown condition %q", d.Val())
		}
	}
	return r, nil
}

func (h *Handler) parseLockout(d *caddyfile.Dispenser) error {
	if h.Lockout == nil {
		h.Lockout = new(Lockout)
	}
	l := h.Lockout
	if d.NextArg() {
		if d.Val() != "off" || d.NextArg() {
			return d.Errf("lockout: want `lockout off` or a block")
		}
		l.Off = true
		return nil
	}
	for n := d.Nesting(); d.NextBlock(n); {
		opt := d.Val()
		switch opt {
		case "max_failures", "per_ip_max_failures", "ipv4_prefix", "ipv6_prefix":
			v, err := intArg(d)
			if err != nil {
				return err
			}
			*map[string]*int{
				"max_failures": &l.MaxFailures, "per_ip_max_failures": &l.PerIPMaxFailures,
				"ipv4_prefix": &l.IPv4Prefix, "ipv6_prefix": &l.IPv6Prefix,
			}[opt] = v
		case "known_ips":
			l.KnownIPs = caddy.Duration(30 * 24 * time.Hour)
			if d.NextArg() {
				v, err := caddy.ParseDuration(d.Val())
				if err != nil || v <= 0 {
					return d.Errf("lockout known_ips: want a positive duration like 30d, got %q", d.Val())
				}
				l.KnownIPs = caddy.Duration(v)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		case "locked_events":
			v, err := parseLockedEvents(d)
			if err != nil {
				return err
			}
			l.LockedEvents = v
		case "window", "slot_ttl", "admission_wait":
			v, err := durationArg(d)
			if err != nil {
				return err
			}
			*map[string]*caddy.Duration{"window": &l.Window, "slot_ttl": &l.SlotTTL, "admission_wait": &l.AdmissionWait}[opt] = v
		case "duration":
			if !d.NextArg() {
				return d.ArgErr()
			}
			if d.Val() == "permanent" {
				l.Permanent = true
			} else {
				v, err := caddy.ParseDuration(d.Val())
				if err != nil {
					return d.Errf("lockout duration: %v", err)
				}
				l.Duration = caddy.Duration(v)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		case "backoff":
			l.Backoff = true
			if d.NextArg() {
				v, err := caddy.ParseDuration(d.Val())
				if err != nil {
					return d.Errf("lockout backoff: %v", err)
				}
				l.MaxDuration = caddy.Duration(v)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		case "count":
			l.Count = d.RemainingArgs()
			if len(l.Count) == 0 {
				return d.ArgErr()
			}
		case "response":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.Errf("lockout response: want `response <status> [<body>]`")
			}
			st, err := strconv.Atoi(args[0])
			if err != nil {
				return d.Errf("lockout response: status %q is not a number", args[0])
			}
			l.Status = st
			if len(args) == 2 {
				body := args[1]
				l.Body = &body
			}
		case "content_type":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			l.ContentType = v
		case "remaining_header":
			l.RemainingHeader = "X-Remaining-Attempts"
			if d.NextArg() {
				l.RemainingHeader = d.Val()
			}
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("lockout: unknown option %q", opt)
		}
	}
	return nil
}

// parseLockedEvents reads `locked_events <n>|all`.
func parseLockedEvents(d *caddyfile.Dispenser) (gateway.LockedEvents, error) {
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return 0, d.ArgErr()
	}
	if v == "all" {
		return gateway.LockedEventsAll, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, d.Errf("lockout locked_events: want a number ≥ 1 or `all`, got %q", v)
	}
	return gateway.LockedEvents(n), nil
}

// parseApp sets up the loginguard app from the global option:
//
//	loginguard {
//	    state memory [{ max_accounts <n>; max_sessions <n> }]
//	    state redis <url> [{ prefix <p>; dial_timeout <d>; read_timeout <d>; pool_size <n> }]
//	    state <url>
//	    on_state_error fail_open|fail_closed
//	    store sqlite [<path>]
//	    store postgres <dsn> [{ schema <name> }]
//	    store off
//	    retention <duration>
//	    retention_interval <duration>
//	    store_spool off | store_spool { dir <path>; max_bytes <size>; max_age <duration> }
//	    connector <name> <type> [<args>] [{ ... }]   (connector_base.go)
//	    sink file <path> [{ fsync }]   (deprecated: connector <name> file)
//	    sink log [<level>]             (deprecated: connector <name> log)
//	    queue_size     <n>
//	    flush_interval <duration>
//	}
func parseApp(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	d.Next() // "loginguard"
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		opt := d.Val()
		switch opt {
		case "state", "store":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			name := d.Val()
			if opt == "store" && name == "off" {
				if d.NextArg() {
					return nil, d.ArgErr()
				}
				app.NoStore = true
				continue
			}
			if opt == "state" && strings.Contains(name, "://") {
				// state <url>: Redis at that URL.
				if d.NextArg() || d.NextBlock(d.Nesting()) {
					return nil, d.Errf("state <url> takes no more arguments; use `state redis <url> { ... }` for options")
				}
				app.StateRaw = caddyconfig.JSONModuleObject(&RedisState{URL: name}, "backend", "redis", nil)
				continue
			}
			// namespace and inline key of each kind of module
			nk := map[string][2]string{
				"state": {"loginguard.state", "backend"},
				"store": {"loginguard.stores", "driver"},
			}[opt]
			mod, err := caddyfile.UnmarshalModule(d, nk[0]+"."+name)
			if err != nil {
				return nil, err
			}
			raw := caddyconfig.JSONModuleObject(mod, nk[1], name, nil)
			if opt == "state" {
				app.StateRaw = raw
			} else {
				app.StoreRaw = raw
			}
		case "sink":
			raw, err := parseSink(d)
			if err != nil {
				return nil, err
			}
			app.SinksRaw = append(app.SinksRaw, raw)
		case "connector":
			raw, err := parseConnector(d)
			if err != nil {
				return nil, err
			}
			app.ConnectorsRaw = append(app.ConnectorsRaw, raw)
		case "store_spool":
			app.StoreSpool = new(SpoolConfig)
			if err := app.StoreSpool.unmarshal(d, "store_spool"); err != nil {
				return nil, err
			}
		case "on_state_error", "mode":
			v, err := oneArg(d)
			if err != nil {
				return nil, err
			}
			if opt == "mode" {
				app.Mode = v
			} else {
				app.OnStateError = v
			}
		case "queue_size":
			v, err := intArg(d)
			if err != nil {
				return nil, err
			}
			app.QueueSize = v
		case "retention", "retention_interval":
			v, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			if opt == "retention" {
				app.Retention = v
			} else {
				app.RetentionInterval = v
			}
		case "flush_interval":
			v, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			app.FlushInterval = v
		case "geo_alerts":
			g, err := parseGeoAlerts(d)
			if err != nil {
				return nil, err
			}
			app.GeoAlerts = g
		case "pwned":
			p, err := parsePwned(d)
			if err != nil {
				return nil, err
			}
			app.PwnedPasswords = p
		case "enrich":
			e, err := parseEnrich(d)
			if err != nil {
				return nil, err
			}
			app.Enrich = e
		case "alerts":
			al, err := parseAlerts(d)
			if err != nil {
				return nil, err
			}
			app.Alerts = al
		case "telemetry":
			t, err := parseTelemetry(d)
			if err != nil {
				return nil, err
			}
			app.Telemetry = t
		default:
			return nil, d.Errf("loginguard: unknown global option %q", opt)
		}
	}
	return httpcaddyfile.App{Name: "loginguard", Value: caddyconfig.JSON(app, nil)}, nil
}

func oneArg(d *caddyfile.Dispenser) (string, error) {
	name := d.Val()
	if !d.NextArg() {
		return "", d.Errf("%s: missing value", name)
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.Errf("%s: want one value, got more", name)
	}
	return v, nil
}

// parseTargets reads the rest of a `connectors <name...>|none` line: the
// connector names, or an empty list for none.
func parseTargets(d *caddyfile.Dispenser, field string) ([]string, error) {
	names := d.RemainingArgs()
	switch {
	case len(names) == 0:
		return nil, d.Errf("%s: want one or more connector names, or none", field)
	case len(names) == 1 && names[0] == "none":
		return []string{}, nil
	}
	for i, n := range names {
		if n == "none" {
			return nil, d.Errf("%s: none stands alone: it means no connector", field)
		}
		if slices.Contains(names[:i], n) {
			return nil, d.Errf("%s: %s named twice", field, n)
		}
	}
	return names, nil
}

func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil || dur <= 0 {
		return 0, d.Errf("%s: want a positive duration like 15m, got %q", name, v)
	}
	return caddy.Duration(dur), nil
}

var (
	_ caddyfile.Unmarshaler = (*Handler)(nil)
)
