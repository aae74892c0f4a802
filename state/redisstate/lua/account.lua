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
--   s   in-flight slots "id:expiry" or "id:expiry@prefix" (ids are base 36),
--       comma separated
--   ad  1 while the lock is an admin's
--   p   (account, prefix) pairs "prefix|locked|until|f1;f2", comma separated
--       (at most MAXPAIRS; until 0 while locked means permanent)
--   k   known prefixes "prefix|until", comma separated (at most MAXKNOWN)
--
-- Prefixes come in canonical form from the Go side (hex digits, ".", ":" and
-- "/" only), so they never hold a separator. MAXPAIRS and MAXKNOWN are
-- defined before this file, from the Go constants.

-- MAXMS caps a lock's length: math.MaxInt64 nanoseconds in milliseconds, so that
-- every time stays an exact integer in a Lua number.
local MAXMS = 9223372036854
-- SLACK is added to every key's time to live, for clock skew between instances.
local SLACK = 60000

local function int(x)
  return string.format('%d', x)
end

local function load(key)
  local a = {lk = false, ad = false, un = 0, lv = 0, lu = 0, lm = 0, w = 0, f = {}, s = {}, p = {}, k = {},
    dirty = false}
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
      for e in string.gmatch(x, '[^,]+') do
        local id, t, pf = string.match(e, '^(%w+):(%-?%d+)@?(.*)$')
        if id then
          a.s[#a.s + 1] = {id, tonumber(t), pf}
        end
      end
    elseif k == 'p' then
      for e in string.gmatch(x, '[^,]+') do
        local pf, lk, un, fs = string.match(e, '^([^|]+)|(%d)|(%-?%d+)|(.*)$')
        if pf then
          local pr = {pf = pf, lk = lk == '1', un = tonumber(un), f = {}}
          for t in string.gmatch(fs, '%-?%d+') do
            pr.f[#pr.f + 1] = tonumber(t)
          end
          a.p[#a.p + 1] = pr
        end
      end
    elseif k == 'k' then
      for e in string.gmatch(x, '[^,]+') do
        local pf, u = string.match(e, '^([^|]+)|(%-?%d+)$')
        if pf then
          a.k[#a.k + 1] = {pf, tonumber(u)}
        end
      end
    elseif k == 'lk' then
      a.lk = x == '1'
    elseif k == 'ad' then
      a.ad = x == '1'
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

-- age drops the times in f that left a window of w (none when w <= 0); it
-- returns the times kept and whether any were dropped.
local function age(f, now, w)
  if w <= 0 then
    return f, false
  end
  local n = 0
  while n < #f and now - f[n + 1] >= w do
    n = n + 1
  end
  if n == 0 then
    return f, false
  end
  local keep = {}
  for i = n + 1, #f do
    keep[#keep + 1] = f[i]
  end
  return keep, true
end

-- prunePairs drops the pairs that hold neither failures nor a lock.
local function prunePairs(a)
  local keep = {}
  for _, pr in ipairs(a.p) do
    if pr.lk or #pr.f > 0 then
      keep[#keep + 1] = pr
    end
  end
  if #keep ~= #a.p then
    a.p = keep
    a.dirty = true
  end
end

-- refresh forgets what time has ended: a lock that ran out (and with it the
-- failure counts, the account's and its pairs'), a backoff level past its
-- memory, pair locks that ran out (and their counts), failures that left the
-- window, slots and known prefixes that expired.
local function refresh(a, now)
  if a.lk and a.un ~= 0 and now >= a.un then
    a.lk = false
    a.ad = false
    a.f = {}
    for _, pr in ipairs(a.p) do
      pr.f = {}
    end
    a.lu = a.un + a.lm
    a.un = 0
    a.dirty = true
  end
  if not a.lk and a.lv > 0 and now >= a.lu then
    a.lv = 0
    a.lu = 0
    a.dirty = true
  end
  local changed
  a.f, changed = age(a.f, now, a.w)
  if changed then
    a.dirty = true
  end
  for _, pr in ipairs(a.p) do
    if pr.lk and pr.un ~= 0 and now >= pr.un then
      pr.lk = false
      pr.un = 0
      pr.f = {}
      a.dirty = true
    end
    pr.f, changed = age(pr.f, now, a.w)
    if changed then
      a.dirty = true
    end
  end
  prunePairs(a)
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
  local known = {}
  for _, k in ipairs(a.k) do
    if now < k[2] then
      known[#known + 1] = k
    end
  end
  if #known ~= #a.k then
    a.k = known
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

-- insertTime adds t to the ascending times f, keeping the newest max.
local function insertTime(f, t, max)
  local i = #f + 1
  while i > 1 and f[i - 1] > t do
    i = i - 1
  end
  table.insert(f, i, t)
  while #f > max do
    table.remove(f, 1)
  end
end

-- addFailure records a failure at t, in time order, keeping the newest max.
local function addFailure(a, t, max)
  insertTime(a.f, t, max)
  a.dirty = true
end

-- findPair returns the pair of prefix pf, or nil.
local function findPair(a, pf)
  for _, pr in ipairs(a.p) do
    if pr.pf == pf then
      return pr
    end
  end
  return nil
end

-- pairBefore reports whether pair x goes before pair y when a pair must make
-- room: unlocked pairs first, by their last failure, then locked ones by the
-- end of their lock, permanent ones last.
local function pairBefore(x, y)
  if x.lk ~= y.lk then
    return not x.lk
  end
  if not x.lk then
    return (x.f[#x.f] or -1) < (y.f[#y.f] or -1)
  end
  if x.un == 0 then
    return false
  end
  return y.un == 0 or x.un < y.un
end

-- addPair returns the pair of pf, adding it (in place of the first pair by
-- pairBefore when there are MAXPAIRS already) when the account has none.
local function addPair(a, pf)
  local pr = findPair(a, pf)
  if pr then
    return pr
  end
  pr = {pf = pf, lk = false, un = 0, f = {}}
  a.dirty = true
  if #a.p < MAXPAIRS then
    a.p[#a.p + 1] = pr
    return pr
  end
  local v = 1
  for i = 2, #a.p do
    if pairBefore(a.p[i], a.p[v]) then
      v = i
    end
  end
  a.p[v] = pr
  return pr
end

-- inflightFrom counts the slots taken by attempts from prefix pf.
local function inflightFrom(a, pf)
  local n = 0
  for _, s in ipairs(a.s) do
    if s[3] == pf then
      n = n + 1
    end
  end
  return n
end

-- isKnown reports whether pf is a known prefix; call refresh first.
local function isKnown(a, pf)
  for _, k in ipairs(a.k) do
    if k[1] == pf then
      return true
    end
  end
  return false
end

-- addKnown makes pf known until u; past MAXKNOWN it drops the prefix that
-- would expire first.
local function addKnown(a, pf, u)
  a.dirty = true
  for _, k in ipairs(a.k) do
    if k[1] == pf then
      k[2] = u
      return
    end
  end
  if #a.k < MAXKNOWN then
    a.k[#a.k + 1] = {pf, u}
    return
  end
  local first = 1
  for i = 2, #a.k do
    if a.k[i][2] < a.k[first][2] then
      first = i
    end
  end
  a.k[first] = {pf, u}
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

local function flag(b)
  if b then
    return 1
  end
  return 0
end

-- save writes the account back if it changed, or deletes it when it holds
-- nothing; its time to live outlasts everything it holds.
local function save(key, a, now)
  if not a.dirty then
    return
  end
  prunePairs(a)
  if #a.f == 0 and #a.s == 0 and not a.lk and a.lv == 0 and #a.p == 0 and #a.k == 0 then
    redis.call('DEL', key)
    return
  end
  local v = {'w=' .. int(a.w)}
  local last, forever = now, false
  if a.lk then
    v[#v + 1] = 'lk=1 un=' .. int(a.un)
    if a.ad then
      v[#v + 1] = 'ad=1'
    end
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
      if s[3] ~= '' then
        ss[i] = ss[i] .. '@' .. s[3]
      end
      last = math.max(last, s[2])
    end
    v[#v + 1] = 's=' .. table.concat(ss, ',')
  end
  if #a.p > 0 then
    local ps = {}
    for i, pr in ipairs(a.p) do
      local fs = {}
      for j, t in ipairs(pr.f) do
        fs[j] = int(t)
      end
      ps[i] = pr.pf .. '|' .. flag(pr.lk) .. '|' .. int(pr.un) .. '|' .. table.concat(fs, ';')
      if pr.lk then
        if pr.un == 0 then
          forever = true
        else
          last = math.max(last, pr.un)
        end
      end
      if #pr.f > 0 then
        if a.w > 0 then
          last = math.max(last, pr.f[#pr.f] + a.w)
        else
          forever = true
        end
      end
    end
    v[#v + 1] = 'p=' .. table.concat(ps, ',')
  end
  if #a.k > 0 then
    local ks = {}
    for i, k in ipairs(a.k) do
      ks[i] = k[1] .. '|' .. int(k[2])
      last = math.max(last, k[2])
    end
    v[#v + 1] = 'k=' .. table.concat(ks, ',')
  end
  if forever then
    redis.call('SET', key, table.concat(v, ' '))
  else
    redis.call('SET', key, table.concat(v, ' '), 'PX', int(last - now + SLACK))
  end
end


-- lockedUntil is the end of the lock to report: 0 when not locked or permanent.
local function lockedUntil(a)
  if a.lk then
    return a.un
  end
  return 0
end
