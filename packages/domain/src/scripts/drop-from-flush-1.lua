--[[
  Removes ids whose record is gone from a flush's id list, so that the list stays the exact line order of the file
  built from it (line n = index n-1); the flush's `count` follows. Idempotent; a flush record that is gone is not
  written again.
  Input:
    KEYS[1]  the flush hash
    ARGV[1]  options (JSON): tag, flushId
    ARGV[2..] the request ids to drop
  Output: how many ids the list holds now
]]
local o = cjson.decode(ARGV[1])
local idsKey = key_flush_ids(o.tag, o.flushId)
for i = 2, #ARGV do redis.call('LREM', idsKey, 0, ARGV[i]) end
local left = redis.call('LLEN', idsKey)
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'count', left) end
return left
