--[[
  move(tag, key, from, to, tenant, now): the one way a request changes status, checked against ALLOWED
  (lifecycle.ts); keeps the per-state counts and, on reaching a terminal status, the open counters. Raises on an
  illegal transition (callers check the current status first, so this is the last line of defence).
  move_counts(tag, from, to, tenant): the same without writing the record (for a caller that writes `status` and
  `updated_at` in its own HSET with the rest of its fields).
  move_defer() / move_flush(tag): between the two, the counters are summed instead of written, and move_flush writes
  each one once (a settle of 500 lines: one HINCRBY per status and one INCRBY per tenant instead of 3 calls a line).
  The script is atomic, so nobody sees the sums before they are written; a caller that defers flushes even when an
  item fails (settle-many), so the counters always match the records.
]]
local move_acc = nil

local function move_counts(tag, from, to, tenant)
  if not (ALLOWED[from] and ALLOWED[from][to]) then
    error('batchbridge: illegal transition ' .. tostring(from) .. ' -> ' .. tostring(to))
  end
  local acc = move_acc
  if acc then
    acc.counts[from] = (acc.counts[from] or 0) - 1
    if OPEN[to] then
      acc.counts[to] = (acc.counts[to] or 0) + 1
    else
      acc.open = acc.open - 1
      acc.tenants[tenant] = (acc.tenants[tenant] or 0) - 1
    end
    return
  end
  redis.call('HINCRBY', key_counts(tag), from, -1)
  if OPEN[to] then
    redis.call('HINCRBY', key_counts(tag), to, 1)
  else
    redis.call('DECR', key_open(tag))
    redis.call('DECR', key_open_tenant(tag, tenant))
  end
end

local function move(tag, key, from, to, tenant, now)
  move_counts(tag, from, to, tenant)
  redis.call('HSET', key, 'status', to, 'updated_at', now)
end

local function move_defer()
  move_acc = {counts = {}, open = 0, tenants = {}}
end

local function move_flush(tag)
  local acc = move_acc
  if not acc then return end
  move_acc = nil
  for status, n in pairs(acc.counts) do
    if n ~= 0 then redis.call('HINCRBY', key_counts(tag), status, n) end
  end
  if acc.open ~= 0 then redis.call('INCRBY', key_open(tag), acc.open) end
  for tenant, n in pairs(acc.tenants) do
    if n ~= 0 then redis.call('INCRBY', key_open_tenant(tag, tenant), n) end
  end
end
