--[[
  Set right before `batches.create`: from here on a re-run must look for the batch (invariant I2) and, while the call
  is open (`create_open`: its run died or stalled in it) and started less than the call timeout ago, wait for it to be
  answered first. Only a flush that may still move to `submitting` (claimed or uploaded) starts a create.
  Input:
    KEYS[1]  the flush hash
    ARGV[1]  options (JSON): now, fence ('' = unchecked)
  Output: 1; errors STALE_FENCE, ILLEGAL_FLUSH_TRANSITION
]]
--- @include "fence"
local o = cjson.decode(ARGV[1])
local refused = fence_check(KEYS[1], o.fence)
if refused then return refused end
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'claimed' and state ~= 'uploaded' then
  return redis.error_reply('ILLEGAL_FLUSH_TRANSITION create started on a flush that is ' .. tostring(state))
end
redis.call('HSET', KEYS[1], 'create_started', 1, 'create_started_at', o.now, 'create_open', 1)
return 1
