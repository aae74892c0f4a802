package redisstate

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// PutAlias implements state.Store with one SET of "<expiry ms>|<account>"; the
// expiry is on the store's clock, the key's own time to live is only garbage
// collection. A ttl that is not positive forgets the alias.
func (s *Store) PutAlias(ctx context.Context, name, account string, ttl time.Duration) error {
	if err := s.check(); err != nil {
		return err
	}
	key := s.aliasKey(name)
	if ttl <= 0 {
		if err := s.client.Del(ctx, key).Err(); err != nil {
			return s.wrap("put alias", err)
		}
		return nil
	}
	v := strconv.FormatInt(s.nowMS()+ms(ttl), 10) + "|" + account
	if err := s.client.Set(ctx, key, v, ttl+sessionSlack).Err(); err != nil {
		return s.wrap("put alias", err)
	}
	return nil
}

// Alias implements state.Store with one GET.
func (s *Store) Alias(ctx context.Context, name string) (string, bool, error) {
	if err := s.check(); err != nil {
		return "", false, err
	}
	v, err := s.client.Get(ctx, s.aliasKey(name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, s.wrap("alias", err)
	}
	exp, account, ok := strings.Cut(v, "|")
	ms, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || s.nowMS() >= ms {
		return "", false, nil
	}
	return account, true, nil
}
