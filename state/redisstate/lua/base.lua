-- base.lua: what every account script needs first, before its fast path and
-- before account.lua (see scripts.go for the order).

-- MAXMS caps a lock's length: math.MaxInt64 nanoseconds in milliseconds, so that
-- every time stays an exact integer in a Lua number.
local MAXMS = 9223372036854
-- SLACK, added to every key's time to live for clock skew between instances,
-- is defined before this file, from the Go constant slackMS.
local format = string.format
