package redisstate

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
)

// storedSession is a session as kept in Redis under Psession:<hash>: its
// times in milliseconds on the store's clock, beside the session, whose own
// times stay out of "s". The fields are always present and in this order
// (encoding/json keeps it), because the session scripts read and rewrite the
// value with a pattern (lua/session.lua) instead of decoding it.
//
// A value of the version before sessions were tracked is {"exp":..,"s":{..}}:
// it decodes into the same struct as a live session without times, which is
// how it is read (found, touched without a write, ended) until its exp. The
// other way round, a tombstone keeps its end in "exp", so that an instance of
// that version, during a rolling upgrade, takes it for an expired session.
type storedSession struct {
	// Seen is LastSeen.
	Seen int64 `json:"seen"`
	// Expires is, for a live session, when its ttl runs out; for a
	// tombstone, when it ended (EndedAt).
	Expires int64 `json:"exp"`
	// Until is when a tombstone goes; 0 for a live session.
	Until int64 `json:"until"`
	// Login is LoginAt.
	Login int64 `json:"login"`
	// TTL is the ttl of PutSession, which a tombstone is kept for.
	TTL int64 `json:"ttl"`
	// Status is how the session ended; "" while it is live.
	Status  string        `json:"st"`
	Session state.Session `json:"s"`
}

// sessionSlack is added to a session key's time to live, for clock skew.
const sessionSlack = time.Minute

// sessionBatch bounds the sessions one ExpiredSessions call takes from each
// index, and the entries of expired sessions a put drops from the indexes.
const sessionBatch = 256

var (
	//go:embed lua/session.lua
	sessionLua string
	//go:embed lua/session_touch.lua
	sessionTouchLua string
	//go:embed lua/session_end.lua
	sessionEndLua string
	//go:embed lua/session_expire.lua
	sessionExpireLua string
	//go:embed lua/session_index.lua
	sessionIndexLua string
	//go:embed lua/session_due.lua
	sessionDueLua string
	//go:embed lua/session_account.lua
	sessionAccountLua string
)

// sessionScripts are the session scripts: each is SLACK, lua/session.lua and
// its own file.
var sessionScripts = struct {
	touch, end, expire, index, due, account *redis.Script
}{
	touch:   sessionScript(sessionTouchLua),
	end:     sessionScript(sessionEndLua),
	expire:  sessionScript(sessionExpireLua),
	index:   sessionScript(sessionIndexLua),
	due:     sessionScript(sessionDueLua),
	account: sessionScript(sessionAccountLua),
}

func sessionScript(src string) *redis.Script {
	return redis.NewScript(fmt.Sprintf("local SLACK = %d\n", slackMS) + sessionLua + src)
}

// PutSession implements state.Store in one round trip: a pipeline of the
// SET of the session key, a script that files the hash in the three indexes
// (and drops a few entries of expired sessions from them), and a script that
// files it under the account. Only the SET is atomic with the session's
// state: an index entry is a hint that ExpiredSessions and AccountSessions
// check against the session key. A ttl that is not positive deletes the
// session key; its index entries go when ExpiredSessions or a later put
// finds them stale.
func (s *Store) PutSession(ctx context.Context, hash string, sess state.Session, ttl time.Duration) error {
	if err := s.check(); err != nil {
		return err
	}
	key := s.sessionKey(hash)
	if ttl <= 0 {
		if err := s.client.Del(ctx, key).Err(); err != nil {
			return s.wrap("put session", err)
		}
		return nil
	}
	now := s.nowMS()
	st := storedSession{Expires: now + ms(ttl), TTL: ms(ttl), Session: sess}
	st.Login = now
	if !sess.LoginAt.IsZero() {
		st.Login = sess.LoginAt.UnixMilli()
	}
	st.Seen = st.Login
	if !sess.LastSeen.IsZero() {
		st.Seen = sess.LastSeen.UnixMilli()
	}
	st.Session.LoginAt, st.Session.LastSeen, st.Session.Status, st.Session.EndedAt = time.Time{}, time.Time{}, "", time.Time{}
	v, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("redis state: put session: %w", err)
	}
	var set *redis.StatusCmd
	errs := s.evalPipelined(ctx, func(p redis.Pipeliner) {
		set = p.Set(ctx, key, v, ttl+sessionSlack)
	}, scriptCall{
		script: sessionScripts.index, keys: s.sessionIndexKeys(),
		args: []any{hash, st.Seen, st.Login, st.Expires, now, sessionBatch},
	}, scriptCall{
		script: sessionScripts.account, keys: []string{s.accountSessionsKey(sess.Account)},
		args: []any{hash, st.Expires, now},
	})
	if err := cmp.Or(set.Err(), errs[0], errs[1]); err != nil {
		return s.wrap("put session", err)
	}
	return nil
}

// TakeSession implements state.Store: EndSession with state.SessionCompleted.
func (s *Store) TakeSession(ctx context.Context, hash string) (state.Session, bool, error) {
	sess, ok, err := s.EndSession(ctx, hash, state.SessionCompleted, time.Time{})
	if !ok {
		return state.Session{}, false, err
	}
	return sess, true, nil
}

// Session implements state.Store with one GET.
func (s *Store) Session(ctx context.Context, hash string) (state.Session, bool, error) {
	if err := s.check(); err != nil {
		return state.Session{}, false, err
	}
	v, err := s.client.Get(ctx, s.sessionKey(hash)).Bytes()
	if errors.Is(err, redis.Nil) {
		return state.Session{}, false, nil
	}
	if err != nil {
		return state.Session{}, false, s.wrap("get session", err)
	}
	st, err := decodeSession(v)
	if err != nil {
		return state.Session{}, false, fmt.Errorf("redis state: get session: %w", err)
	}
	sess, live, ended := st.at(s.nowMS())
	if !live && !ended {
		return state.Session{}, false, nil
	}
	return sess, live, nil
}

// TouchSession implements state.Store with one script call
// (lua/session_touch.lua), a round trip whatever the outcome: it reads the
// session key and writes it only when LastSeen moves. The indexes are not
// touched: ExpiredSessions corrects their LastSeen when it comes to them.
func (s *Store) TouchSession(ctx context.Context, hash string, at time.Time, every time.Duration) (state.Session, bool, error) {
	if err := s.check(); err != nil {
		return state.Session{}, false, err
	}
	now := s.nowMS()
	atMS := now
	if !at.IsZero() {
		atMS = at.UnixMilli()
	}
	v, err := s.pipe.run(ctx, sessionScripts.touch, []string{s.sessionKey(hash)}, now, atMS, max(ms(every), 0)).Text()
	if errors.Is(err, redis.Nil) {
		return state.Session{}, false, nil
	}
	if err != nil {
		return state.Session{}, false, s.wrap("touch session", err)
	}
	st, err := decodeSession([]byte(v))
	if err != nil {
		return state.Session{}, false, fmt.Errorf("redis state: touch session: %w", err)
	}
	sess, live, _ := st.at(now)
	return sess, live, nil
}

// EndSession implements state.Store with one script call
// (lua/session_end.lua): the live session becomes its tombstone in the same
// key, atomically, so that of concurrent ends one reports it. The indexes
// keep the hash until ExpiredSessions or a later put drops it.
func (s *Store) EndSession(ctx context.Context, hash, status string, at time.Time) (state.Session, bool, error) {
	if err := s.check(); err != nil {
		return state.Session{}, false, err
	}
	if err := state.CheckSessionStatus(status); err != nil {
		return state.Session{}, false, fmt.Errorf("redis state: end session: %w", err)
	}
	now := s.nowMS()
	atMS := now
	if !at.IsZero() {
		atMS = at.UnixMilli()
	}
	r, err := s.pipe.run(ctx, sessionScripts.end, []string{s.sessionKey(hash)}, now, atMS, status).Slice()
	if errors.Is(err, redis.Nil) {
		return state.Session{}, false, nil
	}
	if err != nil {
		return state.Session{}, false, s.wrap("end session", err)
	}
	flag, v, err := endReply(r)
	if err != nil {
		return state.Session{}, false, fmt.Errorf("redis state: end session: %w", err)
	}
	return v.session(), flag == 1, nil
}

// ExpiredSessions implements state.Store. The three indexes share one hash
// tag, {sessions}, and hold every session put: by LastSeen (as of the put,
// or as corrected here), by LoginAt and by expiry. One script call
// (lua/session_due.lua) drops the entries of sessions whose ttl ran out and
// returns the hashes whose index times say they may be due: with nothing
// due, that is the whole call, a range query on two sorted sets. Each
// candidate then gets one script call on its own session key
// (lua/session_expire.lua), all in one pipeline, that checks the session's
// own times and, when it is due, turns it into its tombstone: the atomic
// step that makes each end reported once, by the one caller (or EndSession)
// that made it. A last pipeline drops the ended and stale hashes from the
// indexes and from their accounts, and moves those found not due (touched
// since they were filed) to their LastSeen. At most sessionBatch hashes
// are taken from each index per call. Every caller checks the same
// candidates (only one ends each); were the reply of a pipeline lost on the
// way (the connection failed after Redis ran the scripts), the sessions it
// ended would not be reported.
func (s *Store) ExpiredSessions(ctx context.Context, at time.Time, idle, absolute time.Duration) ([]state.EndedSession, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if idle <= 0 && absolute <= 0 {
		return nil, nil
	}
	now := s.nowMS()
	atMS := now
	if !at.IsZero() {
		atMS = at.UnixMilli()
	}
	idleCut, absCut := "", ""
	if idle > 0 {
		idleCut = strconv.FormatInt(atMS-ms(idle), 10)
	}
	if absolute > 0 {
		absCut = strconv.FormatInt(atMS-ms(absolute), 10)
	}
	index := s.sessionIndexKeys()
	hashes, err := s.pipe.run(ctx, sessionScripts.due, index, now, idleCut, absCut, sessionBatch).StringSlice()
	if err != nil {
		return nil, s.wrap("expired sessions", err)
	}
	if len(hashes) == 0 {
		return nil, nil
	}

	calls := make([]scriptCall, len(hashes))
	for i, h := range hashes {
		calls[i] = scriptCall{
			script: sessionScripts.expire, keys: []string{s.sessionKey(h)},
			args: []any{now, atMS, ms(idle), ms(absolute)},
		}
	}
	errs := s.evalPipelined(ctx, nil, calls...)
	var (
		out      []state.EndedSession
		drop     []any
		rescore  []redis.Z
		accounts = map[string][]any{}
		firstErr error
	)
	for i, h := range hashes {
		if errs[i] != nil {
			firstErr = cmp.Or(firstErr, errs[i])
			continue
		}
		r, err := calls[i].cmd.Slice()
		if err == nil && len(r) == 0 {
			err = errReply
		}
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		switch flag, _ := r[0].(int64); flag {
		case 1:
			_, v, err := endReply(r)
			if err != nil {
				firstErr = cmp.Or(firstErr, err)
				continue
			}
			sess := v.session()
			out = append(out, state.EndedSession{Hash: h, Session: sess})
			drop = append(drop, h)
			key := s.accountSessionsKey(sess.Account)
			accounts[key] = append(accounts[key], h)
		case 2:
			seen, err := replyInt(r, 1)
			if err != nil {
				firstErr = cmp.Or(firstErr, err)
				continue
			}
			rescore = append(rescore, redis.Z{Score: float64(seen), Member: h})
		default:
			drop = append(drop, h)
		}
	}
	if len(drop) > 0 || len(rescore) > 0 {
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			if len(drop) > 0 {
				for _, k := range index {
					p.ZRem(ctx, k, drop...)
				}
			}
			for k, hs := range accounts {
				p.ZRem(ctx, k, hs...)
			}
			if len(rescore) > 0 {
				p.ZAddXX(ctx, index[0], rescore...)
			}
			return nil
		})
		// The ends are made: a failure here only leaves hints that the
		// next call finds stale.
		firstErr = cmp.Or(firstErr, err)
	}
	slices.SortStableFunc(out, func(a, b state.EndedSession) int {
		return cmp.Or(a.EndedAt.Compare(b.EndedAt), strings.Compare(a.Hash, b.Hash))
	})
	if firstErr != nil {
		return out, s.wrap("expired sessions", firstErr)
	}
	return out, nil
}

// AccountSessions implements state.Store in two round trips: the account's
// hashes whose ttl has not run out (a sorted set scored by expiry), then a
// pipeline of GETs of their session keys, since a hash stays filed under its
// account after EndSession; the hashes found ended or gone are dropped from
// the account's set (a third round trip, only then). A session stored by
// the version before sessions were tracked is not filed, so not listed.
func (s *Store) AccountSessions(ctx context.Context, account string) ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	now := s.nowMS()
	key := s.accountSessionsKey(account)
	hashes, err := s.client.ZRangeByScore(ctx, key, &redis.ZRangeBy{Min: "(" + strconv.FormatInt(now, 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, s.wrap("account sessions", err)
	}
	if len(hashes) == 0 {
		return nil, nil
	}
	gets := make([]*redis.StringCmd, len(hashes))
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range hashes {
			gets[i] = p.Get(ctx, s.sessionKey(h))
		}
		return nil
	})
	type found struct {
		hash  string
		login int64
	}
	var live []found
	var stale []any
	for i, h := range hashes {
		v, err := gets[i].Bytes()
		if errors.Is(err, redis.Nil) {
			stale = append(stale, h)
			continue
		}
		if err != nil {
			return nil, s.wrap("account sessions", err)
		}
		st, err := decodeSession(v)
		if err != nil {
			return nil, fmt.Errorf("redis state: account sessions: %w", err)
		}
		if _, ok, _ := st.at(now); !ok || st.Session.Account != account {
			stale = append(stale, h)
			continue
		}
		live = append(live, found{h, st.Login})
	}
	if len(stale) > 0 {
		if err := s.client.ZRem(ctx, key, stale...).Err(); err != nil {
			return nil, s.wrap("account sessions", err)
		}
	}
	slices.SortFunc(live, func(a, b found) int { return cmp.Or(cmp.Compare(a.login, b.login), strings.Compare(a.hash, b.hash)) })
	out := make([]string, len(live))
	for i, f := range live {
		out[i] = f.hash
	}
	return out, nil
}

// decodeSession reads a session key's value, of either format.
func decodeSession(v []byte) (storedSession, error) {
	var st storedSession
	if err := json.Unmarshal(v, &st); err != nil {
		return st, fmt.Errorf("bad stored session: %w", err)
	}
	return st, nil
}

// session returns the stored session with its times.
func (st storedSession) session() state.Session {
	sess := st.Session
	sess.LoginAt, sess.LastSeen = msTime(st.Login), msTime(st.Seen)
	sess.Status, sess.EndedAt = st.Status, time.Time{}
	if st.Status != "" {
		sess.EndedAt = fromMS(st.Expires)
	}
	return sess
}

// at returns the session at now (Unix ms) and whether it is live, or a
// tombstone still kept.
func (st storedSession) at(now int64) (sess state.Session, live, ended bool) {
	if st.Status != "" {
		return st.session(), false, now < st.Until
	}
	return st.session(), now < st.Expires, false
}

// msTime is fromMS, with 0 for the zero time (a session stored before
// sessions were tracked has no times).
func msTime(t int64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return fromMS(t)
}

// endReply reads {flag, value} from the end and expire scripts.
func endReply(r []any) (int64, storedSession, error) {
	flag, ok := r[0].(int64)
	if len(r) != 2 || !ok {
		return 0, storedSession{}, errReply
	}
	v, ok := r[1].(string)
	if !ok {
		return 0, storedSession{}, errReply
	}
	st, err := decodeSession([]byte(v))
	return flag, st, err
}

func replyInt(r []any, i int) (int64, error) {
	if len(r) <= i {
		return 0, errReply
	}
	v, ok := r[i].(string)
	if !ok {
		return 0, errReply
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errReply
	}
	return n, nil
}

// scriptCall is one script call of evalPipelined; cmd is its reply.
type scriptCall struct {
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
}

// evalPipelined sends the commands that also adds and the script calls in
// one pipeline (per cluster node): EVALSHA, then EVAL for the calls whose
// node did not have the script (a restarted server, SCRIPT FLUSH, a new
// node). It sets each call's cmd and returns each call's error.
func (s *Store) evalPipelined(ctx context.Context, also func(redis.Pipeliner), calls ...scriptCall) []error {
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		if also != nil {
			also(p)
		}
		for i := range calls {
			c := &calls[i]
			c.cmd = c.script.EvalSha(ctx, p, c.keys, c.args...)
		}
		return nil
	})
	var again []int
	for i, c := range calls {
		if isNoScript(c.cmd.Err()) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range again {
				c := &calls[i]
				c.cmd = c.script.Eval(ctx, p, c.keys, c.args...)
			}
			return nil
		})
	}
	errs := make([]error, len(calls))
	for i, c := range calls {
		if err := c.cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			errs[i] = err
		}
	}
	return errs
}
