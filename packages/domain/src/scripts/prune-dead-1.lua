--[[
  Drops dead letters whose request record has expired (issue 16.10), the oldest first.
  Input:
    KEYS[1]  the partition's dead-letter zset
    ARGV[1]  options (JSON): tag, scan (how many of the oldest to look at)
  Output: how many dead letters remain
]]
local o = cjson.decode(ARGV[1])
local ids = redis.call('ZRANGE', KEYS[1], 0, o.scan - 1)
for _, id in ipairs(ids) do
  if redis.call('EXISTS', key_req(o.tag, id)) == 0 then redis.call('ZREM', KEYS[1], id) end
end
return redis.call('ZCARD', KEYS[1])
