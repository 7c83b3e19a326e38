--[[
  settle_one(tag, key, batchId, kind, now, response, message, maxAttempts, retention, partition, group, truncated,
  billing, ledger, lane): applies one routed result to the request at `key`. Returns the outcome, for a terminal outcome the
  delivery job's outbox member, and for a completed one with `billing` (see bill) its billing line. A request not
  submitted in this batch is left alone ('stale'), which makes routing a file twice harmless.
  Kinds: `completed`, `rejected` (fails the request), `retry` (back to the queue; the attempt this batch used counts),
  `requeue` (back to the queue with the attempt given back: the batch failed through no fault of this request). A
  non-empty `group` moves the request to that packing group (a failed batch is split to isolate a poison request).
  `invalid` (SPEC §14): an answer that breaks its request's JSON schema — a retry (the attempt counts), and after
  maxAttempts a failure `schema_validation_failed` with that last answer kept in `response`. `truncated` (a
  `completed` answer cut off by `finish_reason: length`) is kept on the record.
  A non-empty `lane` records the lane that answered (a fast-lane run, SPEC §10).
  `escalate` (SPEC §10, ESCALATE_CANCEL_BATCHES): a request the partial output of a batch cancelled by the deadline
  scheduler did not answer, the cancel confirmed: one marked `escalate_lane` is handed to that fast lane in this same
  step (a lane run, its job in the outbox; the cancelled batch's attempt given back, the lane's counted), so no packer
  can take it into another batch first; one not marked is a `requeue`.
]]
--- @include "move"
--- @include "group"
--- @include "finish"
--- @include "bill"
--- @include "lane-run"
local function settle_one(tag, key, batchId, kind, now, response, message, maxAttempts, retention, partition, group,
    truncated, billing, ledger, lane)
  -- What a completed line needs; the fields only a line that goes back to the queue reads come below.
  local f = redis.call('HMGET', key, 'status', 'batch_id', 'tenant', 'group', 'id', 'lane', 'fbatch', 'deadline_at')
  if not f[1] then return 'unknown' end
  if f[1] ~= 'submitted' or f[2] ~= batchId then return 'stale' end
  local id, tenant = f[5], f[3]
  -- A fast-lane run ends here, whatever its outcome (SPEC §10): out of the lane sweep's list.
  if string.sub(batchId, 1, 5) == 'lane_' then redis.call('ZREM', key_lane_runs(tag), id) end
  local changedLane = lane ~= nil and lane ~= ''
  if kind == 'completed' then
    -- The common case, in one HSET: the answer, the lane that gave it, its cost, the status and finish's fields.
    local fields = {'response', response}
    -- A fast-lane run that changed lane on the way (flex answered 429, realtime took over) says which one answered.
    if changedLane then
      fields[#fields + 1] = 'lane'
      fields[#fields + 1] = lane
    else
      lane = f[6]
    end
    if truncated then
      fields[#fields + 1] = 'truncated'
      fields[#fields + 1] = '1'
    end
    local billed = false
    -- Before finish: the cost is part of the outcome its webhook tells.
    if billing and ledger then
      billed = bill(tag, key, tenant, billing, ledger, lane or false, fields, f[4] or false)
    end
    move_counts(tag, 'submitted', 'completed', tenant)
    fields[#fields + 1] = 'status'
    fields[#fields + 1] = 'completed'
    fields[#fields + 1] = 'updated_at'
    fields[#fields + 1] = num_text(now)
    local member = finish(tag, key, id, now, retention, partition,
      {fbatch = f[7], deadline_at = f[8], status = 'completed', lane = lane, group = f[4]}, fields)
    redis.call('HSET', key, unpack(fields))
    return 'completed', member, billed
  end
  if changedLane then redis.call('HSET', key, 'lane', lane) end
  if kind == 'rejected' then
    if response ~= '' then redis.call('HSET', key, 'response', response) end
    redis.call('HSET', key, 'error', cjson.encode({code='provider_rejected', message=message}))
    move(tag, key, 'submitted', 'failed', tenant, now)
    return 'failed', finish(tag, key, id, now, retention, partition)
  end
  -- What the other kinds read: attempts, created_at and the packing sizes bytes, tokens, inputs.
  local q = redis.call('HMGET', key, 'attempts', 'created_at', 'bytes', 'tokens', 'inputs')
  if kind == 'escalate' then
    local to = redis.call('HGET', key, 'escalate_lane')
    if to then
      local run = 'lane_' .. to .. '_' .. id .. '_' .. (tonumber(q[1]) or 0) .. 'e'
      redis.call('HDEL', key, 'escalate_lane')
      redis.call('HSET', key, 'last_error', message)
      return 'retried', lane_run(tag, now, partition, key, id, to, run, 'batch')
    end
    kind = 'requeue'
  end
  local attempts = tonumber(q[1]) or 0
  if kind == 'invalid' and attempts >= maxAttempts then
    if response ~= '' then redis.call('HSET', key, 'response', response) end
    if truncated then redis.call('HSET', key, 'truncated', '1') end
    redis.call('HSET', key, 'error', cjson.encode({code='schema_validation_failed', message=message}))
    move(tag, key, 'submitted', 'failed', tenant, now)
    return 'failed', finish(tag, key, id, now, retention, partition)
  end
  if kind == 'requeue' then
    if attempts > 0 then redis.call('HINCRBY', key, 'attempts', -1) end
  elseif kind ~= 'invalid' and attempts >= maxAttempts then
    redis.call('HSET', key, 'error', cjson.encode({code='max_attempts_exceeded',
      message='gave up after ' .. attempts .. ' attempts; last error: ' .. message}))
    move(tag, key, 'submitted', 'failed', tenant, now)
    return 'failed', finish(tag, key, id, now, retention, partition)
  end
  local target = f[4]
  if group ~= nil and group ~= '' then
    target = group
    redis.call('HSET', key, 'group', group)
  end
  redis.call('HSET', key, 'last_error', message)
  redis.call('HDEL', key, 'batch_id', 'flush_id', 'escalate_lane')
  move(tag, key, 'submitted', 'queued', tenant, now)
  -- Back in the queue: the deadline scheduler looks at it again, from the batch lane (SPEC §10).
  local back = redis.call('HMGET', key, 'deadline_at', 'lane')
  if back[1] then
    redis.call('ZADD', key_deadlines(tag), back[1], id)
    redis.call('ZREM', key_live_deadlines(tag), id)
  end
  if back[2] then redis.call('HSET', key, 'lane', 'batch') end
  group_add(tag, target, {tonumber(q[2]), id}, 1, tonumber(q[3]) or 0, tonumber(q[4]) or 0, tonumber(q[5]) or 0)
  return 'retried'
end
