-- status.lua: one account's state; it changes nothing.
-- KEYS[1] the account. ARGV: now.
-- Returns {failures, in flight, locked, locked until, level, admin lock,
-- number of pairs, then per pair: prefix, failures, in flight, locked, locked
-- until; number of known prefixes, then per known prefix: prefix, until}.
local a = load(redis.call('GET', KEYS[1]))
refresh(a, tonumber(ARGV[1]))
local lk, un, ad = 0, 0, 0
if a.lk then
  lk, un = 1, a.un
  if a.ad then
    ad = 1
  end
end
local out = {#a.f, #a.s, lk, un, a.lv, ad, #a.p}
for _, pr in ipairs(a.p) do
  local l, u = 0, 0
  if pr.lk then
    l, u = 1, pr.un
  end
  out[#out + 1] = pr.pf
  out[#out + 1] = #pr.f
  out[#out + 1] = inflightFrom(a, pr.pf)
  out[#out + 1] = l
  out[#out + 1] = u
end
out[#out + 1] = #a.k
for _, k in ipairs(a.k) do
  out[#out + 1] = k[1]
  out[#out + 1] = k[2]
end
return out
