package redisstate

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
)

// The account scripts: each is the bounds from package state and slackMS,
// lua/base.lua and
// its own file, with lua/account.lua in place of the script's line
// accountMarker, or before the script when it has none. What comes before the
// marker is the script's fast path: it runs before, and may return without,
// the definitions of account.lua, which every call would pay for.
var (
	//go:embed lua/base.lua
	baseLua string
	//go:embed lua/account.lua
	accountLua string
	//go:embed lua/admit.lua
	admitLua string
	//go:embed lua/finish.lua
	finishLua string
	//go:embed lua/lock.lua
	lockLua string
	//go:embed lua/unlock.lua
	unlockLua string
	//go:embed lua/reset.lua
	resetLua string
	//go:embed lua/status.lua
	statusLua string
)

// scripts are the Lua scripts, built once; a Script only holds its source and
// SHA-1, so sharing them between stores is safe.
var scripts = struct {
	admit, finish, lock, unlock, reset, status *redis.Script
}{
	admit:  accountScript(admitLua),
	finish: accountScript(finishLua),
	lock:   accountScript(lockLua),
	unlock: accountScript(unlockLua),
	reset:  accountScript(resetLua),
	status: accountScript(statusLua),
}

// slackMS is added to every account key's time to live, in milliseconds, for
// clock skew between instances (SLACK in the scripts).
const slackMS = 60000

// accountMarker is the line of an account script where account.lua goes.
const accountMarker = "--[[ account.lua ]]\n"

func accountScript(src string) *redis.Script {
	bounds := fmt.Sprintf("local MAXPAIRS, MAXKNOWN, SLACK = %d, %d, %d\n",
		state.MaxPrefixCounters, state.MaxKnownPrefixes, slackMS)
	head, tail, ok := strings.Cut(src, accountMarker)
	if !ok {
		head, tail = "", src
	}
	return redis.NewScript(bounds + baseLua + head + accountLua + tail)
}

// run runs script with EVALSHA and, when the server does not have it (a
// restarted server, SCRIPT FLUSH, a new cluster node), with EVAL, which also
// caches it there. It returns the script's array of integers.
func (s *Store) run(ctx context.Context, op string, script *redis.Script, keys []string, args ...any) ([]int64, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	v, err := s.pipe.run(ctx, script, keys, args...).Int64Slice()
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return v, nil
}
