--[[
  Chooses (or changes) the provider a flush goes to (SPEC §11), before any batch exists for it: the packer records its
  choice before it uploads or creates, so that every later run — after a crash too — looks for the flush's batch at
  the same provider. A change is allowed only while the flush may still move to `submitting` (claimed or uploaded),
  and the caller makes it only when the earlier provider certainly holds no batch of the flush (its create was never
  started, or its batch list said absent). An input file uploaded to the earlier provider is forgotten
  (`uploaded → claimed`): the next upload goes to the new one.
  Input:
    KEYS[1]  the flush hash
    ARGV[1]  options (JSON): provider, fence ('' = unchecked)
  Output: 1 when changed, 0 when it already was that provider; errors STALE_FENCE, ILLEGAL_FLUSH_TRANSITION
]]
--- @include "fence"
--- @include "flush-move"
local o = cjson.decode(ARGV[1])
local refused = fence_check(KEYS[1], o.fence)
if refused then return refused end
local f = redis.call('HMGET', KEYS[1], 'state', 'provider')
if f[2] == o.provider then return 0 end
if f[1] ~= 'claimed' and f[1] ~= 'uploaded' then
  return redis.error_reply('ILLEGAL_FLUSH_TRANSITION provider change on a flush that is ' .. tostring(f[1]))
end
if f[1] == 'uploaded' then
  local bad = flush_move(KEYS[1], 'claimed')
  if bad then return bad end
  redis.call('HSET', KEYS[1], 'file_id', '')
end
redis.call('HSET', KEYS[1], 'provider', o.provider)
return 1
