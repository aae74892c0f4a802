package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
	redisstore "github.com/ulule/limiter/v3/drivers/store/redis"
)

// Default prefix lengths of Options.
const (
	DefaultIPv4Prefix = 32
	DefaultIPv6Prefix = 64
)

// Scopes of Decision.Scope.
const (
	ScopeIP      = "ip"
	ScopeAccount = "account"
	ScopeRoute   = "route"
	ScopeDeny    = "deny"
	ScopeAllow   = "allow"
)

// maxRawAccount is the longest account name used as is in a key; longer
// names (and names with control characters) are hashed.
const maxRawAccount = 64

// ErrUnavailable wraps the errors of a rate-limit store that cannot be reached
// or did not answer in time.
var ErrUnavailable = errors.New("rate limit store unavailable")

// Options configure a Limiter. The zero value limits nothing and lists
// nothing.
type Options struct {
	// IP is the rate per client IP prefix in ulule/limiter's format:
	// "<limit>-<S|M|H|D>", e.g. "20-M" for 20 attempts a minute. Empty: no
	// IP limit.
	IP string
	// Account is the rate per account (the account name as the caller gives
	// it). Empty: no account limit.
	Account string
	// Route is the rate of all attempts on the route together. Empty: no
	// route limit.
	Route string
	// IPv4Prefix is the prefix length that groups IPv4 clients under one IP
	// limit. Default: 32 (each address on its own). Range 1 to 32.
	IPv4Prefix int
	// IPv6Prefix is the prefix length that groups IPv6 clients under one IP
	// limit. Default: 64 (a customer's network). Range 1 to 128.
	IPv6Prefix int
	// Allow lists CIDRs or single IPs that skip the rate limits. Default:
	// none.
	Allow []string
	// Deny lists CIDRs or single IPs that are refused outright. It is checked
	// before Allow. Default: none.
	Deny []string
	// Redis holds the counters when set, shared by every Limiter (and every
	// Caddy instance) with the same Prefix. Nil: counters in this process's
	// memory. The caller owns the client and closes it.
	Redis redis.UniversalClient
	// Prefix starts every counter's key, e.g. "loginguard:rl:<route id>:".
	// Default: "loginguard:rl:".
	Prefix string
}

// DefaultPrefix is the default of Options.Prefix.
const DefaultPrefix = "loginguard:rl:"

// Verdict is what Check decided.
type Verdict int

// Verdicts. The zero Verdict is none of them.
const (
	// Allowed: the attempt may go on; it was counted.
	Allowed Verdict = iota + 1
	// Limited: a rate limit is exceeded; refuse with 429.
	Limited
	// Denied: the client is on the deny list; refuse with 403.
	Denied
	// Skipped: the client is on the allow list; no limit was counted.
	Skipped
)

// String returns the verdict's name in lower case.
func (v Verdict) String() string {
	switch v {
	case Allowed:
		return "allowed"
	case Limited:
		return "limited"
	case Denied:
		return "denied"
	case Skipped:
		return "skipped"
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// Decision is the answer to Check.
type Decision struct {
	// Verdict says what to do with the attempt.
	Verdict Verdict
	// Scope names what decided: for Limited the exceeded limit ("ip",
	// "account" or "route"); for Allowed the tightest limit (the one with
	// the fewest attempts remaining), or "" when no limit is configured; for
	// Denied and Skipped "deny" and "allow".
	Scope string
	// Key names the scope and its subject: "ip:<prefix>", "account:<name>",
	// "route:", "deny:<prefix>", "allow:<prefix>". It is the key to sample
	// events by (see Sampler) and never holds more than about 80 bytes.
	Key string
	// Limit, Remaining and Reset describe the limit named by Scope, for the
	// X-RateLimit-* headers. Reset is when its window ends, rounded up to the
	// whole second. All zero when no limit was counted.
	Limit, Remaining int64
	Reset            time.Time
}

// Limiter checks login attempts against the lists and the limits of one
// route. It is safe for concurrent use and holds nothing to close; the memory
// counters' cleaner goroutine stops when the Limiter is garbage collected.
type Limiter struct {
	v4, v6      int
	allow, deny []netip.Prefix
	limits      []scopeLimit // in the order they are checked
}

// scopeLimit is one configured limit.
type scopeLimit struct {
	scope string
	lim   *limiter.Limiter
}

// New checks o and returns its Limiter. It does not contact Redis: a Redis
// that is down makes Check fail, not New. Errors name the option at fault.
func New(o Options) (*Limiter, error) {
	l := &Limiter{v4: o.IPv4Prefix, v6: o.IPv6Prefix}
	if l.v4 == 0 {
		l.v4 = DefaultIPv4Prefix
	}
	if l.v6 == 0 {
		l.v6 = DefaultIPv6Prefix
	}
	if l.v4 < 1 || l.v4 > 32 {
		return nil, fmt.Errorf("ipv4 prefix: %d is not between 1 and 32", o.IPv4Prefix)
	}
	if l.v6 < 1 || l.v6 > 128 {
		return nil, fmt.Errorf("ipv6 prefix: %d is not between 1 and 128", o.IPv6Prefix)
	}
	var err error
	if l.deny, err = parseList("deny", o.Deny); err != nil {
		return nil, err
	}
	if l.allow, err = parseList("allow", o.Allow); err != nil {
		return nil, err
	}
	rates := []struct{ scope, format string }{
		{ScopeIP, o.IP}, {ScopeAccount, o.Account}, {ScopeRoute, o.Route},
	}
	parsed := make([]limiter.Rate, len(rates))
	for i, r := range rates {
		if r.format == "" {
			continue
		}
		if parsed[i], err = parseRate(r.format); err != nil {
			return nil, fmt.Errorf("%s: %w", r.scope, err)
		}
	}
	prefix := o.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	for i, r := range rates {
		if r.format == "" {
			continue
		}
		// ulule joins its store prefix and the key with ":".
		so := limiter.StoreOptions{Prefix: prefix + r.scope, CleanUpInterval: limiter.DefaultCleanUpInterval}
		var store limiter.Store
		if o.Redis == nil {
			store = memory.NewStoreWithOptions(so)
		} else {
			// The wrapper's SCRIPT LOAD does not touch the network, so this
			// neither blocks nor fails when Redis is down.
			store, err = redisstore.NewStoreWithOptions(newScriptClient(o.Redis), so)
			if err != nil {
				return nil, fmt.Errorf("%s: redis store: %w", r.scope, err)
			}
		}
		l.limits = append(l.limits, scopeLimit{scope: r.scope, lim: limiter.New(store, parsed[i])})
	}
	return l, nil
}

// parseRate parses a rate in ulule/limiter's format and insists on a positive
// limit.
func parseRate(format string) (limiter.Rate, error) {
	bad := func() (limiter.Rate, error) {
		return limiter.Rate{}, fmt.Errorf("invalid rate %q: want <limit>-<S|M|H|D> with a positive limit, e.g. \"20-M\"", format)
	}
	r, err := limiter.NewRateFromFormatted(format)
	if err != nil || r.Limit < 1 {
		return bad()
	}
	return r, nil
}

// Check decides about one attempt from ip on account (empty: no account, the
// account limit is skipped). It returns an error, and no decision, when ip is
// not valid or when the counters cannot be reached (wrapping ErrUnavailable);
// the caller then fails open or closed.
func (l *Limiter) Check(ctx context.Context, ip netip.Addr, account string) (Decision, error) {
	if !ip.IsValid() {
		return Decision{}, errors.New("ratelimit: invalid client IP")
	}
	ip = ip.Unmap().WithZone("")
	if contains(l.deny, ip) {
		return Decision{Verdict: Denied, Scope: ScopeDeny, Key: ScopeDeny + ":" + PrefixOf(ip, l.v4, l.v6).String()}, nil
	}
	if contains(l.allow, ip) {
		return Decision{Verdict: Skipped, Scope: ScopeAllow, Key: ScopeAllow + ":" + PrefixOf(ip, l.v4, l.v6).String()}, nil
	}
	d := Decision{Verdict: Allowed}
	var subject, dsubject string
	for _, sl := range l.limits {
		switch sl.scope {
		case ScopeIP:
			subject = PrefixOf(ip, l.v4, l.v6).String()
		case ScopeAccount:
			if account == "" {
				continue
			}
			subject = accountKey(account)
		case ScopeRoute:
			subject = ""
		}
		c, err := sl.lim.Get(ctx, subject)
		if err != nil {
			return Decision{}, fmt.Errorf("ratelimit: %s limit: %w: %w", sl.scope, ErrUnavailable, err)
		}
		cur := Decision{
			Verdict:   Allowed,
			Scope:     sl.scope,
			Limit:     c.Limit,
			Remaining: c.Remaining,
			// ulule truncates the window's end to the second.
			Reset: time.Unix(c.Reset+1, 0),
		}
		if c.Reached {
			cur.Verdict = Limited
			cur.Remaining = 0
			cur.Key = sl.scope + ":" + subject
			return cur, nil
		}
		if d.Scope == "" || cur.Remaining < d.Remaining ||
			(cur.Remaining == d.Remaining && cur.Limit < d.Limit) {
			d, dsubject = cur, subject
		}
	}
	if d.Scope != "" {
		d.Key = d.Scope + ":" + dsubject
	}
	return d, nil
}

// accountKey returns the account as it appears in a key: as is when short and
// printable, else "sha256:" and its hex digest (longer than any name used as
// is, so the two forms cannot collide).
func accountKey(account string) string {
	if len(account) <= maxRawAccount && utf8.ValidString(account) &&
		strings.IndexFunc(account, unicode.IsControl) < 0 {
		return account
	}
	sum := sha256.Sum256([]byte(account))
	return "sha256:" + hex.EncodeToString(sum[:])
}
