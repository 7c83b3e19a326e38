--[[
  finish(tag, key, id, now, retention, partition): terminal bookkeeping of a request: completion time, retention,
  the delivery job through the outbox, the undelivered index, and a notice on the partition's outcomes channel. Returns the outbox member.
]]
--- @include "outbox"
local function finish(tag, key, id, now, retention, partition)
  redis.call('HSET', key, 'completed_at', now)
  redis.call('PEXPIRE', key, retention)
  local member = outbox_add(tag, now, 'deliver', job_id_deliver(id), {partition=partition, requestId=id})
  -- Until its outcome is delivered, gone or dead-lettered: a deleted deliver job must not mean a lost outcome (14.6).
  redis.call('ZADD', key_undelivered(tag), now, id)
  -- By finish time, for replays of a time range (SPEC §16); older than the records' retention is dropped on the way.
  redis.call('ZADD', key_finished(tag), now, id)
  redis.call('ZREMRANGEBYSCORE', key_finished(tag), '-inf', now - retention)
  -- Wakes the connections waiting for this outcome (transparent mode); a missed notice is covered by their re-reads.
  redis.call('PUBLISH', key_outcomes(tag), id)
  return member
end
