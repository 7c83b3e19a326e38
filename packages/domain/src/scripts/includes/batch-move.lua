--[[
  batch_move(bkey, to): the one way a batch changes status, checked against BATCH_ALLOWED (lifecycle.ts). The same
  status again is no move (a poll that sees nothing new; routing a batch in the status its last poll recorded).
  A routed batch (routed_at set) takes no move: callers check that first and answer it as a replay.
  Returns nil when moved (or unchanged), else the ILLEGAL_BATCH_TRANSITION error reply to return (nothing written).
]]
local function batch_move(bkey, to)
  local from = redis.call('HGET', bkey, 'status')
  if from == to then return nil end
  if not (from and BATCH_ALLOWED[from] and BATCH_ALLOWED[from][to]) then
    return redis.error_reply('ILLEGAL_BATCH_TRANSITION ' .. tostring(from) .. ' -> ' .. tostring(to))
  end
  redis.call('HSET', bkey, 'status', to)
  return nil
end
