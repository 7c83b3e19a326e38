--[[
  A 2xx from the receiver: `delivered_at` once, out of the dead letters and the undelivered index. Never recreates an
  expired record (issue 16.10).
  Input:
    KEYS[1]  the request hash
    ARGV[1]  options (JSON): tag, id, now
  Output: 1 for the first delivery, 0 for a redelivery, -1 when the record is gone
]]
local o = cjson.decode(ARGV[1])
redis.call('ZREM', key_undelivered(o.tag), o.id)
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', key_dead(o.tag), o.id)
  return -1
end
local first = redis.call('HSETNX', KEYS[1], 'delivered_at', o.now)
redis.call('HSET', KEYS[1], 'dead', '0')
redis.call('ZREM', key_dead(o.tag), o.id)
return first
