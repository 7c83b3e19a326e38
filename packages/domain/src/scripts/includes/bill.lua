--[[
  bill(tag, key, tenant, b, l, lane, fields, group): bills an answered request once, in the same script as the settle that completes it (a
  replay of the settle is 'stale' and bills nothing; a line no provider answered is never billed). Writes the
  request's `usage` and `cost` fields and adds it to its tenant's ledger in this partition (SPEC §15): the day's
  period hash, the periods index and the spend hash, all under the partition's hash tag.
  b (from the poller, per item): provider, model (the table's name), usage (the record's `usage` object, as JSON
    text), lanes (nano-USD of this answer per lane the price table prices: batch, flex, realtime, and batch@<window>
    per completion window priced of its own; or, from settle-many's compact options, `text` and `lanesAt`: the same
    found in the text, see lane_price), rt (nano-USD at realtime prices; absent: unpriced model)
  l (per call): day (YYYY-MM-DD), month (YYYY-MM), epochDay, keepDays (days kept before rolling up into months)
  The request's lane is its record's `lane` field (SPEC §10), else batch, and its group its `group` field: `lane` and
  `group` when the caller has them (nil: read here). `fields`, when given, is the caller's HSET field list: `usage`
  and `cost` are added to it for the caller to write (else they are written here). An unpriced lane or model counts
  the request (`n|…`, `up|…`) but no money. Returns '<tenant> <lane> <usd nano> <realtime nano> <1 priced|0>'.
  bill_defer() / bill_flush(): between the two, the ledger's increments are summed per hash and field and bill_flush
  writes each once (a settle of 500 lines of one tenant and model: a few HINCRBYs instead of 3 000), and the day's
  period is indexed once per tenant. The script is atomic: nobody sees the sums before they are written.
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

-- bill_defer: {incr = {[hash] = {[field] = n}}, indexed = {[idx] = true}}.
local bill_acc = nil

local function ledger_incr(h, field, n)
  local acc = bill_acc
  if not acc then
    redis.call('HINCRBY', h, field, ledger_int(n))
    return
  end
  local fields = acc.incr[h]
  if not fields then
    fields = {}
    acc.incr[h] = fields
  end
  fields[field] = (fields[field] or 0) + n
end

local function bill_defer()
  bill_acc = {incr = {}, indexed = {}}
end

local function bill_flush()
  local acc = bill_acc
  if not acc then return end
  bill_acc = nil
  for h, fields in pairs(acc.incr) do
    for field, n in pairs(fields) do redis.call('HINCRBY', h, field, ledger_int(n)) end
  end
end

-- The ledger's key and field names of one tenant, day, provider, model and lane, built once per script call rather
-- than once per billed line (nested by each part: looked up with the strings the caller has, no new ones).
local ledger_name_cache = {}
local function ledger_names(tag, tenant, l, provider, model, lane)
  local t = ledger_name_cache
  local parts = {tag, tenant, l.day, provider, model}
  for i = 1, 5 do
    local part = parts[i]
    local next = t[part]
    if not next then
      next = {}
      t[part] = next
    end
    t = next
  end
  local names = t[lane]
  if names then return names end
  local suffix = provider .. '|' .. model .. '|' .. lane
  names = {
    idx = key_ledger(tag, tenant),
    period = key_ledger_period(tag, tenant, l.day),
    spend = key_spend(tag, tenant),
    n = 'n|' .. suffix,
    usd = 'usd|' .. suffix,
    rt = 'rt|' .. suffix,
    up = 'up|' .. suffix,
    d = 'd:' .. l.day,
    m = 'm:' .. l.month,
    c = 'c:' .. l.month,
    head = tenant .. ' ' .. lane .. ' ',
  }
  t[lane] = names
  return names
end

-- Per script call: a group's completion window as its price's lane name (`batch@<window>`, false for none), and
-- whether a lane name is written into the cost JSON as it is.
local group_windows = {}
local function group_window(group)
  local window = group_windows[group]
  if window == nil then
    local head = string.match(group, '^[^|]*') or ''
    window = string.match(head, '@([%w]+)$')
    window = window and ('batch@' .. window) or false
    group_windows[group] = window
  end
  return window
end
local plain_lanes = {}
local function plain_lane(lane)
  local plain = plain_lanes[lane]
  if plain == nil then
    plain = string.find(lane, '^[%w_-]+$') ~= nil
    plain_lanes[lane] = plain
  end
  return plain
end

-- The nano-USD of lane `lane` in `b`: from its `lanes` table (JSON options), or found in the compact options' text
-- `b.text` from `b.lanesAt` on (settle-many: `SEP lane PAIR nano` per lane), without building a table per line.
local lane_needles = {}
local function lane_price(b, lane)
  if b.lanes then return b.lanes[lane] end
  if not b.text or not b.lanesAt then return nil end
  local needle = lane_needles[lane]
  if not needle then
    needle = '\1' .. lane .. '\2'
    lane_needles[lane] = needle
  end
  local _, e = string.find(b.text, needle, b.lanesAt, true)
  if not e then return nil end
  local stop = string.find(b.text, '\1', e + 1, true)
  return tonumber(string.sub(b.text, e + 1, stop and stop - 1 or -1))
end

local function bill(tag, key, tenant, b, l, lane, fields, group)
  if lane == nil then lane = redis.call('HGET', key, 'lane') end
  if not lane or lane == '' then lane = 'batch' end
  local usd = lane_price(b, lane)
  if lane == 'batch' and (b.lanes or b.text) then
    -- A group in a completion window of its own (`…@1h|<model>`, SPEC §10) is billed at that window's price.
    if group == nil then group = redis.call('HGET', key, 'group') end
    local window = group_window(group or '')
    local windowUsd = window and lane_price(b, window)
    if windowUsd then usd = windowUsd end
  end
  local rt = b.rt
  local priced = usd ~= nil and rt ~= nil
  local cost
  if not plain_lane(lane) then
    if priced then
      cost = {usd = usd / 1e9, realtime_usd = rt / 1e9, saved_usd = (rt - usd) / 1e9, lane = lane, priced = true}
    else
      cost = {usd = cjson.null, realtime_usd = cjson.null, saved_usd = cjson.null, lane = lane, priced = false}
    end
    cost = cjson.encode(cost)
  elseif priced then
    -- The same JSON as cjson.encode of the table (numbers as %.14g), without building it: one format per line.
    cost = string.format('{"usd":%.14g,"realtime_usd":%.14g,"saved_usd":%.14g,"lane":"%s","priced":true}', usd / 1e9,
      rt / 1e9, (rt - usd) / 1e9, lane)
  else
    cost = '{"usd":null,"realtime_usd":null,"saved_usd":null,"lane":"' .. lane .. '","priced":false}'
  end
  -- `usage` comes as JSON text (request-store.ts), stored as it is; a table (older callers) is encoded here.
  local usage = b.usage
  if type(usage) ~= 'string' then usage = cjson.encode(usage) end
  if fields then
    fields[#fields + 1] = 'usage'
    fields[#fields + 1] = usage
    fields[#fields + 1] = 'cost'
    fields[#fields + 1] = cost
  else
    redis.call('HSET', key, 'usage', usage, 'cost', cost)
  end

  local names = ledger_names(tag, tenant, l, b.provider, b.model, lane)
  local idx = names.idx
  -- Once per tenant and call when deferring: the day is the call's, so a second ZADD NX would change nothing.
  if not (bill_acc and bill_acc.indexed[idx]) then
    if bill_acc then bill_acc.indexed[idx] = true end
    if redis.call('ZADD', idx, 'NX', l.epochDay, l.day) == 1 then
      ledger_rollup(tag, tenant, idx, l.epochDay - l.keepDays)
    end
  end
  local h = names.period
  ledger_incr(h, names.n, 1)
  if priced then
    -- Each line's amount as its own integer (as written one by one), then summed.
    local usdText, rtText = ledger_int(usd), ledger_int(rt)
    local usdInt, rtInt = tonumber(usdText), tonumber(rtText)
    ledger_incr(h, names.usd, usdInt)
    ledger_incr(h, names.rt, rtInt)
    local spend = names.spend
    ledger_incr(spend, names.d, usdInt)
    ledger_incr(spend, names.m, usdInt)
    ledger_incr(spend, names.c, 1)
    return names.head .. usdText .. ' ' .. rtText .. ' 1'
  end
  ledger_incr(h, names.up, 1)
  return names.head .. '0 0 0'
end
