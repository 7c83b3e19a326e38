--[[
  The input file is uploaded: `claimed → uploaded`, with its file id.
  Input:
    KEYS[1]  the flush hash
    ARGV[1]  options (JSON): fileId, fence ('' = unchecked)
  Output: 1; errors STALE_FENCE, ILLEGAL_FLUSH_TRANSITION
]]
--- @include "fence"
--- @include "flush-move"
local o = cjson.decode(ARGV[1])
local refused = fence_check(KEYS[1], o.fence)
if refused then return refused end
local bad = flush_move(KEYS[1], 'uploaded')
if bad then return bad end
redis.call('HSET', KEYS[1], 'file_id', o.fileId)
return 1
