package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultClaimTimeout bounds a Sampler's claim when WithClaimer is given none.
const DefaultClaimTimeout = 200 * time.Millisecond

// Claimer shares a Sampler's budget with the other instances of a fleet:
// each event a Sampler would emit must also be claimed, so that the fleet
// emits the budget of each key once per interval, not once per instance.
type Claimer interface {
	// Claim sets won[i] when the caller may emit one of the budget events
	// of keys[i] in the fleet's current interval of that key (an interval
	// starts with the key's first claim and lasts interval). After an error
	// the caller treats every claim of the call as failed.
	Claim(ctx context.Context, keys []string, budget int, interval time.Duration, won []bool) error
}

// WithClaimer makes the budget the fleet's: when s would emit an event
// (the key's first attempt of an interval, or one within the budget), it
// claims it from c first, outside its lock, each claim bounded by timeout
// (default 200ms when ≤ 0). A lost claim suppresses the attempt, with the
// count it would have carried, and the key emits nothing more in s's
// interval; the count waits for a later event. A failed claim emits, as
// without a Claimer. Attempts that s suppresses by itself cost no claim, so
// a flood costs at most one claim per key, budget event and interval on each
// instance. Due claims the counts it returns (see Due). It returns s and
// must be called before s is used.
func (s *Sampler) WithClaimer(c Claimer, timeout time.Duration) *Sampler {
	if timeout <= 0 {
		timeout = DefaultClaimTimeout
	}
	s.claimer, s.claimTimeout = c, timeout
	return s
}

// RedisClaimer is a Claimer in Redis: the key "<prefix><key>" counts the
// claims of an interval and expires with it (SET NX PX for a budget of one;
// for more, INCR and PEXPIRE in a script), so instances claim against one
// counter. The claims of one call go in one pipeline: one round trip. Keys
// longer than 128 bytes or with control characters are replaced by their
// SHA-256.
//
// After a failed claim, RedisClaimer fails at once, without asking Redis,
// for a second, so that a Sampler in front of a Redis that is down costs no
// timeout per emitted event.
type RedisClaimer struct {
	client    redis.UniversalClient
	prefix    string
	downUntil atomic.Int64 // Unix ns
}

// errDown is the error of claims made while Redis is known to be down.
var errDown = errors.New("redis was unavailable less than a second ago")

// claimScript counts a claim of KEYS[1] in an interval of ARGV[1] ms.
var claimScript = redis.NewScript(`local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// NewRedisClaimer returns a RedisClaimer on client (typically the state
// store's, redisstate.Store.Client). prefix starts every key and must name
// the Sampler among the fleet's samplers (e.g. "loginguard:sample:<route>:"),
// since two samplers with one prefix share their keys' budgets. It may not
// contain "{" or "}".
func NewRedisClaimer(client redis.UniversalClient, prefix string) (*RedisClaimer, error) {
	if client == nil {
		return nil, errors.New("sampler claims: no redis client")
	}
	if prefix == "" || strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("sampler claims: prefix %q: want a non-empty prefix without { or }", prefix)
	}
	return &RedisClaimer{client: client, prefix: prefix}, nil
}

// Claim implements Claimer.
func (c *RedisClaimer) Claim(ctx context.Context, keys []string, budget int, interval time.Duration, won []bool) error {
	if time.Now().UnixNano() < c.downUntil.Load() {
		return fmt.Errorf("sampler claims: %w", errDown)
	}
	ttl := max(interval.Milliseconds(), 1)
	pipe := c.client.Pipeline()
	cmds := make([]redis.Cmder, len(keys))
	for i, k := range keys {
		k = c.prefix + claimKey(k)
		if budget <= 1 {
			cmds[i] = pipe.SetNX(ctx, k, 1, time.Duration(ttl)*time.Millisecond)
		} else {
			cmds[i] = claimScript.EvalSha(ctx, pipe, []string{k}, ttl)
		}
	}
	_, _ = pipe.Exec(ctx)
	if budget > 1 && redis.HasErrorPrefix(cmds[0].Err(), "NOSCRIPT") {
		// Redis does not know the script (a restart, SCRIPT FLUSH): send it.
		pipe := c.client.Pipeline()
		for i, k := range keys {
			cmds[i] = claimScript.Eval(ctx, pipe, []string{c.prefix + claimKey(k)}, ttl)
		}
		_, _ = pipe.Exec(ctx)
	}
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil && err != redis.Nil {
			c.downUntil.Store(time.Now().Add(time.Second).UnixNano())
			return fmt.Errorf("sampler claims: %w", err)
		}
	}
	for i, cmd := range cmds {
		switch cmd := cmd.(type) {
		case *redis.BoolCmd:
			won[i] = cmd.Val()
		case *redis.Cmd:
			n, _ := cmd.Int64()
			won[i] = n >= 1 && n <= int64(budget)
		}
	}
	return nil
}

// claimKey returns key as it appears in a Redis key: as is when short and
// printable, else its SHA-256.
func claimKey(key string) string {
	if len(key) <= 128 && !strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}
