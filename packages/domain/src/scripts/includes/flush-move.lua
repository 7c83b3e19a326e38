--[[
  flush_move(fkey, to): the one way a flush changes state, checked against FLUSH_ALLOWED (lifecycle.ts).
  Returns nil when moved, else the ILLEGAL_FLUSH_TRANSITION error reply to return (nothing written).
]]
local function flush_move(fkey, to)
  local from = redis.call('HGET', fkey, 'state')
  if not (from and FLUSH_ALLOWED[from] and FLUSH_ALLOWED[from][to]) then
    return redis.error_reply('ILLEGAL_FLUSH_TRANSITION ' .. tostring(from) .. ' -> ' .. to)
  end
  redis.call('HSET', fkey, 'state', to)
  return nil
end
