--[[
  Takes one call of a provider's realtime/flex budget (SPEC §10), shared by every replica: requests and tokens per
  minute, calls in flight (each a lease that ends by itself if its holder dies), and the wait the provider asked for
  with its last 429.
  Input:
    KEYS[1]  the provider's budget hash of this minute (G:lanebudget:<provider>:<minute>)
    KEYS[2]  the provider's in-flight zset (G:laneinflight:<provider>)
    KEYS[3]  the lane's backoff string (G:lanebackoff:<provider>:<lane>)
    ARGV[1]  options (JSON): now, rpm, tpm, concurrency (0 = unlimited), tokens, member (run id), leaseMs, minuteEnd
  Output: {1, 0} when taken, else {0, ms to wait before asking again}
]]
local o = cjson.decode(ARGV[1])
local now = o.now
local wait = redis.call('PTTL', KEYS[3])
if wait > 0 then return {0, wait} end
if o.concurrency > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZSCORE', KEYS[2], o.member) == false and redis.call('ZCARD', KEYS[2]) >= o.concurrency then
    local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {0, math.max(25, math.min(250, (tonumber(first[2]) or now) - now))}
  end
end
local used = redis.call('HMGET', KEYS[1], 'req', 'tok')
local req, tok = tonumber(used[1]) or 0, tonumber(used[2]) or 0
if (o.rpm > 0 and req + 1 > o.rpm) or (o.tpm > 0 and tok > 0 and tok + o.tokens > o.tpm) then
  return {0, math.max(25, o.minuteEnd - now)}
end
redis.call('HINCRBY', KEYS[1], 'req', 1)
redis.call('HINCRBY', KEYS[1], 'tok', o.tokens)
redis.call('PEXPIRE', KEYS[1], 120000)
if o.concurrency > 0 then
  redis.call('ZADD', KEYS[2], now + o.leaseMs, o.member)
  redis.call('PEXPIRE', KEYS[2], o.leaseMs + 60000)
end
return {1, 0}
