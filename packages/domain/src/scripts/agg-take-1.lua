--[[
  The next envelope of an aggregated delivery: the one being sent (an earlier run died or its POST failed: the same id,
  time and members, so the same bytes go again), else up to `max` of the oldest buffered ids under the new `envelope`
  id. An empty buffer ends the job's run: its marker is cleared, so the next outcome schedules a new one.
  Input:
    KEYS[1]  the buffer (zset)
    ARGV[1]  options (JSON): tag, tenant, url (hash), envelope (id for a new one), now (ms), max, ttl (ms, the marker)
  Output: { envelope id, at (ms), members (space-separated) }, or {} when there is nothing to send
]]
local o = cjson.decode(ARGV[1])
local cur = key_agg_envelope(o.tag, o.tenant, o.url)
local marker = key_agg_scheduled(o.tag, o.tenant, o.url)
local held = redis.call('HMGET', cur, 'id', 'at', 'members')
if held[1] then
  redis.call('SET', marker, '1', 'PX', o.ttl)
  return { held[1], held[2], held[3] }
end
local ids = redis.call('ZRANGE', KEYS[1], 0, o.max - 1)
if #ids == 0 then
  redis.call('DEL', marker)
  return {}
end
redis.call('ZREM', KEYS[1], unpack(ids))
local members = table.concat(ids, ' ')
redis.call('HSET', cur, 'id', o.envelope, 'at', o.now, 'members', members)
redis.call('SET', marker, '1', 'PX', o.ttl)
return { o.envelope, tostring(o.now), members }
