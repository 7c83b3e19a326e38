--[[
  The run's `batches.create` call ended (answered, refused or timed out): a re-run need not wait for it to be answered
  before it looks for the batch.
  Input:
    KEYS[1]  the flush hash
    ARGV[1]  options (JSON): fence ('' = unchecked)
  Output: 1; error STALE_FENCE
]]
--- @include "fence"
local o = cjson.decode(ARGV[1])
local refused = fence_check(KEYS[1], o.fence)
if refused then return refused end
redis.call('HSET', KEYS[1], 'create_open', 0)
return 1
