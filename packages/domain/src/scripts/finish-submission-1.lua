--[[
  The flush's requests are marked: the flush becomes `submitted`, its batch record is created (status `submitted`,
  live, with the flush's provider) and its first poll is asked for through the outbox. Idempotent: a second call returns the same outbox member
  and writes nothing.
  Input:
    KEYS[1]  the flush hash
    ARGV[1]  options (JSON): tag, flushId, batchId, now, partition, fileId, fence ('' = unchecked)
  Output: {1 when recorded now else 0, outbox member of the poll job}; errors STALE_FENCE, BATCH_CONFLICT,
    ILLEGAL_FLUSH_TRANSITION
]]
--- @include "fence"
--- @include "flush-move"
--- @include "outbox"
local o = cjson.decode(ARGV[1])
local tag, fid, batchId, now = o.tag, o.flushId, o.batchId, o.now
local job = {partition=o.partition, batchId=batchId}
local f = redis.call('HMGET', KEYS[1], 'state', 'group', 'count', 'batch_id', 'provider')
if f[1] == 'submitted' then
  return {0, outbox_member('poll', job_id_poll(batchId), job)}
end
local refused = fence_check(KEYS[1], o.fence)
if refused then return refused end
if f[4] ~= batchId then return redis.error_reply('BATCH_CONFLICT flush is in batch ' .. tostring(f[4])) end
local bad = flush_move(KEYS[1], 'submitted')
if bad then return bad end
redis.call('HSET', KEYS[1], 'submitted_at', now)
redis.call('ZREM', key_flushes(tag), fid)
-- A new batch: its first status is set here, every later one through batch_move (record-poll, finish-batch).
redis.call('HSET', key_batch(tag, batchId), 'id', batchId, 'flush_id', fid, 'group', f[2], 'count', f[3],
  'submitted_at', now, 'status', 'submitted', 'file_id', o.fileId)
-- The provider that holds it (SPEC §11): polls go there, also after a restart. Unset for the `default` provider.
if f[5] and f[5] ~= '' then redis.call('HSET', key_batch(tag, batchId), 'provider', f[5]) end
redis.call('ZADD', key_batches(tag), now, batchId)
return {1, outbox_add(tag, now, 'poll', job_id_poll(batchId), job)}
