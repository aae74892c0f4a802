package redisstate

import "github.com/redis/go-redis/v9"

// AddHook adds a go-redis hook to the store's client, for tests that count
// round trips.
func (s *Store) AddHook(h redis.Hook) { s.client.AddHook(h) }

// Keys returns the keys that hold account's state and its bucket's index.
func (s *Store) Keys(account string) (state, index string) {
	keys := s.lockKeys(account)
	return keys[0], keys[1]
}

// SessionKey returns the key of the session behind a cookie hash.
func (s *Store) SessionKey(hash string) string { return s.sessionKey(hash) }
