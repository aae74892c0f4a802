-- finish.lua: release a slot and record the outcome; lock the account when the
-- failures reach the limit.
-- KEYS[1] the account, KEYS[2] its bucket's index of locked accounts.
-- ARGV: now, slot id, outcome (1 success, 2 counted failure, else uncounted),
-- max failures, window, lock duration, backoff (1/0), max lock duration,
-- lock memory, account name.
-- Returns {failures, locked, newly locked, locked until}.
local now, max = tonumber(ARGV[1]), tonumber(ARGV[4])
local a = load(KEYS[1])
setWindow(a, tonumber(ARGV[5]))
refresh(a, now)
release(a, ARGV[2])
local newly = false
if ARGV[3] == '1' then
  if #a.f > 0 then
    a.f = {}
    a.dirty = true
  end
elseif ARGV[3] == '2' then
  addFailure(a, now, max)
  if not a.lk and #a.f >= max then
    a.lv = a.lv + 1
    a.lk = true
    a.lm = tonumber(ARGV[9])
    a.lu = 0
    a.un = 0
    local base = tonumber(ARGV[6])
    if base > 0 then
      a.un = now + lockLength(base, ARGV[7] == '1', tonumber(ARGV[8]), a.lv)
    end
    newly = true
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', int(now))
    redis.call('ZADD', KEYS[2], indexScore(a), ARGV[10])
  end
end
save(KEYS[1], a, now)
return {#a.f, flag(a.lk), flag(newly), lockedUntil(a)}
