package redisstate

import (
	"context"
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// The account scripts: each is lua/account.lua followed by its own file.
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
	admit:  redis.NewScript(accountLua + admitLua),
	finish: redis.NewScript(accountLua + finishLua),
	lock:   redis.NewScript(accountLua + lockLua),
	unlock: redis.NewScript(accountLua + unlockLua),
	reset:  redis.NewScript(accountLua + resetLua),
	status: redis.NewScript(accountLua + statusLua),
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
