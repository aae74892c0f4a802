package redisstate

import (
	"context"
	_ "embed"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/state"
)

var (
	//go:embed lua/block.lua
	blockLua string
	//go:embed lua/unblock.lua
	unblockLua string

	blockScript   = redis.NewScript(blockLua)
	unblockScript = redis.NewScript(unblockLua)
)

// blocksKey is the hash of blocked IP ranges: canonical range -> end of the
// block in ms on the store's clock, 0 for a permanent block. It is one key (one
// slot on a cluster): blocks are admin operations.
func (s *Store) blocksKey() string { return s.prefix + "blocks" }

// Block implements state.Store with one script call.
func (s *Store) Block(ctx context.Context, cidr string, d time.Duration) error {
	p, err := state.ParseIPRange(cidr)
	if err != nil {
		return err
	}
	now := s.nowMS()
	var until int64
	if d > 0 {
		until = now + ms(d)
	}
	_, err = s.run(ctx, "block", blockScript, []string{s.blocksKey()}, now, until, p.String())
	return err
}

// Unblock implements state.Store with one script call.
func (s *Store) Unblock(ctx context.Context, cidr string) (bool, error) {
	p, err := state.ParseIPRange(cidr)
	if err != nil {
		return false, err
	}
	v, err := s.run(ctx, "unblock", unblockScript, []string{s.blocksKey()}, s.nowMS(), p.String())
	if err != nil {
		return false, err
	}
	if err := want("unblock", v, 1); err != nil {
		return false, err
	}
	return v[0] == 1, nil
}

// BlockedIPs implements state.Store with one HGETALL.
func (s *Store) BlockedIPs(ctx context.Context) ([]state.IPBlock, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	h, err := s.client.HGetAll(ctx, s.blocksKey()).Result()
	if err != nil {
		return nil, s.wrap("blocked ips", err)
	}
	now := s.nowMS()
	type entry struct {
		p     netip.Prefix
		until int64
	}
	var entries []entry
	for k, v := range h {
		p, err := netip.ParsePrefix(k)
		if err != nil {
			continue // not written by this package
		}
		u, err := strconv.ParseInt(v, 10, 64)
		if err != nil || (u != 0 && now >= u) {
			continue
		}
		entries = append(entries, entry{p, u})
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.p.Compare(b.p) })
	out := make([]state.IPBlock, len(entries))
	for i, e := range entries {
		out[i] = state.IPBlock{CIDR: e.p.String(), Permanent: e.until == 0, Until: until(e.until)}
	}
	return out, nil
}
