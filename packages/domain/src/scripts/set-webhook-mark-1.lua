--[[
  Fixes the mark of an outcome's webhook body (`webhook_fp`: its format and a hash prefix, webhook-body.ts) the first
  time the body is built (HSETNX), on an existing record only: a hash written after its TTL ran out would have none
  (issue 16.10). The body itself is not stored: every attempt rebuilds it from the terminal record.
  Input:
    KEYS[1]  the request hash
    ARGV[1]  the mark
  Output: 1 when this mark is now the stored one, 0 when one was stored already, -1 when the record is gone
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[1], 'webhook_fp', ARGV[1])
