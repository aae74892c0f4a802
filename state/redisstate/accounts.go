package redisstate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
)

// defaultSlotTTL is the life of a slot when Policy.SlotTTL is not positive, as
// in the memory store.
const defaultSlotTTL = time.Minute

// policyArgs are a Policy's numbers as the scripts take them. MaxFailures below
// 1 counts as 1, a SlotTTL that is not positive as one minute.
type policyArgs struct {
	max, window, slotTTL, lock, maxLock, memory int64
	backoff                                     int
}

func argsOf(p state.Policy) policyArgs {
	a := policyArgs{
		max:     int64(max(p.MaxFailures, 1)),
		window:  ms(p.Window),
		slotTTL: ms(p.SlotTTL),
		lock:    ms(p.LockDuration),
		maxLock: ms(p.MaxLockDuration),
		memory:  ms(p.LockMemory),
	}
	if a.slotTTL == 0 {
		a.slotTTL = ms(defaultSlotTTL)
	}
	if p.Backoff {
		a.backoff = 1
	}
	return a
}

// errReply is returned when a script answers with the wrong shape.
var errReply = errors.New("unexpected reply from script")

func want(op string, v []int64, n int) error {
	if len(v) != n {
		return fmt.Errorf("redis state: %s: %w (%d values, want %d)", op, errReply, len(v), n)
	}
	return nil
}

// until is the time a script reports as the end of a lock: zero for 0.
func until(t int64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return fromMS(t)
}

// Admit implements state.Store with one script call.
func (s *Store) Admit(ctx context.Context, account string, p state.Policy) (state.Admission, error) {
	pa := argsOf(p)
	slot := newSlot()
	v, err := s.run(ctx, "admit", scripts.admit, []string{s.accountKey(account)},
		s.nowMS(), pa.max, pa.window, pa.slotTTL, slot)
	if err != nil {
		return state.Admission{}, err
	}
	if err := want("admit", v, 5); err != nil {
		return state.Admission{}, err
	}
	adm := state.Admission{
		Allowed:     v[0] == 1,
		Locked:      v[1] == 1,
		LockedUntil: until(v[2]),
		Failures:    int(v[3]),
		InFlight:    int(v[4]),
	}
	if adm.Allowed {
		adm.Slot = slot
	}
	return adm, nil
}

// Finish implements state.Store with one script call.
func (s *Store) Finish(ctx context.Context, account, slot string, o state.Outcome, p state.Policy) (state.Result, error) {
	pa := argsOf(p)
	v, err := s.run(ctx, "finish", scripts.finish, []string{s.accountKey(account), s.indexKey(account)},
		s.nowMS(), slot, int(o), pa.max, pa.window, pa.lock, pa.backoff, pa.maxLock, pa.memory, account)
	if err != nil {
		return state.Result{}, err
	}
	if err := want("finish", v, 4); err != nil {
		return state.Result{}, err
	}
	return state.Result{
		Failures:    int(v[0]),
		Locked:      v[1] == 1,
		NewlyLocked: v[2] == 1,
		LockedUntil: until(v[3]),
	}, nil
}

// Lock implements state.Store with one script call.
func (s *Store) Lock(ctx context.Context, account string, d time.Duration) error {
	_, err := s.run(ctx, "lock", scripts.lock, []string{s.accountKey(account), s.indexKey(account)},
		s.nowMS(), ms(d), account)
	return err
}

// Unlock implements state.Store with one script call.
func (s *Store) Unlock(ctx context.Context, account string) (bool, error) {
	v, err := s.run(ctx, "unlock", scripts.unlock, []string{s.accountKey(account), s.indexKey(account)},
		s.nowMS(), account)
	if err != nil {
		return false, err
	}
	if err := want("unlock", v, 1); err != nil {
		return false, err
	}
	return v[0] == 1, nil
}

// Reset implements state.Store with one script call.
func (s *Store) Reset(ctx context.Context, account string) error {
	_, err := s.run(ctx, "reset", scripts.reset, []string{s.accountKey(account)}, s.nowMS())
	return err
}

// Status implements state.Store with one script call, which changes nothing.
func (s *Store) Status(ctx context.Context, account string) (state.AccountStatus, error) {
	v, err := s.run(ctx, "status", scripts.status, []string{s.accountKey(account)}, s.nowMS())
	if err != nil {
		return state.AccountStatus{}, err
	}
	return statusOf("status", account, v)
}

func statusOf(op, account string, v []int64) (state.AccountStatus, error) {
	if err := want(op, v, 5); err != nil {
		return state.AccountStatus{}, err
	}
	st := state.AccountStatus{
		Account:     account,
		Failures:    int(v[0]),
		InFlight:    int(v[1]),
		Locked:      v[2] == 1,
		LockedUntil: until(v[3]),
		LockLevel:   int(v[4]),
	}
	st.Permanent = st.Locked && st.LockedUntil.IsZero()
	return st, nil
}

// LockedAccounts implements state.Store. It is an admin operation and costs two
// round trips (per cluster node): one reads every bucket's index of locked
// accounts, one reads the state of each account listed there.
func (s *Store) LockedAccounts(ctx context.Context) ([]state.AccountStatus, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	now := s.nowMS()
	keys := s.indexKeys()
	ranges := make([]*redis.StringSliceCmd, len(keys))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			ranges[i] = p.ZRangeByScore(ctx, k, &redis.ZRangeBy{Min: "(" + strconv.FormatInt(now, 10), Max: "+inf"})
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap("locked accounts", err)
	}
	var accounts []string
	for _, r := range ranges {
		accounts = append(accounts, r.Val()...)
	}
	if len(accounts) == 0 {
		return []state.AccountStatus{}, nil
	}

	statuses, err := s.statuses(ctx, accounts, now, false)
	if err != nil && isNoScript(err) {
		statuses, err = s.statuses(ctx, accounts, now, true)
	}
	if err != nil {
		return nil, s.wrap("locked accounts", err)
	}
	out := make([]state.AccountStatus, 0, len(statuses))
	for i, v := range statuses {
		st, err := statusOf("locked accounts", accounts[i], v)
		if err != nil {
			return nil, err
		}
		if st.Locked {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b state.AccountStatus) int { return cmp.Compare(a.Account, b.Account) })
	return out, nil
}

// statuses runs the status script for each account in one pipeline, with
// EVALSHA or, when eval is set, EVAL.
func (s *Store) statuses(ctx context.Context, accounts []string, now int64, eval bool) ([][]int64, error) {
	cmds := make([]*redis.Cmd, len(accounts))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, a := range accounts {
			keys := []string{s.accountKey(a)}
			if eval {
				cmds[i] = scripts.status.Eval(ctx, p, keys, now)
			} else {
				cmds[i] = scripts.status.EvalSha(ctx, p, keys, now)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([][]int64, len(cmds))
	for i, c := range cmds {
		if out[i], err = c.Int64Slice(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func isNoScript(err error) bool {
	return errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")
}
