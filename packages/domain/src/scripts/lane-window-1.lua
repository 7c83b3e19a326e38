--[[
  Moves a queued request to the same group in a faster completion window (SPEC §10: a window such as Doubleword's
  `1h` is a batch lane of its own): out of its group's pending set and stats, into the other group's with the same
  pending score, and `group` on the record — one step, so a packer claims it from one group or the other, never both
  and never neither. Only a request still `queued` moves: one a packer has claimed into a flush, or that is in a live
  batch, is left alone (I2). Nothing else changes: it stays queued, in the deadline index, on the batch lane.
  Input:
    KEYS[1]  the request hash
    ARGV[1]  options (JSON): tag, from (the group the scheduler read), to, now
  Output: {'moved'} | {'stale', its status or ''}
]]
--- @include "group"
local o = cjson.decode(ARGV[1])
local tag = o.tag
local f = redis.call('HMGET', KEYS[1], 'status', 'group', 'bytes', 'tokens', 'id', 'inputs')
if not f[1] then return {'stale', ''} end
if f[1] ~= 'queued' then return {'stale', f[1]} end
if f[2] ~= o.from then return {'stale', 'regrouped'} end
local id = f[5]
local score = redis.call('ZSCORE', key_pending(tag, f[2]), id)
if not score then return {'stale', 'not_pending'} end
local bytes, tokens, inputs = tonumber(f[3]) or 0, tonumber(f[4]) or 0, tonumber(f[6]) or 0
redis.call('ZREM', key_pending(tag, f[2]), id)
group_remove(tag, f[2], bytes, tokens, inputs)
group_add(tag, o.to, {score, id}, 1, bytes, tokens, inputs)
redis.call('HSET', KEYS[1], 'group', o.to, 'updated_at', o.now)
return {'moved'}
