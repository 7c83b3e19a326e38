--[[
  A stop signal from the receiver (410, or `webhook-delivery: abort-message`): `gone_at` once, and why
  (`stop_reason`: gone | aborted), out of the undelivered index. Never recreates an expired record.
  Input:
    KEYS[1]  the request hash
    ARGV[1]  options (JSON): tag, id, now, reason (optional)
  Output: 1 when recorded now, 0 when it was already, -1 when the record is gone
]]
local o = cjson.decode(ARGV[1])
redis.call('ZREM', key_undelivered(o.tag), o.id)
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local first = redis.call('HSETNX', KEYS[1], 'gone_at', o.now)
if first == 1 and o.reason then redis.call('HSET', KEYS[1], 'stop_reason', o.reason) end
return first
