package redisstate

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
)

// The account scripts: each is the bounds from package state, lua/account.lua
// and its own file.
var (
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

func accountScript(src string) *redis.Script {
	bounds := fmt.Sprintf("local MAXPAIRS, MAXKNOWN = %d, %d\n", state.MaxPrefixCounters, state.MaxKnownPrefixes)
	return redis.NewScript(bounds + accountLua + src)
}

// run runs script with EVALSHA and, when the server does not have it (a
// restarted server, SCRIPT FLUSH, a new cluster node), with EVAL, which also
// caches it there. It returns the script's array of integers.
func (s *Store) run(ctx context.Context, op string, script *redis.Script, keys []string, args ...any) ([]int64, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	v, err := script.Run(ctx, s.client, keys, args...).Int64Slice()
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return v, nil
}
