-- session_end.lua: EndSession. KEYS[1] the session key. ARGV: now (the
-- store's clock), at, status.
-- Returns {1, tombstone} when it ended the live session, {0, tombstone} for a
-- session that ended before, nil for nothing.
local v = redis.call('GET', KEYS[1])
if not v then
  return false
end
local t = parse(v)
if not t then
  return unreadable()
end
local now = tonumber(ARGV[1])
if ended(t, now) then
  return {0, v}
end
if not live(t, now) then
  return false
end
return {1, bury(KEYS[1], t, now, ARGV[2], ARGV[3])}
