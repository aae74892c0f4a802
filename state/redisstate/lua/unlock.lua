-- unlock.lua: lift a lock and the pairs' locks, clear the failures and the
-- backoff level; the known prefixes stay.
-- KEYS[1] the account, KEYS[2] its bucket's index, KEYS[3] its ended locks.
-- ARGV: now, account name.
-- Returns 1 if the account was locked.
local now = tonumber(ARGV[1])
local a = load(redis.call('GET', KEYS[1]))
refresh(a, now)
local was = 0
if a.lk then
  was = 1
end
a.lk = false
a.ad = false
a.p = NONE
a.un = 0
a.f, a.fr = NONE, nil
a.lv = 0
a.lu = 0
a.dirty = true
save(KEYS[1], a, now)
fileEnded(KEYS[2], KEYS[3], ARGV[2], now)
redis.call('ZREM', KEYS[2], ARGV[2])
return {was}
