-- reset.lua: clear the failure counts of the account and its pairs (not a
-- lock).
-- KEYS[1] the account. ARGV: now.
local now = tonumber(ARGV[1])
local a = load(KEYS[1])
refresh(a, now)
if #a.f > 0 then
  a.f = {}
  a.dirty = true
end
for _, pr in ipairs(a.p) do
  if #pr.f > 0 then
    pr.f = {}
    a.dirty = true
  end
end
save(KEYS[1], a, now)
return {1}
