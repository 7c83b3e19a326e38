--[[
  The provider refused the flush's file or batch for good (`→ failed`): every request still batched in it fails with
  the provider's message (terminal bookkeeping, see finish); the flush and its id list expire after the retention,
  like a routed batch's. A second call changes nothing.
  Input:
    KEYS[1]  the flush hash
    ARGV[1]  options (JSON): tag, flushId, now, error (the requests' error object, as JSON text), retention (ms),
             partition, fence ('' = unchecked)
  Output: the outbox members of the failed requests' deliver jobs ({} when the flush had failed already);
    errors STALE_FENCE, ILLEGAL_FLUSH_TRANSITION
]]
--- @include "fence"
--- @include "flush-move"
--- @include "move"
--- @include "finish"
local o = cjson.decode(ARGV[1])
local tag, fid, now = o.tag, o.flushId, o.now
local refused = fence_check(KEYS[1], o.fence)
if refused then return refused end
if redis.call('HGET', KEYS[1], 'state') == 'failed' then return {} end
local bad = flush_move(KEYS[1], 'failed')
if bad then return bad end
local ids = redis.call('LRANGE', key_flush_ids(tag, fid), 0, -1)
local members = {}
for _, id in ipairs(ids) do
  local key = key_req(tag, id)
  local f = redis.call('HMGET', key, 'status', 'flush_id', 'tenant')
  if f[1] == 'batched' and f[2] == fid then
    redis.call('HSET', key, 'error', o.error)
    move(tag, key, 'batched', 'failed', f[3], now)
    local member = finish(tag, key, id, now, o.retention, o.partition)
    if member then members[#members + 1] = member end
  end
end
publish_finished(tag)
redis.call('HSET', KEYS[1], 'failed_at', now)
redis.call('ZREM', key_flushes(tag), fid)
redis.call('PEXPIRE', KEYS[1], o.retention)
redis.call('PEXPIRE', key_flush_ids(tag, fid), o.retention)
return members
