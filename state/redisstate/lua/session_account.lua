-- session_account.lua: file a session put under its account. KEYS[1] the
-- account's sessions (hashes scored by expiry). ARGV: hash, expiry, now (the
-- store's clock).
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', tonumber(last[2]) - tonumber(ARGV[3]) + SLACK))
return 0
