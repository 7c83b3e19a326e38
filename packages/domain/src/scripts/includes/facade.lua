--[[
  The Batch API facade (SPEC §12): a batch whose lines are requests of the pipeline.
  facade_end(tag, bkey, batchId, status, now, retention, partition, errors): the batch's terminal move (completed,
    failed, expired, cancelled) with its time, its result file ids, its retention, out of the live set, and the
    batch webhook's deliver job through the outbox. Returns that job's outbox member (false, and nothing changes, for
    a batch already terminal).
  facade_line_done(tag, batchId, status, now, retention, partition): counts a finished line of a batch (called by
    `finish` for a request with `fbatch`); the last line of an in-progress batch completes it, the last of a cancelling
    one cancels it. Lines that finish after the batch ended (expired) change nothing. Returns the outbox member of the
    batch webhook when this line ended the batch, else false.
]]
--- @include "outbox"
local FACADE_TERMINAL = {completed = true, failed = true, expired = true, cancelled = true}

local function facade_end(tag, bkey, batchId, status, now, retention, partition, errors)
  local f = redis.call('HMGET', bkey, 'status', 'n_completed', 'n_failed', 'n_cancelled', 'total', 'next_chunk',
    'chunks', 'input_file_id')
  if not f[1] or FACADE_TERMINAL[f[1]] then return false end
  local done, total = tonumber(f[2]) or 0, tonumber(f[5]) or 0
  local fields = {'status', status, status .. '_at', now}
  if status == 'completed' then fields[#fields + 1] = 'finalizing_at'; fields[#fields + 1] = now end
  if done > 0 then fields[#fields + 1] = 'output_file_id'; fields[#fields + 1] = 'file-' .. batchId .. '-output' end
  if status ~= 'failed' and done < total then
    fields[#fields + 1] = 'error_file_id'; fields[#fields + 1] = 'file-' .. batchId .. '-errors'
  end
  if errors and errors ~= '' then fields[#fields + 1] = 'errors'; fields[#fields + 1] = errors end
  redis.call('HSET', bkey, unpack(fields))
  -- A batch that ends before its last chunk was enqueued no longer reads its input file.
  if f[8] and (tonumber(f[6]) or 0) < (tonumber(f[7]) or 0) then
    local fkey = key_facade_file(tag, f[8])
    if redis.call('EXISTS', fkey) == 1 then redis.call('HINCRBY', fkey, 'enqueuing', -1) end
  end
  redis.call('PEXPIRE', bkey, retention)
  redis.call('ZREM', key_facade_live(tag), batchId)
  return outbox_add(tag, now, 'deliver', job_id_deliver(batchId), {partition = partition, requestId = batchId,
    batch = true})
end

local function facade_line_done(tag, batchId, status, now, retention, partition)
  local bkey = key_facade_batch(tag, batchId)
  local st = redis.call('HGET', bkey, 'status')
  if not st or FACADE_TERMINAL[st] then return false end
  local field = 'n_failed'
  if status == 'completed' then field = 'n_completed' elseif status == 'cancelled' then field = 'n_cancelled' end
  redis.call('HINCRBY', bkey, field, 1)
  local f = redis.call('HMGET', bkey, 'n_completed', 'n_failed', 'n_cancelled', 'total', 'ending')
  local done = (tonumber(f[1]) or 0) + (tonumber(f[2]) or 0) + (tonumber(f[3]) or 0)
  if done < (tonumber(f[4]) or 0) or f[5] == 'expire' then return false end
  if st == 'in_progress' then return facade_end(tag, bkey, batchId, 'completed', now, retention, partition, '') end
  if st == 'cancelling' then return facade_end(tag, bkey, batchId, 'cancelled', now, retention, partition, '') end
  return false
end
