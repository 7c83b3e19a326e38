--[[
  A poll of a live batch: records the provider's status (a move checked by batch_move) and its request counts.
  Input:
    KEYS[1]  the batch hash
    ARGV[1]  options (JSON): status, total, completed, failed (the provider's request counts), polls, now,
             terminalAt (ms, optional: when the provider says a terminal batch reached its status; kept as
             `terminal_at` before any line is routed, for the terminal-to-delivery latency, SPEC §13)
  Output: 'recorded'; 'routed' when the batch was routed already and 'missing' when its record is gone (nothing
    written either way); error ILLEGAL_BATCH_TRANSITION
]]
--- @include "batch-move"
local o = cjson.decode(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'id', 'routed_at')
if not f[1] then return 'missing' end
if f[2] then return 'routed' end
local bad = batch_move(KEYS[1], o.status)
if bad then return bad end
redis.call('HSET', KEYS[1], 'provider_total', o.total, 'provider_completed', o.completed, 'provider_failed', o.failed,
  'polls', o.polls, 'polled_at', o.now)
if o.terminalAt then redis.call('HSET', KEYS[1], 'terminal_at', o.terminalAt) end
return 'recorded'
