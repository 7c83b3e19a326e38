--[[
  bill(tag, key, tenant, b, l): bills an answered request once, in the same script as the settle that completes it (a
  replay of the settle is 'stale' and bills nothing; a line no provider answered is never billed). Writes the
  request's `usage` and `cost` fields and adds it to its tenant's ledger in this partition (SPEC §15): the day's
  period hash, the periods index and the spend hash, all under the partition's hash tag.
  b (from the poller, per item): provider, model (the table's name), usage (the record's `usage` object), lanes (nano-USD
    of this answer per lane the price table prices: batch, flex, realtime, and batch@<window> per completion window
    priced of its own), rt (nano-USD at realtime prices; absent:
    unpriced model)
  l (per call): day (YYYY-MM-DD), month (YYYY-MM), epochDay, keepDays (days kept before rolling up into months)
  The request's lane is its record's `lane` field (SPEC §10), else batch. An unpriced lane or model counts the request
  (`n|…`, `up|…`) but no money. Returns '<tenant> <lane> <usd nano> <realtime nano> <1 priced|0>'.
]]
local function ledger_int(v)
  return string.format('%d', v)
end

-- Days older than the cutoff fold into their month (at most a few per call: one per day the tenant was away).
local function ledger_rollup(tag, tenant, idx, cutoff)
  local old = redis.call('ZRANGEBYSCORE', idx, '-inf', '(' .. cutoff, 'WITHSCORES')
  for i = 1, #old, 2 do
    local period, score = old[i], tonumber(old[i + 1])
    if #period == 10 then
      local month = string.sub(period, 1, 7)
      local dayKey = key_ledger_period(tag, tenant, period)
      local monthKey = key_ledger_period(tag, tenant, month)
      local fields = redis.call('HGETALL', dayKey)
      for j = 1, #fields, 2 do redis.call('HINCRBY', monthKey, fields[j], fields[j + 1]) end
      redis.call('DEL', dayKey)
      redis.call('ZREM', idx, period)
      redis.call('ZADD', idx, 'NX', score - (tonumber(string.sub(period, 9, 10)) - 1), month)
      redis.call('HDEL', key_spend(tag, tenant), 'd:' .. period)
    end
  end
end

local function bill(tag, key, tenant, b, l)
  local lane = redis.call('HGET', key, 'lane')
  if not lane or lane == '' then lane = 'batch' end
  local usd = b.lanes and b.lanes[lane]
  if lane == 'batch' and b.lanes then
    -- A group in a completion window of its own (`…@1h|<model>`, SPEC §10) is billed at that window's price.
    local head = string.match(redis.call('HGET', key, 'group') or '', '^[^|]*') or ''
    local window = string.match(head, '@([%w]+)$')
    if window and b.lanes['batch@' .. window] then usd = b.lanes['batch@' .. window] end
  end
  local rt = b.rt
  local priced = usd ~= nil and rt ~= nil
  local cost
  if priced then
    cost = {usd = usd / 1e9, realtime_usd = rt / 1e9, saved_usd = (rt - usd) / 1e9, lane = lane, priced = true}
  else
    cost = {usd = cjson.null, realtime_usd = cjson.null, saved_usd = cjson.null, lane = lane, priced = false}
  end
  redis.call('HSET', key, 'usage', cjson.encode(b.usage), 'cost', cjson.encode(cost))

  local idx = key_ledger(tag, tenant)
  if redis.call('ZADD', idx, 'NX', l.epochDay, l.day) == 1 then
    ledger_rollup(tag, tenant, idx, l.epochDay - l.keepDays)
  end
  local h = key_ledger_period(tag, tenant, l.day)
  local suffix = b.provider .. '|' .. b.model .. '|' .. lane
  redis.call('HINCRBY', h, 'n|' .. suffix, 1)
  if priced then
    redis.call('HINCRBY', h, 'usd|' .. suffix, ledger_int(usd))
    redis.call('HINCRBY', h, 'rt|' .. suffix, ledger_int(rt))
    local spend = key_spend(tag, tenant)
    redis.call('HINCRBY', spend, 'd:' .. l.day, ledger_int(usd))
    redis.call('HINCRBY', spend, 'm:' .. l.month, ledger_int(usd))
    redis.call('HINCRBY', spend, 'c:' .. l.month, 1)
    return tenant .. ' ' .. lane .. ' ' .. ledger_int(usd) .. ' ' .. ledger_int(rt) .. ' 1'
  end
  redis.call('HINCRBY', h, 'up|' .. suffix, 1)
  return tenant .. ' ' .. lane .. ' 0 0 0'
end
