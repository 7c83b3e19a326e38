--[[
  One delivery attempt into the outcome's delivery log (SPEC §16): newest first, `max` kept, expiring with the record.
  Never recreates an expired record's log.
  Input:
    KEYS[1]  the request hash
    ARGV[1]  options (JSON): tag, id, max, retention (TTL when the record has none)
    ARGV[2]  the attempt (JSON object without its number: at, status_code, error, duration_ms, next_attempt_at)
  Output: the attempt's number (1 for the outcome's first), -1 when the record is gone
]]
local o = cjson.decode(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local n = redis.call('HINCRBY', KEYS[1], 'delivery_attempts', 1)
local entry = cjson.decode(ARGV[2])
entry.attempt = n
local k = key_attempts(o.tag, o.id)
redis.call('LPUSH', k, cjson.encode(entry))
redis.call('LTRIM', k, 0, o.max - 1)
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', k, ttl) else redis.call('PEXPIRE', k, o.retention) end
return n
