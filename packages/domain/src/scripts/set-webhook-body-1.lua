--[[
  Fixes the webhook body of an outcome the first time it is built (HSETNX), on an existing record only: a hash written
  after its TTL ran out would have none (issue 16.10).
  Input:
    KEYS[1]  the request hash
    ARGV[1]  the webhook body
  Output: 1 when this body is now the stored one, 0 when one was stored already, -1 when the record is gone
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[1], 'webhook_body', ARGV[1])
