--[[
  A webhook secret rotation (SPEC §16): the new secret becomes the current one (score CURRENT), every secret still
  valid beyond now + overlap — the current one, and the configured ones never seen here — is kept until then, so
  deliveries carry both signatures for the overlap. Retired secrets stay listed (so a configured one is not revived),
  the 20 newest at most.
  Input:
    KEYS[1]  the tenant's secret zset (G:whsec:<tenant>)
    ARGV[1]  options (JSON): now, overlap (ms), secret (the new one), configured (the tenant's configured secrets)
  Output: the time (ms, as a string) until which the previous secrets stay valid
]]
local CURRENT = 253402300799000
local o = cjson.decode(ARGV[1])
local untilMs = o.now + o.overlap
local known = {}
local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #all, 2 do known[all[i]] = tonumber(all[i + 1]) end
for _, s in ipairs(o.configured) do
  if known[s] == nil then
    redis.call('ZADD', KEYS[1], untilMs, s)
    known[s] = untilMs
  end
end
for s, score in pairs(known) do
  if score > untilMs then redis.call('ZADD', KEYS[1], untilMs, s) end
end
redis.call('ZADD', KEYS[1], CURRENT, o.secret)
local n = redis.call('ZCARD', KEYS[1])
if n > 20 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 21) end
return tostring(untilMs)
