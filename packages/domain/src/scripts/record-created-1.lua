--[[
  The provider created (or an earlier run created, and this one adopted) batch `batchId` for the flush: the batch id
  is recorded (`→ submitting`) before any request is marked, so that a run that dies while marking is resumed with
  this batch by the next run, never looked up or created again. Idempotent for the same batch.
  Input:
    KEYS[1]  the flush hash
    ARGV[1]  options (JSON): batchId, fileId, now, fence ('' = unchecked)
  Output: 1 when recorded now, 0 when it already was; errors STALE_FENCE, BATCH_CONFLICT, ILLEGAL_FLUSH_TRANSITION
]]
--- @include "fence"
--- @include "flush-move"
local o = cjson.decode(ARGV[1])
local refused = fence_check(KEYS[1], o.fence)
if refused then return refused end
local f = redis.call('HMGET', KEYS[1], 'state', 'batch_id')
if f[1] == 'submitting' or f[1] == 'submitted' then
  if f[2] == o.batchId then return 0 end
  return redis.error_reply('BATCH_CONFLICT flush already recorded batch ' .. tostring(f[2]))
end
local bad = flush_move(KEYS[1], 'submitting')
if bad then return bad end
redis.call('HSET', KEYS[1], 'batch_id', o.batchId, 'file_id', o.fileId, 'created_batch_at', o.now)
return 1
