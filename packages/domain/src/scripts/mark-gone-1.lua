--[[
  A stop signal from the receiver (410, or `webhook-delivery: abort-message`): `gone_at` once, and why
  (`stop_reason`: gone | aborted), out of the undelivered index. Never recreates an expired record.
  Input:
    KEYS[1]  the request hash
    ARGV[1]  options (JSON): tag, id, now, reason (optional)
  Output: 1 when recorded now, 0 when it was already, -1 when the record is gone
]]
--- @include "delivery"
local o = cjson.decode(ARGV[1])
return mark_gone(o.tag, KEYS[1], o.id, o.now, o.reason)
