package redisstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
)

// storedSession is a session as kept in Redis: with its expiry on the store's
// clock, since the key's own expiry is only garbage collection.
type storedSession struct {
	Expires int64         `json:"exp"`
	Session state.Session `json:"s"`
}

// sessionSlack is added to a session key's time to live, for clock skew.
const sessionSlack = time.Minute

// PutSession implements state.Store with one SET. A ttl that is not positive
// only forgets an earlier session behind hash.
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
	v, err := json.Marshal(storedSession{Expires: s.nowMS() + ms(ttl), Session: sess})
	if err != nil {
		return fmt.Errorf("redis state: put session: %w", err)
	}
	if err := s.client.Set(ctx, key, v, ttl+sessionSlack).Err(); err != nil {
		return s.wrap("put session", err)
	}
	return nil
}

// TakeSession implements state.Store with one GETDEL.
func (s *Store) TakeSession(ctx context.Context, hash string) (state.Session, bool, error) {
	if err := s.check(); err != nil {
		return state.Session{}, false, err
	}
	v, err := s.client.GetDel(ctx, s.sessionKey(hash)).Bytes()
	if errors.Is(err, redis.Nil) {
		return state.Session{}, false, nil
	}
	if err != nil {
		return state.Session{}, false, s.wrap("take session", err)
	}
	var st storedSession
	if err := json.Unmarshal(v, &st); err != nil {
		return state.Session{}, false, fmt.Errorf("redis state: take session: bad stored value: %w", err)
	}
	if s.nowMS() >= st.Expires {
		return state.Session{}, false, nil
	}
	return st.Session, true, nil
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
	var st storedSession
	if err := json.Unmarshal(v, &st); err != nil {
		return state.Session{}, false, fmt.Errorf("redis state: get session: bad stored value: %w", err)
	}
	if s.nowMS() >= st.Expires {
		return state.Session{}, false, nil
	}
	return st.Session, true, nil
}
