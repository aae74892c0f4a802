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
	max, window, slotTTL, lock, maxLock, memory, pairLimit, knownTTL int64
	backoff, known                                                   int
}

func argsOf(p state.Policy) policyArgs {
	a := policyArgs{
		max:       int64(max(p.MaxFailures, 1)),
		window:    ms(p.Window),
		slotTTL:   ms(p.SlotTTL),
		lock:      ms(p.LockDuration),
		maxLock:   ms(p.MaxLockDuration),
		memory:    ms(p.LockMemory),
		pairLimit: int64(state.PrefixLimit(p)),
		knownTTL:  ms(p.KnownPrefixTTL),
	}
	if a.slotTTL == 0 {
		a.slotTTL = ms(defaultSlotTTL)
	}
	if p.Backoff {
		a.backoff = 1
	}
	if a.knownTTL > 0 {
		a.known = 1
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
func (s *Store) Admit(ctx context.Context, at state.Attempt, p state.Policy) (state.Admission, error) {
	prefix, err := state.CanonicalPrefix(at.Prefix)
	if err != nil {
		return state.Admission{}, fmt.Errorf("redis state: admit: %w", err)
	}
	pa := argsOf(p)
	slot := newSlot()
	now := s.nowMS()
	v, err := s.run(ctx, "admit", scripts.admit, []string{s.accountKey(at.Account)},
		now, pa.max, pa.window, pa.slotTTL, slot, prefix, pa.pairLimit, pa.known, now+pa.slotTTL, pa.slotTTL+slackMS)
	if err != nil {
		return state.Admission{}, err
	}
	if err := want("admit", v, 9); err != nil {
		return state.Admission{}, err
	}
	adm := state.Admission{
		Allowed:        v[0] == 1,
		Locked:         v[1] == 1,
		LockedUntil:    until(v[2]),
		Failures:       int(v[3]),
		InFlight:       int(v[4]),
		PrefixLocked:   v[5] == 1,
		PrefixFailures: int(v[6]),
		PrefixInFlight: int(v[7]),
		KnownPrefix:    v[8] == 1,
	}
	if adm.Allowed {
		adm.Slot = slot
	}
	return adm, nil
}

// Finish implements state.Store with one script call.
func (s *Store) Finish(ctx context.Context, at state.Attempt, slot string, o state.Outcome, p state.Policy) (state.Result, error) {
	keys, args, err := s.finishCall(at, slot, o, p)
	if err != nil {
		return state.Result{}, err
	}
	v, err := s.run(ctx, "finish", scripts.finish, keys, args...)
	if err != nil {
		return state.Result{}, err
	}
	return finishResult(v)
}

// FinishAsync implements state.AsyncFinisher: the same script call as
// Finish's, queued behind the calls made before it; done gets its error.
func (s *Store) FinishAsync(ctx context.Context, at state.Attempt, slot string, o state.Outcome, p state.Policy, done func(error)) {
	keys, args, err := s.finishCall(at, slot, o, p)
	if err == nil {
		err = s.check()
	}
	if err != nil {
		done(err)
		return
	}
	s.pipe.goRun(ctx, func(cmd *redis.Cmd) {
		v, err := cmd.Int64Slice()
		if err != nil {
			done(s.wrap("finish", err))
			return
		}
		_, err = finishResult(v)
		done(err)
	}, scripts.finish, keys, args...)
}

func (s *Store) finishCall(at state.Attempt, slot string, o state.Outcome, p state.Policy) ([]string, []any, error) {
	prefix, err := state.CanonicalPrefix(at.Prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("redis state: finish: %w", err)
	}
	pa := argsOf(p)
	return s.lockKeys(at.Account), []any{
		s.nowMS(), slot, int(o), pa.max, pa.window, pa.lock, pa.backoff, pa.maxLock, pa.memory, at.Account,
		prefix, pa.pairLimit, pa.knownTTL, pa.window + slackMS}, nil
}

func finishResult(v []int64) (state.Result, error) {
	if err := want("finish", v, 8); err != nil {
		return state.Result{}, err
	}
	return state.Result{
		Failures:          int(v[0]),
		Locked:            v[1] == 1,
		NewlyLocked:       v[2] == 1,
		LockedUntil:       until(v[3]),
		PrefixFailures:    int(v[4]),
		PrefixLocked:      v[5] == 1,
		PrefixNewlyLocked: v[6] == 1,
		PrefixLockedUntil: until(v[7]),
	}, nil
}

// Lock implements state.Store with one script call.
func (s *Store) Lock(ctx context.Context, account string, d time.Duration) error {
	_, err := s.run(ctx, "lock", scripts.lock, s.lockKeys(account),
		s.nowMS(), ms(d), account)
	return err
}

// Unlock implements state.Store with one script call.
func (s *Store) Unlock(ctx context.Context, account string) (bool, error) {
	v, err := s.run(ctx, "unlock", scripts.unlock, s.lockKeys(account),
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
	if err := s.check(); err != nil {
		return state.AccountStatus{}, err
	}
	v, err := scripts.status.Run(ctx, s.client, []string{s.accountKey(account)}, s.nowMS()).Slice()
	if err != nil {
		return state.AccountStatus{}, s.wrap("status", err)
	}
	return statusOf("status", account, v)
}

// reply reads the status script's mixed reply of integers and strings.
type reply struct {
	v   []any
	err error
}

func (r *reply) int() int64 {
	if r.err != nil {
		return 0
	}
	if len(r.v) == 0 {
		r.err = errReply
		return 0
	}
	n, ok := r.v[0].(int64)
	if !ok {
		r.err = errReply
	}
	r.v = r.v[1:]
	return n
}

func (r *reply) str() string {
	if r.err != nil {
		return ""
	}
	if len(r.v) == 0 {
		r.err = errReply
		return ""
	}
	s, ok := r.v[0].(string)
	if !ok {
		r.err = errReply
	}
	r.v = r.v[1:]
	return s
}

// count reads a list length, which may not exceed bound.
func (r *reply) count(bound int) int {
	n := r.int()
	if n < 0 || n > int64(bound) {
		r.err = errReply
		return 0
	}
	return int(n)
}

func statusOf(op, account string, v []any) (state.AccountStatus, error) {
	r := &reply{v: v}
	st := state.AccountStatus{
		Account:     account,
		Failures:    int(r.int()),
		InFlight:    int(r.int()),
		Locked:      r.int() == 1,
		LockedUntil: until(r.int()),
		LockLevel:   int(r.int()),
		AdminLock:   r.int() == 1,
	}
	st.Permanent = st.Locked && st.LockedUntil.IsZero()
	if n := r.count(state.MaxPrefixCounters); n > 0 {
		st.Prefixes = make([]state.PrefixStatus, n)
		for i := range st.Prefixes {
			ps := &st.Prefixes[i]
			ps.Prefix = r.str()
			ps.Failures = int(r.int())
			ps.InFlight = int(r.int())
			ps.Locked = r.int() == 1
			ps.LockedUntil = until(r.int())
			ps.Permanent = ps.Locked && ps.LockedUntil.IsZero()
		}
	}
	if n := r.count(state.MaxKnownPrefixes); n > 0 {
		st.KnownPrefixes = make([]state.KnownPrefix, n)
		for i := range st.KnownPrefixes {
			st.KnownPrefixes[i].Prefix = r.str()
			st.KnownPrefixes[i].Until = until(r.int())
		}
	}
	if r.err == nil && len(r.v) != 0 {
		r.err = errReply
	}
	if r.err != nil {
		return state.AccountStatus{}, fmt.Errorf("redis state: %s: %w", op, r.err)
	}
	state.SortStatus(&st)
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
	keys := s.bucketKeys("locked")
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
func (s *Store) statuses(ctx context.Context, accounts []string, now int64, eval bool) ([][]any, error) {
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
	out := make([][]any, len(cmds))
	for i, c := range cmds {
		if out[i], err = c.Slice(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func isNoScript(err error) bool {
	return errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")
}

var _ state.AsyncFinisher = (*Store)(nil)
