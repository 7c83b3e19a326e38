--[[
  The batch is fully routed (or abandoned: `not_found`): its final status (a move checked by batch_move) and
  `routed_at`, with its requests' outcome counts when given; no longer live, it joins the partition's recent batches
  (trimmed to `recent`), and it, its flush and the flush's id list expire after the retention. A batch routed already
  is left as it is.
  Input:
    KEYS[1]  the batch hash
    ARGV[1]  options (JSON): tag, batchId, flushId, status, now, retention (ms), recent,
             outcomes ({completed, failed, retried}, optional)
  Output: 1 when finished now, 0 when it was routed already or its record is gone; error ILLEGAL_BATCH_TRANSITION
]]
--- @include "batch-move"
local o = cjson.decode(ARGV[1])
local tag, now = o.tag, o.now
local f = redis.call('HMGET', KEYS[1], 'id', 'routed_at')
if not f[1] or f[2] then return 0 end
local bad = batch_move(KEYS[1], o.status)
if bad then return bad end
redis.call('HSET', KEYS[1], 'routed_at', now)
if o.outcomes then
  redis.call('HSET', KEYS[1], 'n_completed', o.outcomes.completed, 'n_failed', o.outcomes.failed,
    'n_retried', o.outcomes.retried)
end
redis.call('ZREM', key_batches(tag), o.batchId)
redis.call('ZADD', key_recent_batches(tag), now, o.batchId)
redis.call('ZREMRANGEBYRANK', key_recent_batches(tag), 0, -o.recent - 1)
redis.call('PEXPIRE', KEYS[1], o.retention)
redis.call('PEXPIRE', key_flush(tag, o.flushId), o.retention)
redis.call('PEXPIRE', key_flush_ids(tag, o.flushId), o.retention)
return 1
