--[[
  Cancels a queued request of a tenant (queued → cancelled), with its terminal bookkeeping (see finish).
  Input:
    KEYS[1]  the request hash
    ARGV[1]  options (JSON): tag, tenant, now, retention (ms), partition
  Output: {'cancelled', outbox member of its deliver job} | {'not_found'} (missing, or another tenant's) |
    {'conflict', its status} (batched or later)
]]
--- @include "move"
--- @include "group"
--- @include "finish"
local o = cjson.decode(ARGV[1])
local tag, tenant, now = o.tag, o.tenant, o.now
local f = redis.call('HMGET', KEYS[1], 'status', 'tenant', 'group', 'bytes', 'tokens', 'id', 'inputs')
if not f[1] or f[2] ~= tenant then return {'not_found'} end
if f[1] ~= 'queued' then return {'conflict', f[1]} end
redis.call('ZREM', key_pending(tag, f[3]), f[6])
group_remove(tag, f[3], tonumber(f[4]), tonumber(f[5]), tonumber(f[7]) or 0)
move(tag, KEYS[1], 'queued', 'cancelled', tenant, now)
local member = finish(tag, KEYS[1], f[6], now, o.retention, o.partition)
publish_finished(tag)
return {'cancelled', member or ''}
