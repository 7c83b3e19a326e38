--[[
  Creates or advances a replay job (SPEC §16: POST /v1/deliveries/replay): its fields are set, its lifetime renewed.
  A job that is finished (state done or failed) is not changed again.
  Input:
    KEYS[1]  the replay hash (G:replay:<replayId>)
    ARGV[1]  options (JSON): ttl (ms), create (1: only if it does not exist), fields (object of field → string)
  Output: 1 when written, 0 when not (exists already for create, finished, or missing for an update)
]]
local o = cjson.decode(ARGV[1])
local exists = redis.call('EXISTS', KEYS[1]) == 1
if o.create == 1 then
  if exists then return 0 end
else
  if not exists then return 0 end
  local state = redis.call('HGET', KEYS[1], 'state')
  if state == 'done' or state == 'failed' then return 0 end
end
for field, value in pairs(o.fields) do redis.call('HSET', KEYS[1], field, tostring(value)) end
redis.call('PEXPIRE', KEYS[1], o.ttl)
return 1
