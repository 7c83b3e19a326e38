--[[
  Delivery retries used up: into the dead letters (if the record still exists), out of the undelivered index.
  Input:
    KEYS[1]  the request hash
    ARGV[1]  options (JSON): tag, id, now, reason (optional: exhausted | endpoint_disabled | refused | no_tenant),
             event (optional: {jobId, data}: the tenant's `message.attempt.exhausted` event, written to the outbox in
             the same step, so that it is sent even if this process dies now)
  Output: 1 when dead-lettered, the outbox member when an event was written too, -1 when the record is gone
]]
--- @include "outbox"
local o = cjson.decode(ARGV[1])
redis.call('ZREM', key_undelivered(o.tag), o.id)
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'dead', '1')
if o.reason then redis.call('HSET', KEYS[1], 'dead_reason', o.reason) end
if redis.call('ZADD', key_dead(o.tag), o.now, o.id) == 1 and o.event then
  return outbox_add(o.tag, o.now, 'deliver', o.event.jobId, o.event.data)
end
return 1
