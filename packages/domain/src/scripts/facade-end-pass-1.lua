--[[
  One step of a Batch API batch's end pass (cancel or expiry, SPEC §12): lines [from, from + count) that are still
  queued are cancelled (error `batch_cancelled` or `batch_expired`), with the terminal bookkeeping of every
  cancelled request. Guarded by the cursor `end_cursor` (must be `from`), and run only once every chunk is enqueued.
  The step that passes the last line ends an expiring batch as `expired`; a cancelling one ends as `cancelled` when
  its last line has ended (here, or later as its provider batch ends).
  Input:
    KEYS[1]  the batch hash
    ARGV[1]  options (JSON): tag, from, count, now, retention, partition
  Output: {'ok', next cursor, total, outbox member of the batch webhook ('' unless the batch ended)} | {'cursor', cursor} | {'enqueuing'} | {'idle'} (no pass asked or batch ended)
]]
--- @include "move"
--- @include "group"
--- @include "finish"
local o = cjson.decode(ARGV[1])
local tag, now = o.tag, o.now
local b = redis.call('HMGET', KEYS[1], 'status', 'ending', 'end_cursor', 'next_chunk', 'chunks', 'enq_lines', 'id',
  'total')
if not b[1] or FACADE_TERMINAL[b[1]] or b[2] == '' then return {'idle'} end
if tonumber(b[4]) < tonumber(b[5]) then return {'enqueuing'} end
local cursor = tonumber(b[3])
if cursor ~= o.from then return {'cursor', cursor} end
local batchId, lines = b[7], tonumber(b[6])
local code = b[2] == 'expire' and 'batch_expired' or 'batch_cancelled'
local message = b[2] == 'expire' and 'This request could not be executed before the completion window expired.'
  or 'This request was cancelled with its batch.'
local errJson = cjson.encode({code = code, message = message})
local to = math.min(cursor + o.count, lines)
local member = false
local stem = 'breq_' .. string.sub(batchId, 7)
local ALPHA = '0123456789abcdefghijklmnopqrstuvwxyz'
for idx = cursor, to - 1 do
  local n, s = idx, ''
  for _ = 1, 4 do
    local d = n % 36
    s = string.sub(ALPHA, d + 1, d + 1) .. s
    n = (n - d) / 36
  end
  local id = stem .. s
  local key = key_req(tag, id)
  local f = redis.call('HMGET', key, 'status', 'group', 'bytes', 'tokens', 'tenant', 'inputs')
  if f[1] == 'queued' then
    redis.call('ZREM', key_pending(tag, f[2]), id)
    group_remove(tag, f[2], tonumber(f[3]) or 0, tonumber(f[4]) or 0, tonumber(f[6]) or 1)
    redis.call('HSET', key, 'error', errJson)
    move(tag, key, 'queued', 'cancelled', f[5], now)
    member = finish(tag, key, id, now, o.retention, o.partition) or member
  end
end
redis.call('HSET', KEYS[1], 'end_cursor', to)
if to >= lines then
  if b[2] == 'expire' then
    member = facade_end(tag, KEYS[1], batchId, 'expired', now, o.retention, o.partition, '') or member
  else
    local c = redis.call('HMGET', KEYS[1], 'status', 'n_completed', 'n_failed', 'n_cancelled')
    local done = (tonumber(c[2]) or 0) + (tonumber(c[3]) or 0) + (tonumber(c[4]) or 0)
    if c[1] == 'cancelling' and done >= tonumber(b[8]) then
      member = facade_end(tag, KEYS[1], batchId, 'cancelled', now, o.retention, o.partition, '') or member
    else
      -- Lines still in provider batches: the batch ends with the last of them (facade_line_done).
      redis.call('ZREM', key_facade_live(tag), batchId)
    end
  end
end
publish_finished(tag)
return {'ok', to, lines, member or ''}
