package redisstate

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
)

var (
	//go:embed lua/ended.lua
	endedLua    string
	endedScript = redis.NewScript(endedLua)
)

// endedBatch bounds the ended locks one call takes from one bucket; the rest
// wait for the next call.
const endedBatch = 256

// EndedLocks implements state.Store: one script call per bucket, all in one
// pipeline (per cluster node), each taking the bucket's ended locks
// atomically, so that concurrent callers never get the same one. Were a
// reply lost on the way (the connection failed after Redis ran the script),
// the locks it took would not be reported; on an error the locks of the
// buckets that answered are still returned, with the error.
func (s *Store) EndedLocks(ctx context.Context) ([]state.EndedLock, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	now := s.nowMS()
	index, ended := s.bucketKeys("locked"), s.bucketKeys("ended")
	todo := make([]int, Buckets)
	for i := range todo {
		todo[i] = i
	}
	var out []state.EndedLock
	var firstErr error
	failed := 0
	fail := func(err error) {
		if failed++; firstErr == nil {
			firstErr = err
		}
	}
	// EVALSHA, then EVAL for the buckets whose node did not have the script.
	for _, eval := range []bool{false, true} {
		cmds := make([]*redis.Cmd, len(todo))
		_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j, i := range todo {
				keys := []string{index[i], ended[i]}
				if eval {
					cmds[j] = endedScript.Eval(ctx, p, keys, now, endedBatch)
				} else {
					cmds[j] = endedScript.EvalSha(ctx, p, keys, now, endedBatch)
				}
			}
			return nil
		})
		var again []int
		for j, c := range cmds {
			v, err := c.StringSlice()
			switch {
			case err != nil && !eval && isNoScript(err):
				again = append(again, todo[j])
			case err != nil:
				fail(err)
			default:
				ends, err := endsOf(v)
				out = append(out, ends...)
				if err != nil {
					fail(err)
				}
			}
		}
		if todo = again; len(todo) == 0 {
			break
		}
	}
	slices.SortStableFunc(out, func(a, b state.EndedLock) int { return a.Until.Compare(b.Until) })
	if firstErr != nil {
		return out, s.wrap("ended locks", fmt.Errorf("%d of %d buckets failed: %w", failed, Buckets, firstErr))
	}
	return out, nil
}

// endsOf reads the ended script's reply: name, end (ms), name, end, ...
func endsOf(v []string) ([]state.EndedLock, error) {
	if len(v)%2 != 0 {
		return nil, fmt.Errorf("ended locks: %w", errReply)
	}
	out := make([]state.EndedLock, 0, len(v)/2)
	for i := 0; i < len(v); i += 2 {
		f, err := strconv.ParseFloat(v[i+1], 64)
		if err != nil {
			return out, fmt.Errorf("ended locks: end of %q: %w", v[i], errReply)
		}
		out = append(out, state.EndedLock{Account: v[i], Until: fromMS(int64(f))})
	}
	return out, nil
}
