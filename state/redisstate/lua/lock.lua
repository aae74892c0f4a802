-- lock.lua: an admin lock, for a duration or (duration <= 0) until unlocked.
-- KEYS[1] the account, KEYS[2] its bucket's index, KEYS[3] its ended locks.
-- ARGV: now, duration, account name.
local now, d = tonumber(ARGV[1]), tonumber(ARGV[2])
local a = load(redis.call('GET', KEYS[1]))
refresh(a, now)
a.lk = true
a.ad = true
a.un = 0
if d > 0 then
  a.un = now + d
end
a.dirty = true
save(KEYS[1], a, now)
local score = '+inf'
if a.un ~= 0 then
  score = format('%d', a.un)
end
fileEnded(KEYS[2], KEYS[3], ARGV[3], now)
redis.call('ZADD', KEYS[2], score, ARGV[3])
return {1}
