--[[
  Delivery retries used up: into the dead letters (if the record still exists), out of the undelivered index.
  Input:
    KEYS[1]  the request hash
    ARGV[1]  options (JSON): tag, id, now
  Output: 1 when dead-lettered, -1 when the record is gone
]]
local o = cjson.decode(ARGV[1])
redis.call('ZREM', key_undelivered(o.tag), o.id)
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'dead', '1')
redis.call('ZADD', key_dead(o.tag), o.now, o.id)
return 1
