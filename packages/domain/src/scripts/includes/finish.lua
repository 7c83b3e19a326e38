--[[
  finish(tag, key, id, now, retention, partition): terminal bookkeeping of a request: completion time, retention,
  what a finished record no longer needs dropped (its `body`, sent upstream already, its structured-output `schema`
  and its packing sizes `bytes`, `tokens`, `inputs`: read only while it can still be batched; none is part of the
  request object or its webhook), whether its deadline was met (and out of the deadline and live-deadline indexes),
  its delivery due now (T:dlv:due, claimed in bulk by the dispatchers: no outbox hop, no BullMQ job), the undelivered
  index; its id joins the notice that publish_finished(tag) sends. Returns false, except for a line of a Batch API
  batch, which has no webhook of its own: its batch is counted instead (see facade) and the answer is the outbox member
  of the batch webhook when this line ended the batch.
  publish_finished(tag): one PUBLISH on the partition's outcomes channel naming every request this call finished,
  space-separated (a settle of 100 lines is one message, not 100). Every script that calls finish calls it last.
]]
--- @include "outbox"
--- @include "facade"
local finished_ids = {}
local finished_prune = nil
local function finish(tag, key, id, now, retention, partition)
  redis.call('HSET', key, 'completed_at', now)
  redis.call('HDEL', key, 'body', 'schema', 'bytes', 'tokens', 'inputs')
  redis.call('PEXPIRE', key, retention)
  local f = redis.call('HMGET', key, 'fbatch', 'deadline_at', 'status', 'lane', 'group')
  local fbatch = f[1]
  if f[2] then
    -- Deadlines (SPEC §10): met or missed, counted per lane and group (provider, model) for the metrics.
    redis.call('ZREM', key_deadlines(tag), id)
    -- And out of the escalation pass's index (ESCALATE_CANCEL_BATCHES) at once: it stays bounded by the requests in
    -- flushes and live batches, not by every deadline ever seen there.
    redis.call('ZREM', key_live_deadlines(tag), id)
    if f[3] ~= 'cancelled' then
      local met = now <= tonumber(f[2])
      redis.call('HSET', key, 'deadline_met', met and '1' or '0')
      local group = string.gsub(f[5] or '', '|iso:.*$', '')
      redis.call('HINCRBY', key_deadline_stats(tag), (f[4] or 'batch') .. '|' .. (met and 'met' or 'missed') .. '|' ..
        group, 1)
    end
  end
  if fbatch then
    -- A line of a Batch API batch (SPEC §12): no per-line webhook; its batch counts it, and may end.
    finished_ids[#finished_ids + 1] = id
    return facade_line_done(tag, fbatch, redis.call('HGET', key, 'status'), now, retention, partition)
  end
  -- Its first delivery, due now (a request finishes once, so it is neither due nor claimed yet).
  redis.call('ZADD', key_dlv_due(tag), now, id)
  -- Until its outcome is delivered, gone or dead-lettered: a deleted delivery must not mean a lost outcome (14.6).
  redis.call('ZADD', key_undelivered(tag), now, id)
  -- By finish time, for replays of a time range (SPEC §16); older than the records' retention is dropped once per
  -- script call (publish_finished), not once per request.
  redis.call('ZADD', key_finished(tag), now, id)
  finished_prune = now - retention
  finished_ids[#finished_ids + 1] = id
  return false
end
-- Wakes the connections waiting for these outcomes (transparent mode); a missed notice is covered by their re-reads.
-- Also drops the finished index's members older than the records' retention.
local function publish_finished(tag)
  if finished_prune then
    redis.call('ZREMRANGEBYSCORE', key_finished(tag), '-inf', finished_prune)
    finished_prune = nil
  end
  if #finished_ids == 0 then return end
  redis.call('PUBLISH', key_outcomes(tag), table.concat(finished_ids, ' '))
  finished_ids = {}
end
