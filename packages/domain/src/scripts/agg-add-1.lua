--[[
  Aggregated deliveries (SPEC §16): puts a finished request's outcome into the buffer of its tenant's callback URL, once
  (an id already in the buffer or in the envelope being sent is not added again), and says whether the caller must
  schedule an aggregate job: the buffer's `job` marker was not set (none is scheduled or running) and is now.
  Input:
    KEYS[1]  the buffer (zset)
    ARGV[1]  options (JSON): tag, tenant, url (the URL's hash), id, now (ms), ttl (ms: how long the marker holds
             without the job refreshing it — a job lost in a crash is replaced once it lapses)
  Output: { added (0|1), schedule (0|1) }
]]
local o = cjson.decode(ARGV[1])
local added = redis.call('SADD', key_agg_members(o.tag, o.tenant, o.url), o.id)
if added == 1 then redis.call('ZADD', KEYS[1], o.now, o.id) end
local scheduled = redis.call('SET', key_agg_scheduled(o.tag, o.tenant, o.url), '1', 'NX', 'PX', o.ttl)
return { added, scheduled and 1 or 0 }
