--[[
  One delivery attempt into the outcome's delivery log (SPEC §16): newest first, `max` kept, expiring with the record.
  Never recreates an expired record's log.
  Input:
    KEYS[1]  the request hash
    ARGV[1]  options (JSON): tag, id, max, retention (TTL when the record has none)
    ARGV[2]  the attempt (JSON object without its number: at, status_code, error, duration_ms, next_attempt_at)
  Output: the attempt's number (1 for the outcome's first), -1 when the record is gone
]]
--- @include "delivery"
local o = cjson.decode(ARGV[1])
return record_attempt(o.tag, KEYS[1], o.id, cjson.decode(ARGV[2]), o.max, o.retention)
