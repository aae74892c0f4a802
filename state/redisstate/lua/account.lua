-- account.lua: the state of one account, shared by every account script (see
-- scripts.go for how a script is put together). Times are milliseconds on the
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
--
-- Every call pays for the functions defined here and for each string it
-- parses or formats, so the code keeps to what a call needs: a missing value
-- parses nothing, absent fields cost nothing, and what did not change is
-- written back as it was read (a.fr is the text of a.f while a.f is unchanged,
-- and each slot, pair and known prefix keeps its text in r until it changes).
-- Integers are formatted with %d: tostring and .. would switch to exponents
-- past 14 digits.

-- NONE is the shared empty list (of failures, slots, pairs or known prefixes);
-- it is never written to: a list that grows is replaced first.
local NONE = {}
local gmatch, find, sub = string.gmatch, string.find, string.sub

-- load parses v, the account's value (false when there is none). Its slots are
-- {id, expiry, prefix, text}, its pairs {pf =, lk =, un =, f =, r = text}, its
-- known prefixes {prefix, until, text}.
local function load(v)
  local a = {lk = false, ad = false, un = 0, lv = 0, lu = 0, lm = 0, w = 0, wr = '0', f = NONE, s = NONE, p = NONE,
    k = NONE, dirty = false}
  if not v then
    return a
  end
  -- fields are split with plain finds, which beat patterns on long values
  local i, len = 1, #v
  while i <= len do
    local e = find(v, ' ', i, true) or len + 1
    local q = find(v, '=', i, true)
    local k, x
    if q and q < e then
      k, x = sub(v, i, q - 1), sub(v, q + 1, e - 1)
    end
    i = e + 1
    if k == 'w' then
      local w = tonumber(x)
      if w then
        a.w, a.wr = w, x
      end
    elseif k == 'f' then
      local f, n, j = {}, 0, 1
      while true do
        local c = find(x, ',', j, true)
        local t = tonumber(sub(x, j, (c or 0) - 1))
        if t then
          n = n + 1
          f[n] = t
        end
        if not c then
          break
        end
        j = c + 1
      end
      a.f, a.fr = f, x
    elseif k == 's' then
      local s, n = {}, 0
      for e, id, t, pf in gmatch(x, '((%w+):(%-?%d+)@?([^,]*))') do
        n = n + 1
        s[n] = {id, tonumber(t), pf, e}
      end
      a.s = s
    elseif k == 'lk' then
      a.lk = x == '1'
    elseif k == 'un' or k == 'lv' or k == 'lu' or k == 'lm' then
      a[k] = tonumber(x) or 0
    elseif k == 'ad' then
      a.ad = x == '1'
    elseif k == 'p' then
      local p, n = {}, 0
      for e, pf, lk, un, fs in gmatch(x, '(([^,|]+)|(%d)|(%-?%d+)|([^,]*))') do
        local f, m = {}, 0
        for t in gmatch(fs, '%-?%d+') do
          m = m + 1
          f[m] = tonumber(t)
        end
        n = n + 1
        p[n] = {pf = pf, lk = lk == '1', un = tonumber(un), f = f, r = e}
      end
      a.p = p
    elseif k == 'k' then
      local kn, n = {}, 0
      for e, pf, u in gmatch(x, '(([^,|]+)|(%-?%d+))') do
        n = n + 1
        kn[n] = {pf, tonumber(u), e}
      end
      a.k = kn
    end
  end
  return a
end

-- age drops the times in f that left a window of w (none when w <= 0); it
-- returns the times kept, or nil when none were dropped.
local function age(f, now, w)
  if w <= 0 or #f == 0 or now - f[1] < w then
    return nil
  end
  local n = 1
  while n < #f and now - f[n + 1] >= w do
    n = n + 1
  end
  local keep = {}
  for i = n + 1, #f do
    keep[i - n] = f[i]
  end
  return keep
end

-- refresh forgets what time has ended: a lock that ran out (and with it the
-- failure counts, the account's and its pairs'), a backoff level past its
-- memory, pair locks that ran out (and their counts), failures that left the
-- window, pairs that hold nothing, slots and known prefixes that expired.
local function refresh(a, now)
  if a.lk and a.un ~= 0 and now >= a.un then
    a.lk = false
    a.ad = false
    a.f, a.fr = NONE, nil
    for i = 1, #a.p do
      local pr = a.p[i]
      if #pr.f > 0 then
        pr.f = NONE
        pr.r = nil
      end
    end
    a.lu = a.un + a.lm
    a.un = 0
    a.dirty = true
  end
  if a.lv > 0 and not a.lk and now >= a.lu then
    a.lv = 0
    a.lu = 0
    a.dirty = true
  end
  local w = a.w
  local kept = age(a.f, now, w)
  if kept then
    a.f, a.fr = kept, nil
    a.dirty = true
  end
  local p = a.p
  if #p > 0 then
    local keep, n = {}, 0
    for i = 1, #p do
      local pr = p[i]
      if pr.lk and pr.un ~= 0 and now >= pr.un then
        pr.lk = false
        pr.un = 0
        pr.f = NONE
        pr.r = nil
        a.dirty = true
      end
      kept = age(pr.f, now, w)
      if kept then
        pr.f, pr.r = kept, nil
        a.dirty = true
      end
      if pr.lk or #pr.f > 0 then
        n = n + 1
        keep[n] = pr
      end
    end
    if n ~= #p then
      a.p = keep
      a.dirty = true
    end
  end
  local s = a.s
  for i = 1, #s do
    if now >= s[i][2] then
      local live, n = {}, 0
      for j = 1, #s do
        if now < s[j][2] then
          n = n + 1
          live[n] = s[j]
        end
      end
      a.s = live
      a.dirty = true
      break
    end
  end
  local k = a.k
  for i = 1, #k do
    if now >= k[i][2] then
      local known, n = {}, 0
      for j = 1, #k do
        if now < k[j][2] then
          n = n + 1
          known[n] = k[j]
        end
      end
      a.k = known
      a.dirty = true
      break
    end
  end
end

-- loaded reads the account in value v for a script that counts with window w
-- (wr its text as given, stored back as it came): the window updated, and
-- expired failures, slots, pairs and known prefixes dropped.
local function loaded(v, w, wr, now)
  local a = load(v)
  if a.w ~= w then
    a.w, a.wr = w, wr
    a.dirty = true
  end
  refresh(a, now)
  return a
end

-- findPair returns the pair of prefix pf, or nil.
local function findPair(a, pf)
  local p = a.p
  for i = 1, #p do
    if p[i].pf == pf then
      return p[i]
    end
  end
  return nil
end

-- inflightFrom counts the slots taken by attempts from prefix pf.
local function inflightFrom(a, pf)
  local n, s = 0, a.s
  for i = 1, #s do
    if s[i][3] == pf then
      n = n + 1
    end
  end
  return n
end

-- save writes the account back if it changed, or deletes it when it holds
-- nothing; its time to live outlasts everything it holds.
local function save(key, a, now)
  if not a.dirty then
    return
  end
  local f, s, p, k = a.f, a.s, a.p, a.k
  if #p > 0 then
    local keep, n = {}, 0
    for i = 1, #p do
      if p[i].lk or #p[i].f > 0 then
        n = n + 1
        keep[n] = p[i]
      end
    end
    if n ~= #p then
      p = keep
      a.p = keep
    end
  end
  if #f == 0 and #s == 0 and not a.lk and a.lv == 0 and #p == 0 and #k == 0 then
    redis.call('DEL', key)
    return
  end
  local v = 'w=' .. a.wr
  local last, forever = now, false
  if a.lk then
    v = v .. ' lk=1 un=' .. format('%d', a.un)
    if a.ad then
      v = v .. ' ad=1'
    end
    if a.un == 0 then
      forever = true
    elseif a.un + a.lm > last then
      last = a.un + a.lm
    end
  end
  if a.lv > 0 then
    v = v .. ' lv=' .. format('%d', a.lv) .. ' lu=' .. format('%d', a.lu)
    if not a.lk and a.lu > last then
      last = a.lu
    end
  end
  if a.lm ~= 0 then
    v = v .. ' lm=' .. format('%d', a.lm)
  end
  if #f > 0 then
    local fr = a.fr
    if not fr then
      fr = format('%d', f[1])
      for i = 2, #f do
        fr = fr .. ',' .. format('%d', f[i])
      end
    end
    v = v .. ' f=' .. fr
    if a.w <= 0 then
      forever = true
    elseif f[#f] + a.w > last then
      last = f[#f] + a.w
    end
  end
  if #s > 0 then
    local ss = s[1][4]
    if s[1][2] > last then
      last = s[1][2]
    end
    for i = 2, #s do
      ss = ss .. ',' .. s[i][4]
      if s[i][2] > last then
        last = s[i][2]
      end
    end
    v = v .. ' s=' .. ss
  end
  if #p > 0 then
    local ps = {}
    for i = 1, #p do
      local pr = p[i]
      local pf = pr.f
      local r = pr.r
      if not r then
        r = ''
        for j = 1, #pf do
          if j > 1 then
            r = r .. ';'
          end
          r = r .. format('%d', pf[j])
        end
        local lk = '0'
        if pr.lk then
          lk = '1'
        end
        r = pr.pf .. '|' .. lk .. '|' .. format('%d', pr.un) .. '|' .. r
        pr.r = r
      end
      ps[i] = r
      if pr.lk then
        if pr.un == 0 then
          forever = true
        elseif pr.un > last then
          last = pr.un
        end
      end
      if #pf > 0 then
        if a.w <= 0 then
          forever = true
        elseif pf[#pf] + a.w > last then
          last = pf[#pf] + a.w
        end
      end
    end
    v = v .. ' p=' .. table.concat(ps, ',')
  end
  if #k > 0 then
    local ks = {}
    for i = 1, #k do
      ks[i] = k[i][3]
      if k[i][2] > last then
        last = k[i][2]
      end
    end
    v = v .. ' k=' .. table.concat(ks, ',')
  end
  if forever then
    redis.call('SET', key, v)
  else
    redis.call('SET', key, v, 'PX', format('%d', last - now + SLACK))
  end
end

-- fileEnded keeps the end of name's lock for EndedLocks when the bucket's index
-- still holds a lock of name that ran out by now (nobody took it yet): it moves
-- to the bucket's list of ended locks before the index entry is replaced or
-- removed.
local function fileEnded(index, ended, name, now)
  local old = redis.call('ZSCORE', index, name)
  local t = old and tonumber(old)
  if t and t <= now then
    redis.call('ZADD', ended, old, name)
  end
end
