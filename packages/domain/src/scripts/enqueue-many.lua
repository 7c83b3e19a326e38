--[[
  Creates the requests that arrived at one partition in the same moment (ingest coalesces them: one script call
  instead of one per request). Each request is checked and written exactly as if it were alone, in arrival order, so
  an earlier request of the call counts against the quotas of a later one and an Idempotency-Key repeated within the
  call replays the first.
  Input:
    KEYS[i]  the request hash of request i, in arrival order
    ARGV[1]  call options (JSON): tag, idemTtl (ms)
    then per request, in KEYS order:
      its options (JSON): id, tenant, group, now, idemKey ('' for none), bodyHash, tenantLimit, tenantElsewhere,
        globalLimit, globalElsewhere (limits 0 = none; "elsewhere" = open in the other partitions), bytes, tokens,
        inputs, deadlineAt (ms, 0 = none: then also in the deadline index), n = how many record field/value strings
      follow
      n field/value strings of its record (model, body, client_ref, ...)
  Output: one value per request: the integer 1 when it was created (the common case, and the cheapest reply to
    decode), else 'quota_tenant', 'quota_global', or 'replayed <1 when the body matches, else 0> <id of the first>'.
]]
--- @include "group"
local call = cjson.decode(ARGV[1])
local tag, idemTtl = call.tag, call.idemTtl
local out = {}
-- Counters change once per call, not once per request (most of the script's Redis work was these writes); the
-- quota checks read the stored counts once and add what this call has created so far, so each request is still
-- checked as if it were alone.
local globalOpen, tenantOpen, tenantAdd, created = nil, {}, {}, 0
local groups, groupOrder = {}, {}
local a = 2
for k = 1, #KEYS do
  local r = cjson.decode(ARGV[a])
  local id, tenant, group, now = r.id, r.tenant, r.group, r.now
  local first = a + 1
  a = first + r.n
  local answer = 1
  local prior = r.idemKey ~= '' and redis.call('GET', key_idem(tag, tenant, r.idemKey))
  if r.tenantLimit > 0 and tenantOpen[tenant] == nil then
    tenantOpen[tenant] = tonumber(redis.call('GET', key_open_tenant(tag, tenant)) or '0')
  end
  if r.globalLimit > 0 and globalOpen == nil then globalOpen = tonumber(redis.call('GET', key_open(tag)) or '0') end
  if prior then
    local sp = string.find(prior, ' ', 1, true)
    local same = string.sub(prior, sp + 1) == r.bodyHash and '1' or '0'
    answer = 'replayed ' .. same .. ' ' .. string.sub(prior, 1, sp - 1)
    -- The replay is answered after a WAIT on this connection (REDIS_DURABILITY=replica), which covers this connection's
    -- writes only; the request may have been written by another one that died before its own WAIT. Writing the key
    -- again (same value and TTL) puts a write of this call after it in the replication stream, so the WAIT covers it
    -- whatever the Redis version counts as a client's last write.
    redis.call('SET', key_idem(tag, tenant, r.idemKey), prior, 'KEEPTTL')
  elseif r.tenantLimit > 0 and tenantOpen[tenant] + (tenantAdd[tenant] or 0) + r.tenantElsewhere >= r.tenantLimit then
    answer = 'quota_tenant'
  elseif r.globalLimit > 0 and globalOpen + created + r.globalElsewhere >= r.globalLimit then
    answer = 'quota_global'
  else
    local fields = {'id', id, 'tenant', tenant, 'group', group, 'status', 'queued', 'created_at', now,
      'updated_at', now, 'attempts', 0, 'bytes', r.bytes, 'tokens', r.tokens,
      'inputs', r.inputs}
    for i = first, a - 1 do fields[#fields + 1] = ARGV[i] end
    redis.call('HSET', KEYS[k], unpack(fields))
    if r.deadlineAt and r.deadlineAt > 0 then redis.call('ZADD', key_deadlines(tag), r.deadlineAt, id) end
    local g = groups[group]
    if not g then
      g = {count = 0, bytes = 0, tokens = 0, inputs = 0, pending = {}}
      groups[group] = g
      groupOrder[#groupOrder + 1] = group
    end
    g.count, g.bytes, g.tokens, g.inputs = g.count + 1, g.bytes + r.bytes, g.tokens + r.tokens, g.inputs + r.inputs
    g.pending[#g.pending + 1] = now
    g.pending[#g.pending + 1] = id
    created = created + 1
    tenantAdd[tenant] = (tenantAdd[tenant] or 0) + 1
    if r.idemKey ~= '' then
      redis.call('SET', key_idem(tag, tenant, r.idemKey), id .. ' ' .. r.bodyHash, 'PX', idemTtl)
    end
  end
  out[k] = answer
end
for _, group in ipairs(groupOrder) do
  local g = groups[group]
  group_add(tag, group, g.pending, g.count, g.bytes, g.tokens, g.inputs)
end
if created > 0 then
  redis.call('INCRBY', key_open(tag), created)
  redis.call('HINCRBY', key_counts(tag), 'queued', created)
  for tenant, n in pairs(tenantAdd) do redis.call('INCRBY', key_open_tenant(tag, tenant), n) end
end
return out
