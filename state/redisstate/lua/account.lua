-- account.lua: the state of one account, shared by every account script (each
-- script is this file followed by its own). Times are milliseconds on the
-- caller's clock, passed in ARGV; Redis TIME is never read, and key expiry is
-- only garbage collection.
--
-- The account is one string of space-separated name=value fields, e.g.
-- "w=900000 lk=1 un=1767225600000 lv=1 lu=0 lm=3600000 f=1767224700000,1767224710000":
--   w   window in ms (0: failures stay until a success, a reset or a lock ends)
--   lk  1 while locked
--   un  end of the lock in ms; 0 while locked means permanent
--   lv  backoff level: automatic locks remembered
--   lu  when the level is forgotten (only meaningful while not locked)
--   lm  LockMemory in ms of the last automatic lock
--   f   counted failure times, ascending, comma separated (at most MaxFailures)
--   s   in-flight slots "id:expiry" (ids are base 36), comma separated

-- MAXMS caps a lock's length: math.MaxInt64 nanoseconds in milliseconds, so that
-- every time stays an exact integer in a Lua number.
local MAXMS = 9223372036854
-- SLACK is added to every key's time to live, for clock skew between instances.
local SLACK = 60000

local function int(x)
  return string.format('%d', x)
end

local function load(key)
  local a = {lk = false, un = 0, lv = 0, lu = 0, lm = 0, w = 0, f = {}, s = {}, dirty = false}
  local v = redis.call('GET', key)
  if not v then
    return a
  end
  for k, x in string.gmatch(v, '(%a+)=(%S*)') do
    if k == 'f' then
      for t in string.gmatch(x, '%-?%d+') do
        a.f[#a.f + 1] = tonumber(t)
      end
    elseif k == 's' then
      for id, e in string.gmatch(x, '(%w+):(%-?%d+)') do
        a.s[#a.s + 1] = {id, tonumber(e)}
      end
    elseif k == 'lk' then
      a.lk = x == '1'
    elseif k == 'un' or k == 'lv' or k == 'lu' or k == 'lm' or k == 'w' then
      a[k] = tonumber(x) or 0
    end
  end
  return a
end

-- setWindow applies the window of the policy that came with the call.
local function setWindow(a, w)
  if a.w ~= w then
    a.w = w
    a.dirty = true
  end
end

-- refresh forgets what time has ended: a lock that ran out (and with it the
-- failure count), a backoff level past its memory, failures that left the
-- window, slots that expired.
local function refresh(a, now)
  if a.lk and a.un ~= 0 and now >= a.un then
    a.lk = false
    a.f = {}
    a.lu = a.un + a.lm
    a.un = 0
    a.dirty = true
  end
  if not a.lk and a.lv > 0 and now >= a.lu then
    a.lv = 0
    a.lu = 0
    a.dirty = true
  end
  if a.w > 0 then
    local n = 0
    while n < #a.f and now - a.f[n + 1] >= a.w do
      n = n + 1
    end
    if n > 0 then
      local keep = {}
      for i = n + 1, #a.f do
        keep[#keep + 1] = a.f[i]
      end
      a.f = keep
      a.dirty = true
    end
  end
  local live = {}
  for _, s in ipairs(a.s) do
    if now < s[2] then
      live[#live + 1] = s
    end
  end
  if #live ~= #a.s then
    a.s = live
    a.dirty = true
  end
end

-- release drops the slot id; it reports whether the account held it.
local function release(a, id)
  for i, s in ipairs(a.s) do
    if s[1] == id then
      table.remove(a.s, i)
      a.dirty = true
      return true
    end
  end
  return false
end

-- addFailure records a failure at t, in time order, keeping the newest max.
local function addFailure(a, t, max)
  local i = #a.f + 1
  while i > 1 and a.f[i - 1] > t do
    i = i - 1
  end
  table.insert(a.f, i, t)
  while #a.f > max do
    table.remove(a.f, 1)
  end
  a.dirty = true
end

-- lockLength is how long automatic lock number level (from 1) lasts.
local function lockLength(base, backoff, cap, level)
  local d = base
  if not backoff then
    return d
  end
  for _ = 2, level do
    if cap > 0 and d >= cap then
      break
    end
    if d > MAXMS / 2 then
      return MAXMS
    end
    d = d * 2
    if cap > 0 and d > cap then
      d = cap
    end
  end
  return d
end

-- indexScore is the account's score in its bucket's index of locked accounts:
-- the end of the lock, or +inf for a permanent one.
local function indexScore(a)
  if a.un == 0 then
    return '+inf'
  end
  return int(a.un)
end

-- save writes the account back if it changed, or deletes it when it holds
-- nothing; its time to live outlasts everything it holds.
local function save(key, a, now)
  if not a.dirty then
    return
  end
  if #a.f == 0 and #a.s == 0 and not a.lk and a.lv == 0 then
    redis.call('DEL', key)
    return
  end
  local v = {'w=' .. int(a.w)}
  local last, forever = now, false
  if a.lk then
    v[#v + 1] = 'lk=1 un=' .. int(a.un)
    if a.un == 0 then
      forever = true
    else
      last = math.max(last, a.un + a.lm)
    end
  end
  if a.lv > 0 then
    v[#v + 1] = 'lv=' .. int(a.lv) .. ' lu=' .. int(a.lu)
    if not a.lk then
      last = math.max(last, a.lu)
    end
  end
  if a.lm ~= 0 then
    v[#v + 1] = 'lm=' .. int(a.lm)
  end
  if #a.f > 0 then
    local fs = {}
    for i, t in ipairs(a.f) do
      fs[i] = int(t)
    end
    v[#v + 1] = 'f=' .. table.concat(fs, ',')
    if a.w > 0 then
      last = math.max(last, a.f[#a.f] + a.w)
    else
      forever = true
    end
  end
  if #a.s > 0 then
    local ss = {}
    for i, s in ipairs(a.s) do
      ss[i] = s[1] .. ':' .. int(s[2])
      last = math.max(last, s[2])
    end
    v[#v + 1] = 's=' .. table.concat(ss, ',')
  end
  if forever then
    redis.call('SET', key, table.concat(v, ' '))
  else
    redis.call('SET', key, table.concat(v, ' '), 'PX', int(last - now + SLACK))
  end
end

local function flag(b)
  if b then
    return 1
  end
  return 0
end

-- lockedUntil is the end of the lock to report: 0 when not locked or permanent.
local function lockedUntil(a)
  if a.lk then
    return a.un
  end
  return 0
end
