--[[
  Re-enables an endpoint (API or operator page): its health is forgotten, the circuit closed (SPEC §16). Also marks
  the `endpoint.disabled` event of a disabled endpoint as sent (`notify` = 1), a different use of the same hash.
  Input:
    KEYS[1]  the endpoint hash (G:endpoint:<tenant>:<host>)
    KEYS[2]  the unhealthy-endpoint zset (G:endpoints)
    ARGV[1]  options (JSON): member (`<tenant> <host>`), notify (1: only mark the event sent)
  Output: 1 when the endpoint was failing or disabled, 0 when it was healthy already
]]
local o = cjson.decode(ARGV[1])
if o.notify == 1 then
  if redis.call('HEXISTS', KEYS[1], 'disabled_at') == 0 then return 0 end
  redis.call('HSET', KEYS[1], 'notified', '1')
  return 1
end
local existed = redis.call('EXISTS', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], o.member)
return existed
