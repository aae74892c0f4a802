-- admit.lua: take an in-flight slot if failures plus slots stay under the
-- account's limit (unless the prefix is known) and under the pair's.
-- KEYS[1] the account. ARGV: now, max failures, window, slot ttl, slot id,
-- prefix ("" for none), pair limit (0: pairs off), known prefixes on (1/0),
-- slot expiry (now + slot ttl), slot ttl + SLACK.
-- Returns {allowed, locked, locked until, failures, in flight, pair locked,
-- pair failures, pair in flight, known}.
-- Running it twice with the same slot id takes one slot (a retried call).
-- Numbers in ARGV are decimal integers, as Go formats them: the window and the
-- slot expiry are stored as given. Max failures is at least 1, the slot ttl
-- positive.
local pf = ARGV[6]
do
  -- Fastest path: an account with no state takes the slot, in one command
  -- (most accounts have no state: no failures, no lock, nothing in flight).
  local slot = ARGV[5] .. ':' .. ARGV[9]
  if pf ~= '' and ARGV[7] ~= '0' then
    slot = slot .. '@' .. pf
  end
  if redis.call('SET', KEYS[1], 'w=' .. ARGV[3] .. ' s=' .. slot, 'NX', 'PX', ARGV[10]) then
    return {1, 0, 0, 0, 0, 0, 0, 0, 0}
  end
end
local v = redis.call('GET', KEYS[1])
local now, max, plimit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[7])
if pf == '' then
  plimit = 0
end
-- Fast path (pairs off): an account that holds only its window, failures
-- none of which leave the window, and at most one live slot of another
-- attempt. The code below reads it with plain finds, writes it back with what
-- it read, and returns what the general code after account.lua would;
-- anything else goes to that code.
local find, sub = string.find, string.sub
local w = tonumber(ARGV[3])
local light, wv, fv, sv = false, nil, nil, nil
local n, first, last, sexp = 0, nil, nil, nil
if plimit == 0 and sub(v, 1, 2) == 'w=' then
  local e
  wv, fv, n, first, last, sv, e = simpleFields(v)
  if sv then
    local c = find(sv, ':', 1, true)
    local at = c and find(sv, '@', c, true)
    sexp = c and tonumber(sub(sv, c + 1, (at or 0) - 1))
    light = sexp and now < sexp and sub(sv, 1, c - 1) ~= ARGV[5] and not find(sv, ',', 1, true) and
      not find(sv, ' ', 1, true)
  else
    light = not e
  end
  if fv and not (first and last and (w <= 0 or now - first < w)) then
    light = false
  end
end
if light then
  local inflight = 0
  if sv then
    inflight = 1
  end
  if n + inflight >= max then
    if wv == ARGV[3] then
      return {0, 0, 0, n, inflight, 0, 0, 0, 0}
    end
  else
    local exp = now + tonumber(ARGV[4])
    local slot = ARGV[5] .. ':' .. ARGV[9]
    local nv, keep, forever = 'w=' .. ARGV[3], now, false
    if fv then
      nv = nv .. ' f=' .. fv
      if w <= 0 then
        forever = true
      elseif last + w > keep then
        keep = last + w
      end
    end
    if sv then
      nv = nv .. ' s=' .. sv .. ',' .. slot
      if sexp > keep then
        keep = sexp
      end
    else
      nv = nv .. ' s=' .. slot
    end
    if exp > keep then
      keep = exp
    end
    if forever then
      redis.call('SET', KEYS[1], nv)
    elseif keep == exp then
      redis.call('SET', KEYS[1], nv, 'PX', ARGV[10])
    else
      redis.call('SET', KEYS[1], nv, 'PX', format('%d', keep - now + SLACK))
    end
    return {1, 0, 0, n, inflight, 0, 0, 0, 0}
  end
end
--[[ account.lua ]]

local a = loaded(v, w, ARGV[3], now)
local s, id = a.s, ARGV[5]
local failures, inflight = #a.f, #s
local known = 0
local pr, pfails, pin = nil, 0, 0
if plimit > 0 then
  if ARGV[8] == '1' then
    for i = 1, #a.k do
      if a.k[i][1] == pf then
        known = 1
        break
      end
    end
  end
  pr = findPair(a, pf)
  if pr then
    pfails = #pr.f
  end
  pin = inflightFrom(a, pf)
end
for i = 1, inflight do
  if s[i][1] == id then
    save(KEYS[1], a, now)
    if plimit > 0 then
      pin = pin - 1
    end
    return {1, 0, 0, failures, inflight - 1, 0, pfails, pin, known}
  end
end
local refused, locked, untilMS, pairLocked = false, 0, 0, 0
if a.lk and (a.ad or known == 0) then
  refused, locked, untilMS = true, 1, a.un
elseif pr and pr.lk then
  refused, locked, untilMS, pairLocked = true, 1, pr.un, 1
elseif (known == 0 and failures + inflight >= max) or (plimit > 0 and pfails + pin >= plimit) then
  refused = true
end
if refused then
  save(KEYS[1], a, now)
  return {0, locked, untilMS, failures, inflight, pairLocked, pfails, pin, known}
end
local e = id .. ':' .. ARGV[9]
local spf = ''
if plimit > 0 then
  spf = pf
  e = e .. '@' .. pf
end
if s == NONE then
  s = {}
  a.s = s
end
s[inflight + 1] = {id, now + tonumber(ARGV[4]), spf, e}
a.dirty = true
save(KEYS[1], a, now)
return {1, 0, 0, failures, inflight, 0, pfails, pin, known}
