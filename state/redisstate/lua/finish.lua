-- finish.lua: release a slot and record the outcome; lock the account when its
-- failures reach the limit, and the pair when the pair's do; a success makes
-- the prefix known.
-- KEYS[1] the account, KEYS[2] its bucket's index of locked accounts, KEYS[3]
-- its bucket's ended locks.
-- ARGV: now, slot id, outcome (1 success, 2 counted failure, else uncounted),
-- max failures, window, lock duration, backoff (1/0), max lock duration,
-- lock memory, account name, prefix ("" for none), pair limit (0: pairs off),
-- known prefix ttl (0: off), window + SLACK. Numbers in ARGV are decimal
-- integers, as Go formats them: now and the window are stored as given.
-- Max failures is at least 1.
-- Returns {failures, locked, newly locked, locked until, pair failures, pair
-- locked, pair newly locked, pair locked until}.
local find, sub = string.find, string.sub
local v, deleted = nil, false
if ARGV[3] ~= '2' and (ARGV[3] ~= '1' or ARGV[11] == '' or ARGV[13] == '0') then
  -- Fastest path: an uncounted outcome, or a success that makes no prefix
  -- known, on an account that holds nothing or only its window and this
  -- attempt's slot: it is left empty, in one command. GETDEL reads and
  -- deletes; any other account is written back below (deleted is set).
  v = redis.call('GETDEL', KEYS[1])
  if not v then
    return {0, 0, 0, 0, 0, 0, 0, 0}
  end
  local i = find(v, ' s=' .. ARGV[2] .. ':', 1, true)
  if i and find(v, ' ', 1, true) == i and sub(v, 1, 2) == 'w=' and not find(v, ' ', i + 3, true) and
    not find(v, ',', i + 3, true) then
    return {0, 0, 0, 0, 0, 0, 0, 0}
  end
  deleted = true
else
  v = redis.call('GET', KEYS[1])
end
local now, max = tonumber(ARGV[1]), tonumber(ARGV[4])
local pf, plimit, kttl = ARGV[11], tonumber(ARGV[12]), tonumber(ARGV[13])
if pf == '' then
  plimit = 0
end
local w = tonumber(ARGV[5])
do
  -- Fast path: an account with no state, or one that holds only its window,
  -- failures none of which leave the window, and at most one slot, which goes
  -- (this attempt's, or expired): no lock, no pairs, no known prefixes. The
  -- code below reads it with plain finds, writes it back with what it read,
  -- and returns what the general code after account.lua would; anything
  -- else, and a failure that locks the account or a pair, goes to that code.
  local light, wv, fv, n, first, last, gone = not v, nil, nil, 0, nil, nil, false
  if v and sub(v, 1, 2) == 'w=' then
    local sv, e
    wv, fv, n, first, last, sv, e = simpleFields(v)
    if sv then
      local c = find(sv, ':', 1, true)
      local at = c and find(sv, '@', c, true)
      local sexp = c and tonumber(sub(sv, c + 1, (at or 0) - 1))
      gone = true
      light = sexp and (now >= sexp or sub(sv, 1, c - 1) == ARGV[2]) and not find(sv, ',', 1, true) and
        not find(sv, ' ', 1, true)
    else
      light = not e
    end
    if fv and not (first and last and (w <= 0 or now - first < w)) then
      light = false
    end
  end
  if light then
    if ARGV[3] == '2' then
      if n == 0 then
        fv, n = ARGV[1], 1
      elseif last <= now and n < max then
        fv, n = fv .. ',' .. ARGV[1], n + 1
      else
        n = max
      end
      if n < max and plimit ~= 1 then
        local nv, p1 = 'w=' .. ARGV[5] .. ' f=' .. fv, 0
        if plimit > 0 then
          nv, p1 = nv .. ' p=' .. pf .. '|0|0|' .. ARGV[1], 1
        end
        if w > 0 then
          redis.call('SET', KEYS[1], nv, 'PX', ARGV[14])
        else
          redis.call('SET', KEYS[1], nv)
        end
        return {n, 0, 0, 0, p1, 0, 0, 0}
      end
    else
      if ARGV[3] == '1' and pf ~= '' and kttl > 0 then
        local u = now + kttl
        redis.call('SET', KEYS[1], 'w=' .. ARGV[5] .. ' k=' .. pf .. '|' .. format('%d', u), 'PX',
          format('%d', kttl + SLACK))
        return {0, 0, 0, 0, 0, 0, 0, 0}
      end
      if ARGV[3] == '1' or not fv then
        if v and not deleted then
          redis.call('DEL', KEYS[1])
        end
        return {0, 0, 0, 0, 0, 0, 0, 0}
      end
      if gone or deleted or wv ~= ARGV[5] then
        if w <= 0 then
          redis.call('SET', KEYS[1], 'w=' .. ARGV[5] .. ' f=' .. fv)
        else
          if last + w < now then
            last = now - w
          end
          redis.call('SET', KEYS[1], 'w=' .. ARGV[5] .. ' f=' .. fv, 'PX', format('%d', last + w - now + SLACK))
        end
      end
      return {n, 0, 0, 0, 0, 0, 0, 0}
    end
  end
end
--[[ account.lua ]]

-- addTime adds t to the ascending times f, keeping the newest max (max >= 1);
-- it returns the list, which is new when f was empty, and whether t simply
-- went at the end.
local function addTime(f, t, max)
  local n = #f
  if n == 0 then
    return {t}, true
  end
  if f[n] <= t and n < max then
    f[n + 1] = t
    return f, true
  end
  local i = n + 1
  while i > 1 and f[i - 1] > t do
    i = i - 1
  end
  table.insert(f, i, t)
  while #f > max do
    table.remove(f, 1)
  end
  return f, false
end

local a = loaded(v, w, ARGV[5], now)
if deleted then
  a.dirty = true
end
local s, id = a.s, ARGV[2]
for i = 1, #s do
  if s[i][1] == id then
    table.remove(s, i)
    a.dirty = true
    break
  end
end
local pr = nil
if plimit > 0 then
  pr = findPair(a, pf)
end
local newly, pnewly = 0, 0
local base = tonumber(ARGV[6])
if ARGV[3] == '1' then
  if #a.f > 0 then
    a.f, a.fr = NONE, nil
    a.dirty = true
  end
  if pr and #pr.f > 0 then
    pr.f, pr.r = NONE, nil
    a.dirty = true
  end
  if pf ~= '' and kttl > 0 then
    -- make pf known until now + kttl; past MAXKNOWN drop the prefix that
    -- would expire first
    local u = now + kttl
    local e = {pf, u, pf .. '|' .. format('%d', u)}
    local k = a.k
    local at = #k + 1
    for i = 1, #k do
      if k[i][1] == pf then
        at = i
        break
      end
    end
    if k == NONE then
      a.k = {e}
    elseif at > #k and #k >= MAXKNOWN then
      at = 1
      for i = 2, #k do
        if k[i][2] < k[at][2] then
          at = i
        end
      end
      k[at] = e
    else
      k[at] = e
    end
    a.dirty = true
  end
elseif ARGV[3] == '2' then
  local n = #a.f
  local f, appended = addTime(a.f, now, max)
  if not appended then
    a.fr = nil
  elseif n == 0 then
    a.fr = ARGV[1]
  elseif a.fr then
    a.fr = a.fr .. ',' .. ARGV[1]
  end
  a.f = f
  a.dirty = true
  if not a.lk and #f >= max then
    a.lv = a.lv + 1
    a.lk = true
    a.ad = false
    a.lm = tonumber(ARGV[9])
    a.lu = 0
    a.un = 0
    if base > 0 then
      -- lock number lv lasts base, doubled lv-1 times with backoff, each
      -- doubling capped at the max lock duration (0: none) and at MAXMS
      local d = base
      if ARGV[7] == '1' then
        local cap = tonumber(ARGV[8])
        for _ = 2, a.lv do
          if cap > 0 and d >= cap then
            break
          end
          if d > MAXMS / 2 then
            d = MAXMS
            break
          end
          d = d * 2
          if cap > 0 and d > cap then
            d = cap
          end
        end
      end
      a.un = now + d
    end
    newly = 1
    local score = '+inf'
    if a.un ~= 0 then
      score = format('%d', a.un)
    end
    fileEnded(KEYS[2], KEYS[3], ARGV[10], now)
    redis.call('ZADD', KEYS[2], score, ARGV[10])
  end
  if plimit > 0 then
    if not pr then
      -- a new pair; past MAXPAIRS it takes the place of the first pair to
      -- go: unlocked pairs first, by their last failure, then locked ones
      -- by the end of their lock, permanent ones last
      pr = {pf = pf, lk = false, un = 0, f = NONE}
      local p = a.p
      if p == NONE then
        a.p = {pr}
      elseif #p < MAXPAIRS then
        p[#p + 1] = pr
      else
        local v = 1
        for i = 2, #p do
          local x, y = p[i], p[v]
          local before
          if x.lk ~= y.lk then
            before = not x.lk
          elseif not x.lk then
            before = (x.f[#x.f] or -1) < (y.f[#y.f] or -1)
          elseif x.un == 0 then
            before = false
          else
            before = y.un == 0 or x.un < y.un
          end
          if before then
            v = i
          end
        end
        p[v] = pr
      end
    end
    pr.f = addTime(pr.f, now, plimit)
    pr.r = nil
    if not pr.lk and #pr.f >= plimit then
      pr.lk = true
      pr.un = 0
      if base > 0 then
        pr.un = now + base
      end
      pnewly = 1
    end
  end
end
save(KEYS[1], a, now)
local p1, p2, p4 = 0, 0, 0
if pr then
  p1 = #pr.f
  if pr.lk then
    p2, p4 = 1, pr.un
  end
end
local lk, un = 0, 0
if a.lk then
  lk, un = 1, a.un
end
return {#a.f, lk, newly, un, p1, p2, pnewly, p4}
