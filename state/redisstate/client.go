package redisstate

import "github.com/redis/go-redis/v9"

// Client returns the store's Redis client, for other users of the same Redis
// (the rate limiter) to share its connections. Closing the store closes it.
func (s *Store) Client() redis.UniversalClient { return s.client }
