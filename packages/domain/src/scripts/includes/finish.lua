--[[
  finish(tag, key, id, now, retention, partition, pre, fields): terminal bookkeeping of a request: completion time,
  retention, what a finished record no longer needs dropped (its `body`, sent upstream already, its structured-output
  `schema` and its packing sizes `bytes`, `tokens`, `inputs`: read only while it can still be batched; none is part of
  the request object or its webhook), whether its deadline was met (and out of the deadline and live-deadline indexes),
  its delivery due now (T:dlv:due, claimed in bulk by the dispatchers: no outbox hop, no BullMQ job), the undelivered
  index; its id joins the notice that publish_finished(tag) sends. Returns false, except for a line of a Batch API
  batch, which has no webhook of its own: its batch is counted instead (see facade) and the answer is the outbox member
  of the batch webhook when this line ended the batch.
  Optional, for a caller that has them (settle): `pre`, the record's fbatch, deadline_at, status (the terminal one),
  lane and group as the caller already read or wrote them (else they are read); `fields`, the caller's HSET field list,
  to which the record's fields are added for the caller to write (else they are written here).
  finish_defer(): from then on the three index ZADDs (due, undelivered, finished) of every finished request are written
  by publish_finished, one ZADD per index for the whole call (a settle of 500 lines: 3 calls instead of 1 500).
  publish_finished(tag): one PUBLISH on the partition's outcomes channel naming every request this call finished,
  space-separated (a settle of 100 lines is one message, not 100). Every script that calls finish calls it last.
]]
--- @include "outbox"
--- @include "facade"
-- A number as Redis writes one passed as a command argument (%.17g), formatted once per value and call: `now` and the
-- retention go into every finished request's HSET, PEXPIRE and three index entries.
local num_texts = {}
local function num_text(n)
  local t = num_texts[n]
  if not t then
    t = string.format('%.17g', n)
    num_texts[n] = t
  end
  return t
end

local finished_ids = {}
local finished_prune = nil
-- finish_defer: {score, id, score, id, ...} of the requests whose index entries publish_finished writes.
local finished_due = nil

local function finish(tag, key, id, now, retention, partition, pre, fields)
  local f
  if pre then
    f = {pre.fbatch, pre.deadline_at, pre.status, pre.lane, pre.group}
  else
    f = redis.call('HMGET', key, 'fbatch', 'deadline_at', 'status', 'lane', 'group')
  end
  local set = fields or {}
  local nowText = num_text(now)
  set[#set + 1] = 'completed_at'
  set[#set + 1] = nowText
  redis.call('HDEL', key, 'body', 'schema', 'bytes', 'tokens', 'inputs')
  redis.call('PEXPIRE', key, num_text(retention))
  local fbatch = f[1]
  if f[2] then
    -- Deadlines (SPEC §10): met or missed, counted per lane and group (provider, model) for the metrics.
    redis.call('ZREM', key_deadlines(tag), id)
    -- And out of the escalation pass's index (ESCALATE_CANCEL_BATCHES) at once: it stays bounded by the requests in
    -- flushes and live batches, not by every deadline ever seen there.
    redis.call('ZREM', key_live_deadlines(tag), id)
    if f[3] ~= 'cancelled' then
      local met = now <= tonumber(f[2])
      set[#set + 1] = 'deadline_met'
      set[#set + 1] = met and '1' or '0'
      local group = string.gsub(f[5] or '', '|iso:.*$', '')
      redis.call('HINCRBY', key_deadline_stats(tag), (f[4] or 'batch') .. '|' .. (met and 'met' or 'missed') .. '|' ..
        group, 1)
    end
  end
  if not fields then redis.call('HSET', key, unpack(set)) end
  if fbatch then
    -- A line of a Batch API batch (SPEC §12): no per-line webhook; its batch counts it, and may end.
    finished_ids[#finished_ids + 1] = id
    return facade_line_done(tag, fbatch, f[3], now, retention, partition)
  end
  finished_prune = now - retention
  finished_ids[#finished_ids + 1] = id
  if finished_due then
    finished_due[#finished_due + 1] = nowText
    finished_due[#finished_due + 1] = id
    return false
  end
  -- Its first delivery, due now (a request finishes once, so it is neither due nor claimed yet).
  redis.call('ZADD', key_dlv_due(tag), now, id)
  -- Until its outcome is delivered, gone or dead-lettered: a deleted delivery must not mean a lost outcome (14.6).
  redis.call('ZADD', key_undelivered(tag), now, id)
  -- By finish time, for replays of a time range (SPEC §16); older than the records' retention is dropped once per
  -- script call (publish_finished), not once per request.
  redis.call('ZADD', key_finished(tag), now, id)
  return false
end

local function finish_defer()
  finished_due = {}
end

-- Wakes the connections waiting for these outcomes (transparent mode); a missed notice is covered by their re-reads.
-- Also writes the deferred index entries (finish_defer) and drops the finished index's members older than the
-- records' retention.
local function publish_finished(tag)
  local due = finished_due
  finished_due = nil
  if due and #due > 0 then
    -- In slices: unpack is bounded by Lua's C stack (8 000 values).
    for s = 1, #due, 4000 do
      local part = {unpack(due, s, math.min(s + 3999, #due))}
      redis.call('ZADD', key_dlv_due(tag), unpack(part))
      redis.call('ZADD', key_undelivered(tag), unpack(part))
      redis.call('ZADD', key_finished(tag), unpack(part))
    end
  end
  if finished_prune then
    redis.call('ZREMRANGEBYSCORE', key_finished(tag), '-inf', finished_prune)
    finished_prune = nil
  end
  if #finished_ids == 0 then return end
  redis.call('PUBLISH', key_outcomes(tag), table.concat(finished_ids, ' '))
  finished_ids = {}
end
