--[[
  move(tag, key, from, to, tenant, now): the one way a request changes status, checked against ALLOWED
  (lifecycle.ts); keeps the per-state counts and, on reaching a terminal status, the open counters. Raises on an
  illegal transition (callers check the current status first, so this is the last line of defence).
]]
local function move(tag, key, from, to, tenant, now)
  if not (ALLOWED[from] and ALLOWED[from][to]) then
    error('batchbridge: illegal transition ' .. tostring(from) .. ' -> ' .. tostring(to))
  end
  redis.call('HSET', key, 'status', to, 'updated_at', now)
  redis.call('HINCRBY', key_counts(tag), from, -1)
  if OPEN[to] then
    redis.call('HINCRBY', key_counts(tag), to, 1)
  else
    redis.call('DECR', key_open(tag))
    redis.call('DECR', key_open_tenant(tag, tenant))
  end
end
