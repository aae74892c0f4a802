-- admit.lua: take an in-flight slot if failures plus slots stay under the
-- account's limit (unless the prefix is known) and under the pair's.
-- KEYS[1] the account. ARGV: now, max failures, window, slot ttl, slot id,
-- prefix ("" for none), pair limit (0: pairs off), known prefixes on (1/0).
-- Returns {allowed, locked, locked until, failures, in flight, pair locked,
-- pair failures, pair in flight, known}.
-- Running it twice with the same slot id takes one slot (a retried call).
local now, max = tonumber(ARGV[1]), tonumber(ARGV[2])
local pf, plimit = ARGV[6], tonumber(ARGV[7])
if pf == '' then
  plimit = 0
end
local a = load(KEYS[1])
setWindow(a, tonumber(ARGV[3]))
refresh(a, now)
local failures, inflight = #a.f, #a.s
local known = plimit > 0 and ARGV[8] == '1' and isKnown(a, pf)
local pr, pfails, pin = nil, 0, 0
if plimit > 0 then
  pr = findPair(a, pf)
  if pr then
    pfails = #pr.f
  end
  pin = inflightFrom(a, pf)
end
for _, s in ipairs(a.s) do
  if s[1] == ARGV[5] then
    save(KEYS[1], a, now)
    if plimit > 0 then
      pin = pin - 1
    end
    return {1, 0, 0, failures, inflight - 1, 0, pfails, pin, flag(known)}
  end
end
local function refuse(locked, untilMS, pairLocked)
  save(KEYS[1], a, now)
  return {0, locked, untilMS, failures, inflight, pairLocked, pfails, pin, flag(known)}
end
if a.lk and (a.ad or not known) then
  return refuse(1, lockedUntil(a), 0)
end
if pr and pr.lk then
  return refuse(1, pr.un, 1)
end
if (not known and failures + inflight >= max) or (plimit > 0 and pfails + pin >= plimit) then
  return refuse(0, 0, 0)
end
local spf = ''
if plimit > 0 then
  spf = pf
end
a.s[#a.s + 1] = {ARGV[5], now + tonumber(ARGV[4]), spf}
a.dirty = true
save(KEYS[1], a, now)
return {1, 0, 0, failures, inflight, 0, pfails, pin, flag(known)}
