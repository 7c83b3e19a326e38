--[[
  lane_run(tag, now, partition, key, id, lane, run, from): puts a request on a fast-lane run (SPEC §10): the run id in
  `batch_id` (so the one settle script applies its answer), the lane and where it came from on the record, the run in
  the lane runs (for the lane sweep) and out of the live-deadline index (no batch holds it now), and its `lane` job in the outbox carrying the deadline (lane jobs run earliest
  deadline first). Used by the lane claim and by the settle of an escalated batch's leftovers. Returns the member.
]]
--- @include "outbox"
local function lane_run(tag, now, partition, key, id, lane, run, from)
  redis.call('HSET', key, 'lane', lane, 'batch_id', run, 'lane_from', from)
  redis.call('HDEL', key, 'flush_id')
  redis.call('ZADD', key_lane_runs(tag), now, id)
  redis.call('ZREM', key_live_deadlines(tag), id)
  return outbox_add(tag, now, 'lane', job_id_lane(run),
    {partition = partition, requestId = id, runId = run, lane = lane,
     deadlineAt = tonumber(redis.call('HGET', key, 'deadline_at'))})
end
