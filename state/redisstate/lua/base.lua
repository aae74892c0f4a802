-- base.lua: what every account script needs first, before its fast path and
-- before account.lua (see scripts.go for the order).

-- MAXMS caps a lock's length: math.MaxInt64 nanoseconds in milliseconds, so that
-- every time stays an exact integer in a Lua number.
local MAXMS = 9223372036854
-- SLACK, added to every key's time to live for clock skew between instances,
-- is defined before this file, from the Go constant slackMS.
local format = string.format

-- simpleFields reads an account value that starts "w=<window>" with plain finds
-- (cheaper than patterns): the window text; the failures text ("t1,t2,..."),
-- how many there are, the first and the last; the slots text when the value
-- ends with " s=..."; and, when anything else follows the failures, where it
-- starts (the value is then not simple).
local function simpleFields(v)
  local find, sub = string.find, string.sub
  local e = find(v, ' ', 3, true)
  local wv, fv, n, first, last, sv = sub(v, 3, (e or 0) - 1), nil, 0, nil, nil, nil
  if e and sub(v, e, e + 2) == ' f=' then
    local b = e + 3
    e = find(v, ' ', b, true)
    fv = sub(v, b, (e or 0) - 1)
    local c = find(fv, ',', 1, true)
    first = tonumber(sub(fv, 1, (c or 0) - 1))
    last = first
    n = 1
    while c do
      n = n + 1
      local d = find(fv, ',', c + 1, true)
      if not d then
        last = tonumber(sub(fv, c + 1))
      end
      c = d
    end
  end
  if e and sub(v, e, e + 2) == ' s=' then
    sv = sub(v, e + 3)
    e = nil
  end
  return wv, fv, n, first, last, sv, e
end
