--[[
  Starts a run of the flush job: a new fencing token, which every later write of the run carries (see fence_check).
  Input:
    KEYS[1]  the flush hash
  Output: the run's token, 0 when the flush does not exist
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'fence', 1)
