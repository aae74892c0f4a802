// Package redisstate keeps the lockout state (state.Store) in Redis, so that
// many Caddy instances act as one: a single server, Sentinel or Redis Cluster,
// through go-redis's universal client.
//
// Every state change is one Lua script call (EVALSHA, and EVAL when the server
// does not know the script: after a restart or SCRIPT FLUSH), so a login attempt
// costs two round trips: Admit before it is forwarded, Finish after. Times are
// the Store's clock, passed to the scripts in milliseconds; key expiry is only
// garbage collection. Durations are rounded up to whole milliseconds.
//
// New connects lazily: it never fails because Redis is down. While Redis is
// unreachable every method returns, within about ReadTimeout (or DialTimeout),
// an error that wraps state.ErrUnavailable; the client reconnects by itself.
// Calls are not retried, so that no script runs twice for one call (Admit would
// be harmless to repeat, Finish would count a failure twice). Calls go out in
// the order they are made, those made while a batch is out together in the
// next pipeline (see pipeline.go), so under load an attempt costs far fewer
// system calls than two round trips of its own; FinishAsync does not wait.
// The scripts use GETDEL: Redis 6.2 or later.
package redisstate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/loginguard/loginguard/state"
)

// Defaults of Options.
const (
	DefaultPrefix      = "loginguard:"
	DefaultDialTimeout = time.Second
	DefaultReadTimeout = 500 * time.Millisecond
)

// Options configure a Store.
type Options struct {
	// URL says where Redis is. Default: redis://127.0.0.1:6379.
	//
	//	redis://[[user]:password@]host[:port][/db]                one server
	//	redis+sentinel://[[user]:password@]host[:port],.../master[/db][?sentinel_username=u&sentinel_password=p]
	//	redis+cluster://[[user]:password@]host[:port],...         Redis Cluster seed nodes
	//
	// The rediss, rediss+sentinel and rediss+cluster schemes use TLS. The port
	// defaults to 6379 (26379 for sentinels); user and password are percent-encoded
	// and are the data nodes' (with Sentinel, the master's).
	URL string
	// Prefix starts every key. Default: "loginguard:". It may not contain "{" or
	// "}", which would take over the keys' Redis Cluster hash tags.
	Prefix string
	// DialTimeout bounds connecting to a node. Default: 1s.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for a reply, and writing a command. Default:
	// 500ms.
	ReadTimeout time.Duration
	// PoolSize is the most connections per node. Default: go-redis's, 10 per CPU.
	PoolSize int
	// Options holds the clock.
	state.Options
}

// Store is a state.Store in Redis. New makes one; the zero value is not usable.
// It is safe for concurrent use, and its state is shared by every Store with
// the same Redis and prefix.
type Store struct {
	client redis.UniversalClient
	pipe   *pipeliner
	prefix string
	now    func() time.Time
	closed atomic.Bool
}

// New returns a Store for the Redis that o.URL names. It does not connect:
// that happens on the first call, so New succeeds while Redis is down; it fails
// only on bad options. ctx is not used; it is there for later options that
// might need it.
func New(ctx context.Context, o Options) (*Store, error) {
	_ = ctx
	if o.URL == "" {
		o.URL = "redis://127.0.0.1:6379"
	}
	uo, err := parseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("redis state: url: %w", err)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("redis state: prefix %q: may not contain { or }", o.Prefix)
	}
	if o.DialTimeout < 0 || o.ReadTimeout < 0 || o.PoolSize < 0 {
		return nil, errors.New("redis state: timeouts and pool size may not be negative")
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	uo.DialTimeout = o.DialTimeout
	uo.ReadTimeout = o.ReadTimeout
	uo.WriteTimeout = o.ReadTimeout
	uo.PoolTimeout = o.DialTimeout
	uo.PoolSize = o.PoolSize
	uo.ContextTimeoutEnabled = true
	uo.MaxRetries = -1   // no retries: a script must not run twice
	uo.DialerRetries = 1 // a refused connection fails at once
	uo.DisableIdentity = true
	uo.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	client := redis.NewUniversalClient(uo)
	return &Store{
		client: client,
		pipe:   newPipeliner(client),
		prefix: o.Prefix,
		now:    o.Clock(),
	}, nil
}

// Ping checks that Redis answers (on a cluster, one node of it); its error
// wraps state.ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := s.client.Ping(ctx).Err(); err != nil {
		return s.wrap("ping", err)
	}
	return nil
}

// Close closes the connections; later calls fail with an error that wraps
// state.ErrUnavailable. Closing twice is harmless. The state stays in Redis.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.pipe.close()
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("redis state: close: %w", err)
	}
	return nil
}

var errClosed = errors.New("redis state store is closed")

func (s *Store) check() error {
	if s.closed.Load() {
		return fmt.Errorf("redis state: %w: %w", state.ErrUnavailable, errClosed)
	}
	return nil
}

// wrap adds context to err and marks it state.ErrUnavailable unless Redis
// answered with an error that says the request itself was wrong.
func (s *Store) wrap(op string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("redis state: %s: %w: %w", op, state.ErrUnavailable, err)
	}
	return fmt.Errorf("redis state: %s: %w", op, err)
}

// unavailable reports whether err means that Redis cannot serve now (no
// connection, a timeout, a node loading, failing over or out of memory), as
// opposed to refusing the request (a script error, a wrong type, bad
// credentials).
func unavailable(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return true
	}
	msg := rerr.Error()
	for _, p := range []string{"WRONGTYPE", "NOAUTH", "WRONGPASS", "NOPERM"} {
		if strings.HasPrefix(msg, p) {
			return false
		}
	}
	return !strings.HasPrefix(msg, "ERR") || strings.HasPrefix(msg, "ERR max number of clients")
}

// ms returns d in whole milliseconds, rounded up, or 0 when d is not positive.
func ms(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	m := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		m++
	}
	return m
}

// nowMS is the store's clock in Unix milliseconds.
func (s *Store) nowMS() int64 { return s.now().UnixMilli() }

// fromMS is the inverse of nowMS, in UTC.
func fromMS(t int64) time.Time { return time.UnixMilli(t).UTC() }

// newSlot returns a slot id: random, so that ids from different instances, or
// from before an account's key expired, never meet.
func newSlot() string {
	return strconv.FormatUint(rand.Uint64(), 36)
}

// Interface guard.
var _ state.Store = (*Store)(nil)
