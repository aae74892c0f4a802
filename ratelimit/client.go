package ratelimit

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"sync"

	"github.com/redis/go-redis/v9"
)

// scriptClient is the client handed to ulule/limiter's Redis store. Its
// ScriptLoad only computes the script's digest (no round trip, so the store
// can be made while Redis is down), and its EvalSha runs the script with EVAL
// when Redis does not know the digest (NOSCRIPT: never loaded, flushed, a
// restarted server, a Cluster node that never saw it), which also caches it
// there. Everything else goes to the caller's client unchanged.
type scriptClient struct {
	redis.UniversalClient

	mu      sync.RWMutex
	scripts map[string]string // digest → source
}

func newScriptClient(c redis.UniversalClient) *scriptClient {
	return &scriptClient{UniversalClient: c, scripts: make(map[string]string)}
}

// ScriptLoad records the script and returns its digest without contacting
// Redis.
func (c *scriptClient) ScriptLoad(ctx context.Context, script string) *redis.StringCmd {
	sum := sha1.Sum([]byte(script))
	digest := hex.EncodeToString(sum[:])
	c.mu.Lock()
	c.scripts[digest] = script
	c.mu.Unlock()
	cmd := redis.NewStringCmd(ctx, "script", "load", script)
	cmd.SetVal(digest)
	return cmd
}

// EvalSha runs the script by digest and falls back to EVAL on NOSCRIPT.
func (c *scriptClient) EvalSha(ctx context.Context, digest string, keys []string, args ...any) *redis.Cmd {
	cmd := c.UniversalClient.EvalSha(ctx, digest, keys, args...)
	if !redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		return cmd
	}
	c.mu.RLock()
	script, ok := c.scripts[digest]
	c.mu.RUnlock()
	if !ok {
		return cmd
	}
	return c.UniversalClient.Eval(ctx, script, keys, args...)
}
