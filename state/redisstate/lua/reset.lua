-- reset.lua: clear the failure counts of the account and its pairs (not a
-- lock).
-- KEYS[1] the account. ARGV: now.
local now = tonumber(ARGV[1])
local a = load(redis.call('GET', KEYS[1]))
refresh(a, now)
if #a.f > 0 then
  a.f, a.fr = NONE, nil
  a.dirty = true
end
for i = 1, #a.p do
  local pr = a.p[i]
  if #pr.f > 0 then
    pr.f, pr.r = NONE, nil
    a.dirty = true
  end
end
save(KEYS[1], a, now)
return {1}
