-- session_touch.lua: TouchSession (and, with every empty, Session's read).
-- KEYS[1] the session key. ARGV: now (the store's clock), at, every (ms).
-- Returns the value after the call: a live session, with at as its LastSeen
-- when the one stored is every or more older; a tombstone still kept; nil for
-- nothing.
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
  return v
end
if not live(t, now) then
  return false
end
local at, seen = tonumber(ARGV[2]), tonumber(t.seen)
if not t.legacy and at > seen and at - seen >= tonumber(ARGV[3]) then
  t.seen = ARGV[2]
  v = format(t)
  redis.call('SET', KEYS[1], v, 'KEEPTTL')
end
return v
