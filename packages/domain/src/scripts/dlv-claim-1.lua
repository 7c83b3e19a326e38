--[[
  Claims up to `n` due deliveries for one dispatcher in one call: first, deliveries whose lease ran out (their
  dispatcher died or stalled) go back to due; then the due ones, oldest first, move to the lease zset scored by their
  lease end, which is also the fence their completion must show (dlv-complete). With `records`, each claimed
  delivery's request record comes back with it (every field but those no delivery reads: the request's own `body`,
  which may be megabytes, and its packing sizes): one round trip for N deliveries instead of one HGETALL each.
  With records 'json', each record comes as one JSON object text instead of a flat array: the dispatcher's RESP
  decoder spent ~20 µs a record on its ~40 strings, JSON.parse ~6 µs on one (issue 26); `true` (the first form) stays
  for callers of an earlier version.
  Input:
    KEYS[1]  the partition's due zset (T:dlv:due)
    ARGV[1]  options (JSON): tag, now (ms), n, lease (ms), records (optional: true | 'json')
  Output: {lease end, next due time (ms, -1 when nothing else is due; only when fewer than n were claimed),
           reclaimed count, member 1, attempts made 1, [record 1: {field, value, ...}, empty when gone; or with
           records 'json' {"field":"value",...}, '' when gone,] member 2, attempts made 2, [record 2,] ...}
]]
local o = cjson.decode(ARGV[1])
-- Record fields a delivery never reads, not sent back.
local unread = {body = true, bytes = true, tokens = true, inputs = true, flush_id = true, last_error = true}
local due, lease, tries = KEYS[1], key_dlv_lease(o.tag), key_dlv_tries(o.tag)
local expired = redis.call('ZRANGEBYSCORE', lease, '-inf', o.now, 'LIMIT', 0, o.n)
for _, m in ipairs(expired) do
  redis.call('ZREM', lease, m)
  redis.call('ZADD', due, 'NX', o.now, m)
end
local members = redis.call('ZRANGEBYSCORE', due, '-inf', o.now, 'LIMIT', 0, o.n)
local until_ = o.now + o.lease
local out = {until_, -1, #expired}
if #members == 0 then
  local next = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
  if next[2] then out[2] = tonumber(next[2]) end
  return out
end
redis.call('ZREM', due, unpack(members))
local made = redis.call('HMGET', tries, unpack(members))
for i, m in ipairs(members) do
  redis.call('ZADD', lease, until_, m)
  out[#out + 1] = m
  out[#out + 1] = tonumber(made[i]) or 0
  if o.records then
    -- A redeliver's member is `r:<requestId>`.
    local id = m
    if string.sub(m, 1, 2) == 'r:' then id = string.sub(m, 3) end
    local hash = redis.call('HGETALL', key_req(o.tag, id))
    if o.records == 'json' then
      if #hash == 0 then
        out[#out + 1] = ''
      else
        local fields = {}
        for j = 1, #hash, 2 do
          if not unread[hash[j]] then fields[hash[j]] = hash[j + 1] end
        end
        out[#out + 1] = cjson.encode(fields)
      end
    else
      local fields = {}
      for j = 1, #hash, 2 do
        if not unread[hash[j]] then
          fields[#fields + 1] = hash[j]
          fields[#fields + 1] = hash[j + 1]
        end
      end
      out[#out + 1] = fields
    end
  end
end
if #members < o.n then
  local next = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
  if next[2] then out[2] = tonumber(next[2]) end
end
return out
