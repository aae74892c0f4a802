-- session_expire.lua: end one session that may be due for a timeout
-- (ExpiredSessions). KEYS[1] the session key. ARGV: now (the store's clock),
-- at, idle, absolute (ms; 0 turns a timeout off).
-- Returns {1, tombstone} when it ended the session, {2, LastSeen} when the
-- live session is not due, {0} when the key holds no live session that a
-- timeout could end.
local v = redis.call('GET', KEYS[1])
if not v then
  return {0}
end
local t = parse(v)
if not t then
  return unreadable()
end
local now = tonumber(ARGV[1])
if t.legacy or not live(t, now) then
  return {0}
end
local at, idle, absolute = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local seen = tonumber(t.seen)
local status, due
if absolute > 0 then
  local da = tonumber(t.login) + absolute
  if idle <= 0 or seen + idle >= da then
    status, due = 'absolute_timeout', da
  end
end
if not status and idle > 0 then
  status, due = 'idle_timeout', seen + idle
end
if not status or due > at then
  return {2, t.seen}
end
return {1, bury(KEYS[1], t, now, string.format('%.0f', due), status)}
