--[[
  An envelope of an aggregated delivery is settled (delivered, gone, or its members dead-lettered): its ids leave the
  buffer's member set and the envelope is dropped — only if it is still the one named (a second run that settled it
  first changes nothing).
  Input:
    KEYS[1]  the envelope (hash)
    ARGV[1]  options (JSON): tag, tenant, url (hash), envelope (id)
  Output: 1 when settled now, 0 when it was not the current envelope
]]
local o = cjson.decode(ARGV[1])
if redis.call('HGET', KEYS[1], 'id') ~= o.envelope then return 0 end
local members = redis.call('HGET', KEYS[1], 'members') or ''
local set = key_agg_members(o.tag, o.tenant, o.url)
for id in string.gmatch(members, '%S+') do redis.call('SREM', set, id) end
redis.call('DEL', KEYS[1])
return 1
