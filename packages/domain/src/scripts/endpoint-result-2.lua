--[[
  The result of one delivery attempt for an endpoint's health (SPEC §16). A success closes the circuit and forgets
  the failures; a failure counts, opens the circuit after `threshold` in a row (for `cooldown` ms), and disables the
  endpoint once it has been failing for `disableAfter` ms without a success in between.
  Input:
    KEYS[1]  the endpoint hash (G:endpoint:<tenant>:<host>)
    KEYS[2]  the unhealthy-endpoint zset (G:endpoints)
    ARGV[1]  options (JSON): now, ok, member (`<tenant> <host>`), threshold, cooldown, disableAfter, keep (ms a failing
             endpoint's hash is kept without news), error
  Output: 'closed' | 'failing' | 'open' | 'disabled' (already) | 'disabled_now' (this failure disabled it)
]]
local o = cjson.decode(ARGV[1])
local disabled = redis.call('HEXISTS', KEYS[1], 'disabled_at') == 1
if o.ok then
  if disabled then return 'disabled' end
  if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[2], o.member)
  end
  return 'closed'
end
local fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
local since = tonumber(redis.call('HGET', KEYS[1], 'failing_since') or '0') or 0
if since == 0 then
  since = o.now
  redis.call('HSET', KEYS[1], 'failing_since', o.now)
  redis.call('ZADD', KEYS[2], o.now, o.member)
end
redis.call('HSET', KEYS[1], 'last_error', o.error, 'last_failure_at', o.now)
if disabled then return 'disabled' end
if o.now - since >= o.disableAfter then
  redis.call('HSET', KEYS[1], 'disabled_at', o.now, 'open_until', 0)
  -- Disabled until someone re-enables it: never expires on its own.
  redis.call('PERSIST', KEYS[1])
  return 'disabled_now'
end
redis.call('PEXPIRE', KEYS[1], o.keep)
if fails >= o.threshold then
  redis.call('HSET', KEYS[1], 'open_until', o.now + o.cooldown)
  return 'open'
end
return 'failing'
