-- unblock.lua: lift the block of a range. KEYS[1] the blocks hash.
-- ARGV: now, range. Returns {1} if the range was blocked.
local u = redis.call('HGET', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[2])
if u then
  u = tonumber(u) or 0
  if u == 0 or tonumber(ARGV[1]) < u then
    return {1}
  end
end
return {0}
