-- block.lua: block an IP range, dropping blocks that ended.
-- KEYS[1] the blocks hash (range -> end in ms, 0 for permanent).
-- ARGV: now, end of the new block (0: permanent), range.
local now = tonumber(ARGV[1])
local h = redis.call('HGETALL', KEYS[1])
for i = 1, #h, 2 do
  local u = tonumber(h[i + 1]) or 0
  if u ~= 0 and now >= u then
    redis.call('HDEL', KEYS[1], h[i])
  end
end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[2])
return {1}
