-- status.lua: one account's state; it changes nothing.
-- KEYS[1] the account. ARGV: now.
-- Returns {failures, in flight, locked, locked until, level, admin lock,
-- number of pairs, then per pair: prefix, failures, in flight, locked, locked
-- until; number of known prefixes, then per known prefix: prefix, until}.
local a = load(KEYS[1])
refresh(a, tonumber(ARGV[1]))
local out = {#a.f, #a.s, flag(a.lk), lockedUntil(a), a.lv, flag(a.lk and a.ad), #a.p}
for _, pr in ipairs(a.p) do
  local u = 0
  if pr.lk then
    u = pr.un
  end
  out[#out + 1] = pr.pf
  out[#out + 1] = #pr.f
  out[#out + 1] = inflightFrom(a, pr.pf)
  out[#out + 1] = flag(pr.lk)
  out[#out + 1] = u
end
out[#out + 1] = #a.k
for _, k in ipairs(a.k) do
  out[#out + 1] = k[1]
  out[#out + 1] = k[2]
end
return out
