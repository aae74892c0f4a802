package caddymodule

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/state/redisstate"
)

func init() {
	caddy.RegisterModule(new(RedisState))
}

// RedisState keeps the state in Redis, so that any number of Caddy instances
// sharing one Redis act as one: counters, locks, in-flight slots and sessions.
// Caddy starts while Redis is down; attempts then follow on_state_error.
type RedisState struct {
	// URL of Redis: redis://[user:password@]host[:port][/db] for one server,
	// redis+sentinel://host1,host2/master[/db] for Sentinel,
	// redis+cluster://host1,host2 for a Cluster (rediss… for TLS). Placeholders
	// such as {env.REDIS_URL} are replaced. Required.
	URL string `json:"url"`
	// Prefix of every key. Default: "loginguard:".
	Prefix string `json:"prefix,omitempty"`
	// DialTimeout bounds connecting. Default: 1s.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`
	// ReadTimeout bounds waiting for an answer. Default: 500ms.
	ReadTimeout caddy.Duration `json:"read_timeout,omitempty"`
	// PoolSize is the most connections per node. Default: 10 per CPU.
	PoolSize int `json:"pool_size,omitempty"`

	url    string
	logger func(msg string, args ...any)
}

// CaddyModule returns the Caddy module information.
func (*RedisState) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "loginguard.state.redis",
		New: func() caddy.Module { return new(RedisState) },
	}
}

// Provision replaces placeholders in the URL.
func (r *RedisState) Provision(ctx caddy.Context) error {
	r.url = caddy.NewReplacer().ReplaceKnown(r.URL, "")
	r.logger = ctx.Slogger().Warn
	return nil
}

// Validate checks the URL and options by building (not connecting) a client.
func (r *RedisState) Validate() error {
	if r.url == "" {
		return fmt.Errorf("state redis: url: required")
	}
	if r.DialTimeout < 0 || r.ReadTimeout < 0 || r.PoolSize < 0 {
		return fmt.Errorf("state redis: dial_timeout, read_timeout and pool_size must not be negative")
	}
	s, err := r.open()
	if err != nil {
		return err
	}
	return s.Close()
}

// PoolKey implements StateBackend: one store per Redis and prefix.
func (r *RedisState) PoolKey() string {
	return fmt.Sprintf("redis/%s/%s/%d/%d/%d", r.url, r.Prefix, r.PoolSize, r.DialTimeout, r.ReadTimeout)
}

// Open implements StateBackend. It does not wait for Redis; when Redis does not
// answer now it logs a warning and the store connects when Redis is back.
func (r *RedisState) Open() (state.Store, error) {
	s, err := r.open()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil && r.logger != nil {
		r.logger("redis state: Redis does not answer yet; attempts follow on_state_error until it does", "error", err)
	}
	return s, nil
}

func (r *RedisState) open() (*redisstate.Store, error) {
	s, err := redisstate.New(context.Background(), redisstate.Options{
		URL:         r.url,
		Prefix:      r.Prefix,
		DialTimeout: time.Duration(r.DialTimeout),
		ReadTimeout: time.Duration(r.ReadTimeout),
		PoolSize:    r.PoolSize,
	})
	if err != nil {
		return nil, err // "redis state: url: ..." names the field already
	}
	return s, nil
}

// UnmarshalCaddyfile sets up the Redis state from Caddyfile tokens:
//
//	state redis <url> {
//	    prefix       <prefix>
//	    dial_timeout <duration>
//	    read_timeout <duration>
//	    pool_size    <n>
//	}
func (r *RedisState) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "redis"
	if !d.NextArg() {
		return d.Errf("state redis: url: required")
	}
	r.URL = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch opt := d.Val(); opt {
		case "prefix":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			r.Prefix = v
		case "dial_timeout", "read_timeout":
			v, err := durationArg(d)
			if err != nil {
				return err
			}
			if opt == "dial_timeout" {
				r.DialTimeout = v
			} else {
				r.ReadTimeout = v
			}
		case "pool_size":
			n, err := intArg(d)
			if err != nil {
				return err
			}
			r.PoolSize = n
		default:
			return d.Errf("state redis: unknown option %q", opt)
		}
	}
	return nil
}

// Interface guards.
var (
	_ StateBackend          = (*RedisState)(nil)
	_ caddy.Provisioner     = (*RedisState)(nil)
	_ caddy.Validator       = (*RedisState)(nil)
	_ caddyfile.Unmarshaler = (*RedisState)(nil)
)
