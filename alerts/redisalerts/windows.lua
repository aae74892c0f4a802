-- One alerts.Op on one rule and subject (see redisalerts.go).
-- KEYS[1]  the subject's window: a sorted set of times (CountTime, NoteTime,
--          TakeTimes: a unique member per event) or members (CountMember),
--          scored by their time in Unix milliseconds
-- KEYS[2]  the time of the rule's last alert for the subject (a string, ms)
-- ARGV     kind ("t" CountTime, "n" NoteTime, "m" CountMember, "k" TakeTimes,
--          "c" Claim), at, window, threshold, cooldown (ms), member, count
-- Returns  {count, fired (0 or 1)}.
-- Times are the callers'; key expiry (the window or cooldown plus SLACK, for
-- clocks that differ) is only garbage collection.
local kind = ARGV[1]
local at, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local threshold, cooldown = tonumber(ARGV[4]), tonumber(ARGV[5])
local w = KEYS[1]
local count
if kind == 'c' then
  count = tonumber(ARGV[7])
elseif kind == 'k' then
  redis.call('ZREMRANGEBYSCORE', w, '-inf', at - window)
  count = redis.call('ZCARD', w)
  redis.call('DEL', w)
else
  if kind == 'm' then
    -- A member seen again keeps the later of its times (clocks differ).
    redis.call('ZADD', w, 'GT', at, ARGV[6])
  else
    redis.call('ZADD', w, at, ARGV[6])
  end
  redis.call('ZREMRANGEBYSCORE', w, '-inf', at - window)
  count = redis.call('ZCARD', w)
  if count > threshold then
    -- Only reaching the threshold matters: keep the latest.
    redis.call('ZREMRANGEBYRANK', w, 0, count - threshold - 1)
    count = threshold
  end
  redis.call('PEXPIRE', w, window + SLACK)
  if kind == 'n' then
    return {0, 0}
  end
end
if kind ~= 'c' and count < threshold then
  return {count, 0}
end
local last = redis.call('GET', KEYS[2])
if last and at - tonumber(last) < cooldown then
  return {count, 0}
end
redis.call('SET', KEYS[2], at, 'PX', cooldown + SLACK)
return {count, 1}
