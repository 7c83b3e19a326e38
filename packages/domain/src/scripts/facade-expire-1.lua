--[[
  Starts the expiry of a Batch API batch whose window has passed (SPEC §12): the driver then cancels its queued lines
  as `batch_expired` (facade-end-pass), and the batch is `expired` when that pass ends; lines answered by then are in
  its output file. Upstream expiry of a provider batch is not this: its lines are retried by the poller.
  Input:
    KEYS[1]  the batch hash
    ARGV[1]  options (JSON): tag, now
  Output: 1 when the expiry started, 0 when the batch is not due (or ending already)
]]
local o = cjson.decode(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'status', 'expires_at', 'ending', 'id')
if not f[1] or (f[1] ~= 'validating' and f[1] ~= 'in_progress') then return 0 end
if f[3] ~= '' or o.now < tonumber(f[2]) then return 0 end
redis.call('HSET', KEYS[1], 'ending', 'expire', 'end_cursor', 0)
redis.call('ZADD', key_facade_live(o.tag), o.now, f[4])
return 1
