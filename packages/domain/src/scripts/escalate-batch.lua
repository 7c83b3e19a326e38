--[[
  Marks a live provider batch for cancellation by the deadline scheduler (SPEC §10, ESCALATE_CANCEL_BATCHES), before
  the provider is asked to cancel it: the batch record gets `escalated_at` (so its router sends the requests its
  partial output did not answer to a lane instead of back to the queue) and each at-risk request still submitted in it
  gets `escalate_lane`, the fast lane it is to take once the cancel is confirmed (settle kind `escalate`). Nothing is
  sent anywhere here: a request in a live batch is not sent a second way while that batch may still answer it (I2).
  A batch marked already, or routed, is left alone.
  Input:
    KEYS[1]   the batch hash
    KEYS[2..] the at-risk request hashes
    ARGV[1]   options (JSON): batchId, now, lanes (one per request key: flex | realtime)
  Output: {'marked', requests marked} | {'already', 0} | {'gone', 0}
]]
local o = cjson.decode(ARGV[1])
local b = redis.call('HMGET', KEYS[1], 'id', 'routed_at', 'escalated_at')
if not b[1] or b[2] then return {'gone', 0} end
if b[3] then return {'already', 0} end
redis.call('HSET', KEYS[1], 'escalated_at', o.now)
local marked = 0
for i = 2, #KEYS do
  local f = redis.call('HMGET', KEYS[i], 'status', 'batch_id')
  if f[1] == 'submitted' and f[2] == o.batchId then
    redis.call('HSET', KEYS[i], 'escalate_lane', o.lanes[i - 1])
    marked = marked + 1
  end
end
return {'marked', marked}
