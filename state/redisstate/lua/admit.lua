-- admit.lua: take an in-flight slot if failures plus slots stay under the limit.
-- KEYS[1] the account. ARGV: now, max failures, window, slot ttl, slot id.
-- Returns {allowed, locked, locked until, failures, in flight}.
-- Running it twice with the same slot id takes one slot (a retried call).
local now, max = tonumber(ARGV[1]), tonumber(ARGV[2])
local a = load(KEYS[1])
setWindow(a, tonumber(ARGV[3]))
refresh(a, now)
for _, s in ipairs(a.s) do
  if s[1] == ARGV[5] then
    save(KEYS[1], a, now)
    return {1, 0, 0, #a.f, #a.s - 1}
  end
end
local failures, inflight = #a.f, #a.s
if a.lk or failures + inflight >= max then
  save(KEYS[1], a, now)
  return {0, flag(a.lk), lockedUntil(a), failures, inflight}
end
a.s[#a.s + 1] = {ARGV[5], now + tonumber(ARGV[4])}
a.dirty = true
save(KEYS[1], a, now)
return {1, 0, 0, failures, inflight}
