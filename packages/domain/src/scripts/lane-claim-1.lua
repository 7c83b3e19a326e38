--[[
  Takes a queued request for a fast lane (SPEC §10: `flex` or `realtime`, one synchronous call): out of its group's
  pending set and the deadline index (into the lane runs, for the lane sweep), queued → submitted with a fresh run id in `batch_id` (so the one settle script
  applies its result exactly as a batch line's), the attempt counted, and the lane job in the outbox. A request that is
  not queued any more (a packer claimed it into a flush, it was cancelled or already moved) is left alone: a request in
  a live provider batch is never sent a second way (I2).
  Input:
    KEYS[1]  the request hash
    ARGV[1]  options (JSON): tag, lane, now, partition
  Output: {'claimed', run id, outbox member} | {'stale', its status or ''}
]]
--- @include "move"
--- @include "group"
--- @include "lane-run"
local o = cjson.decode(ARGV[1])
local tag, now = o.tag, o.now
local f = redis.call('HMGET', KEYS[1], 'status', 'group', 'bytes', 'tokens', 'id', 'inputs', 'attempts', 'tenant',
  'lane')
if not f[1] then return {'stale', ''} end
if f[1] ~= 'queued' then return {'stale', f[1]} end
local id = f[5]
redis.call('ZREM', key_pending(tag, f[2]), id)
group_remove(tag, f[2], tonumber(f[3]) or 0, tonumber(f[4]) or 0, tonumber(f[6]) or 0)
local attempts = (tonumber(f[7]) or 0) + 1
local run = 'lane_' .. o.lane .. '_' .. id .. '_' .. attempts
redis.call('HSET', KEYS[1], 'attempts', attempts)
move(tag, KEYS[1], 'queued', 'submitted', f[8], now)
redis.call('ZREM', key_deadlines(tag), id)
local member = lane_run(tag, now, o.partition, KEYS[1], id, o.lane, run, f[9] or 'batch')
return {'claimed', run, member}
