--[[
  Delivery bookkeeping shared by the single-outcome scripts (mark-delivered, mark-gone, record-attempt) and the bulk
  ones (dlv-claim, dlv-complete, dlv-add). None of them recreates an expired record (issue 16.10).
  dlv_due_add(tag, member, at): a delivery due at `at` (ms), unless it is claimed now (in the lease zset) or already
    due (its time is kept). Returns 1 when added.
  mark_delivered(tag, key, id, now): a 2xx: `delivered_at` once, no `dead` flag, out of the dead letters and the
    undelivered index. Returns 1 for the first delivery, 0 for a redelivery, -1 when the record is gone.
  mark_gone(tag, key, id, now, reason): a stop signal (410, abort): `gone_at` once with `stop_reason`, out of the
    undelivered index. Returns 1 when recorded now, 0 when it was already, -1 when the record is gone.
  record_attempt(tag, key, id, entry, max, retention): one attempt (a table without its number) into the delivery log,
    newest first, `max` kept, expiring with the record. Returns its number, -1 when the record is gone.
]]
local function dlv_due_add(tag, member, at)
  if redis.call('ZSCORE', key_dlv_lease(tag), member) then return 0 end
  return redis.call('ZADD', key_dlv_due(tag), 'NX', at, member)
end

local function mark_delivered(tag, key, id, now)
  redis.call('ZREM', key_undelivered(tag), id)
  if redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', key_dead(tag), id)
    return -1
  end
  local first = redis.call('HSETNX', key, 'delivered_at', now)
  redis.call('HDEL', key, 'dead')
  redis.call('ZREM', key_dead(tag), id)
  return first
end

local function mark_gone(tag, key, id, now, reason)
  redis.call('ZREM', key_undelivered(tag), id)
  if redis.call('EXISTS', key) == 0 then return -1 end
  local first = redis.call('HSETNX', key, 'gone_at', now)
  if first == 1 and reason then redis.call('HSET', key, 'stop_reason', reason) end
  return first
end

local function record_attempt(tag, key, id, entry, max, retention)
  if redis.call('EXISTS', key) == 0 then return -1 end
  local n = redis.call('HINCRBY', key, 'delivery_attempts', 1)
  entry.attempt = n
  local k = key_attempts(tag, id)
  redis.call('LPUSH', k, cjson.encode(entry))
  redis.call('LTRIM', k, 0, max - 1)
  local ttl = redis.call('PTTL', key)
  if ttl > 0 then redis.call('PEXPIRE', k, ttl) else redis.call('PEXPIRE', k, retention) end
  return n
end
