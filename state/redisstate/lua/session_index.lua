-- session_index.lua: file a session put in the indexes, and drop from them a
-- few sessions whose ttl ran out. KEYS: the indexes by LastSeen, by LoginAt,
-- by expiry. ARGV: hash, LastSeen, LoginAt, expiry, now (the store's clock),
-- the most to drop.
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
local now = tonumber(ARGV[5])
collect(now, ARGV[6])
-- The indexes go when the last session they hold would have.
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
local ttl = string.format('%.0f', tonumber(last[2]) - now + SLACK)
for i = 1, 3 do
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return 0
