--[[
  finish(tag, key, id, now, retention, partition): terminal bookkeeping of a request: completion time, retention,
  the delivery job through the outbox, the undelivered index, and a notice on the partition's outcomes channel. Returns the outbox member
  (for a line of a Batch API batch its batch is counted instead, see facade: the member of the batch webhook when
  this line ended the batch, else false).
]]
--- @include "outbox"
--- @include "facade"
local function finish(tag, key, id, now, retention, partition)
  redis.call('HSET', key, 'completed_at', now)
  redis.call('PEXPIRE', key, retention)
  local fbatch = redis.call('HGET', key, 'fbatch')
  if fbatch then
    -- A line of a Batch API batch (SPEC §12): no per-line webhook; its batch counts it, and may end.
    redis.call('PUBLISH', key_outcomes(tag), id)
    return facade_line_done(tag, fbatch, redis.call('HGET', key, 'status'), now, retention, partition)
  end
  local member = outbox_add(tag, now, 'deliver', job_id_deliver(id), {partition=partition, requestId=id})
  -- Until its outcome is delivered, gone or dead-lettered: a deleted deliver job must not mean a lost outcome (14.6).
  redis.call('ZADD', key_undelivered(tag), now, id)
  -- Wakes the connections waiting for this outcome (transparent mode); a missed notice is covered by their re-reads.
  redis.call('PUBLISH', key_outcomes(tag), id)
  return member
end
