--[[
  fence_check(fkey, fence): a flush job run holds a fencing token (lease-flush); a write carrying another run's token
  is refused, so a worker that lost its BullMQ lock (stalled event loop, Redis away) cannot record anything after a
  newer run took over. An empty token is not checked (tests and tools that drive a flush by hand).
  Returns nil when the write may go ahead, else the STALE_FENCE error reply to return.
]]
local function fence_check(fkey, fence)
  if fence ~= '' and redis.call('HGET', fkey, 'fence') ~= fence then
    return redis.error_reply('STALE_FENCE a newer run holds this flush')
  end
  return nil
end
