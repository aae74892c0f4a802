-- session.lua: what every script on one session key needs, before its own
-- file (see sessions.go). A session key holds the JSON of storedSession, its
-- fields always in this order, so that the scripts read and rewrite it with a
-- pattern and never decode the session itself (the "s" member); or a value of
-- the version before tracking, {"exp":...,"s":{...}}, read as a live session
-- without times.
-- SLACK, added to the key's time to live for clock skew between instances, is
-- defined before this file, from the Go constant slackMS.

-- parse returns the fields of a session value as strings (legacy true for the
-- older format), or nil for a value of neither format.
local function parse(v)
  local seen, exp, untl, login, ttl, st, body = string.match(v,
    '^{"seen":(%-?%d+),"exp":(%-?%d+),"until":(%-?%d+),"login":(%-?%d+),"ttl":(%-?%d+),"st":"([%w_%.%-]*)","s":(.*)}$')
  if seen then
    return {seen = seen, exp = exp, untl = untl, login = login, ttl = ttl, st = st, body = body}
  end
  exp, body = string.match(v, '^{"exp":(%-?%d+),"s":(.*)}$')
  if exp then
    return {seen = '0', exp = exp, untl = '0', login = '0', ttl = '0', st = '', body = body, legacy = true}
  end
  return nil
end

local function unreadable()
  return redis.error_reply('ERR session value unreadable')
end

local function format(t)
  return '{"seen":' .. t.seen .. ',"exp":' .. t.exp .. ',"until":' .. t.untl .. ',"login":' .. t.login ..
    ',"ttl":' .. t.ttl .. ',"st":"' .. t.st .. '","s":' .. t.body .. '}'
end

-- live reports whether t is a live session at now; ended whether it is a
-- tombstone still kept at now.
local function live(t, now)
  return t.st == '' and tonumber(t.exp) > now
end
local function ended(t, now)
  return t.st ~= '' and tonumber(t.untl) > now
end

-- bury turns the live session t under key into its tombstone: ended at at
-- (text), with status, kept for the session's ttl from now (a legacy one until
-- its expiry). It returns the tombstone's value.
local function bury(key, t, now, at, status)
  local keep = tonumber(t.ttl)
  local untl = tonumber(t.exp)
  if keep > 0 then
    untl = now + keep
  end
  t.exp, t.untl, t.st = at, string.format('%.0f', untl), status
  local v = format(t)
  redis.call('SET', key, v, 'PX', string.format('%.0f', untl - now + SLACK))
  return v
end

-- collect drops from the indexes KEYS[1..3] (by LastSeen, by LoginAt, by
-- expiry) at most max sessions whose ttl ran out by now.
local function collect(now, max)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, max)
  if #gone > 0 then
    for i = 1, 3 do
      redis.call('ZREM', KEYS[i], unpack(gone))
    end
  end
end
