-- status.lua: one account's state; it changes nothing.
-- KEYS[1] the account. ARGV: now.
-- Returns {failures, in flight, locked, locked until, level}.
local a = load(KEYS[1])
refresh(a, tonumber(ARGV[1]))
return {#a.f, #a.s, flag(a.lk), lockedUntil(a), a.lv}
