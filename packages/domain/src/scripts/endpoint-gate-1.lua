--[[
  May a delivery to this endpoint (a tenant's callback host) go now? Closed (healthy, the common case: no hash, no
  write), open (consecutive failures: wait until `open_until`), half-open (the cooldown is over: this caller is the
  one probe, the others keep waiting for `probe` ms or until the probe's result), or disabled (SPEC §16).
  Input:
    KEYS[1]  the endpoint hash (G:endpoint:<tenant>:<host>)
    ARGV[1]  options (JSON): now, probe (ms the probe holds the circuit)
  Output: {'closed'} | {'probe'} | {'open', open_until} | {'disabled', disabled_at, notified}
]]
local o = cjson.decode(ARGV[1])
local h = redis.call('HMGET', KEYS[1], 'disabled_at', 'open_until', 'notified')
if h[1] then return {'disabled', h[1], h[3] or '0'} end
local open = tonumber(h[2] or '0') or 0
if open == 0 then return {'closed'} end
if open > o.now then return {'open', tostring(open)} end
redis.call('HSET', KEYS[1], 'open_until', o.now + o.probe)
return {'probe'}
