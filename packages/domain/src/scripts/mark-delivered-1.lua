--[[
  A 2xx from the receiver: `delivered_at` once, out of the dead letters and the undelivered index. Never recreates an
  expired record (issue 16.10).
  Input:
    KEYS[1]  the request hash
    ARGV[1]  options (JSON): tag, id, now
  Output: 1 for the first delivery, 0 for a redelivery, -1 when the record is gone
]]
--- @include "delivery"
local o = cjson.decode(ARGV[1])
return mark_delivered(o.tag, KEYS[1], o.id, o.now)
