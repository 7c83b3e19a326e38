--[[
  Asks a Batch API batch to cancel (SPEC §12): `validating` or `in_progress` → `cancelling`; the driver then cancels
  its queued lines (facade-end-pass) and the batch is `cancelled` once its last line has ended (lines already in a
  provider batch end as that batch ends).
  Input:
    KEYS[1]  the batch hash
    ARGV[1]  options (JSON): tag, tenant, now
  Output: {'cancelling'} | {'already', status} (cancelling already) | {'conflict', status} (terminal) | {'not_found'}
]]
local o = cjson.decode(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'status', 'tenant', 'id', 'ending')
if not f[1] or f[2] ~= o.tenant then return {'not_found'} end
if f[1] == 'cancelling' then return {'already', f[1]} end
if f[1] ~= 'validating' and f[1] ~= 'in_progress' then return {'conflict', f[1]} end
redis.call('HSET', KEYS[1], 'status', 'cancelling', 'cancelling_at', o.now)
if f[4] == '' then redis.call('HSET', KEYS[1], 'ending', 'cancel', 'end_cursor', 0) end
redis.call('ZADD', key_facade_live(o.tag), o.now, f[3])
return {'cancelling'}
