-- session_due.lua: the sessions that may be due for a timeout (ExpiredSessions),
-- after dropping from the indexes those whose ttl ran out. KEYS: the indexes
-- by LastSeen, by LoginAt, by expiry. ARGV: now (the store's clock), the
-- LastSeen at or before which a session is idle ('' for no idle timeout), the
-- LoginAt at or before which it reached the absolute timeout ('' for none),
-- the most to take from each index.
-- Returns the hashes, each once.
collect(tonumber(ARGV[1]), ARGV[4])
local out, seen = {}, {}
for i = 1, 2 do
  local cutoff = ARGV[i + 1]
  if cutoff ~= '' then
    for _, h in ipairs(redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', cutoff, 'LIMIT', 0, ARGV[4])) do
      if not seen[h] then
        seen[h] = true
        out[#out + 1] = h
      end
    end
  end
end
return out
