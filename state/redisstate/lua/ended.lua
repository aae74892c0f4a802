-- ended.lua: take the ended locks of one bucket: those filed in its list of
-- ended locks, then those its index holds with an end at or before now.
-- KEYS[1] the bucket's index, KEYS[2] its ended locks. ARGV: now, the most to
-- take. Returns {name, end, name, end, ...}.
local max = tonumber(ARGV[2])
local out = redis.call('ZRANGE', KEYS[2], 0, max - 1, 'WITHSCORES')
for i = 1, #out, 2 do
  redis.call('ZREM', KEYS[2], out[i])
end
local left = max - #out / 2
if left > 0 then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, left)
  for i = 1, #due, 2 do
    redis.call('ZREM', KEYS[1], due[i])
    out[#out + 1] = due[i]
    out[#out + 1] = due[i + 1]
  end
end
return out
