--[[
  The provider no longer knows the input file: `uploaded → claimed`, so that the next run uploads again.
  Input:
    KEYS[1]  the flush hash
    ARGV[1]  options (JSON): fence ('' = unchecked)
  Output: 1; errors STALE_FENCE, ILLEGAL_FLUSH_TRANSITION
]]
--- @include "fence"
--- @include "flush-move"
local o = cjson.decode(ARGV[1])
local refused = fence_check(KEYS[1], o.fence)
if refused then return refused end
local bad = flush_move(KEYS[1], 'claimed')
if bad then return bad end
redis.call('HSET', KEYS[1], 'file_id', '')
return 1
