-- finish.lua: release a slot and record the outcome; lock the account when its
-- failures reach the limit, and the pair when the pair's do; a success makes
-- the prefix known.
-- KEYS[1] the account, KEYS[2] its bucket's index of locked accounts.
-- ARGV: now, slot id, outcome (1 success, 2 counted failure, else uncounted),
-- max failures, window, lock duration, backoff (1/0), max lock duration,
-- lock memory, account name, prefix ("" for none), pair limit (0: pairs off),
-- known prefix ttl (0: off).
-- Returns {failures, locked, newly locked, locked until, pair failures, pair
-- locked, pair newly locked, pair locked until}.
local now, max = tonumber(ARGV[1]), tonumber(ARGV[4])
local pf, plimit, kttl = ARGV[11], tonumber(ARGV[12]), tonumber(ARGV[13])
if pf == '' then
  plimit = 0
end
local a = load(KEYS[1])
setWindow(a, tonumber(ARGV[5]))
refresh(a, now)
release(a, ARGV[2])
local pr = nil
if plimit > 0 then
  pr = findPair(a, pf)
end
local newly, pnewly = false, false
local base = tonumber(ARGV[6])
if ARGV[3] == '1' then
  if #a.f > 0 then
    a.f = {}
    a.dirty = true
  end
  if pr and #pr.f > 0 then
    pr.f = {}
    a.dirty = true
  end
  if pf ~= '' and kttl > 0 then
    addKnown(a, pf, now + kttl)
  end
elseif ARGV[3] == '2' then
  addFailure(a, now, max)
  if not a.lk and #a.f >= max then
    a.lv = a.lv + 1
    a.lk = true
    a.ad = false
    a.lm = tonumber(ARGV[9])
    a.lu = 0
    a.un = 0
    if base > 0 then
      a.un = now + lockLength(base, ARGV[7] == '1', tonumber(ARGV[8]), a.lv)
    end
    newly = true
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', int(now))
    redis.call('ZADD', KEYS[2], indexScore(a), ARGV[10])
  end
  if plimit > 0 then
    pr = addPair(a, pf)
    insertTime(pr.f, now, plimit)
    if not pr.lk and #pr.f >= plimit then
      pr.lk = true
      pr.un = 0
      if base > 0 then
        pr.un = now + base
      end
      pnewly = true
    end
  end
end
save(KEYS[1], a, now)
local p1, p2, p4 = 0, 0, 0
if pr then
  p1, p2 = #pr.f, flag(pr.lk)
  if pr.lk then
    p4 = pr.un
  end
end
return {#a.f, flag(a.lk), flag(newly), lockedUntil(a), p1, p2, flag(pnewly), p4}
