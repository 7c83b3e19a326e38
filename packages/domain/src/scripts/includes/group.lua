--[[
  group_add(tag, group, pending, count, bytes, tokens, inputs): queues requests in a group: `pending` is
  {score, id, score, id, ...} for its pending set, and `count`, `bytes`, `tokens`, `inputs` their totals for the
  group's stats.
  group_remove(tag, group, bytes, tokens, inputs): takes one request's share out of the group's stats; an empty group
  goes.
]]
local function group_add(tag, group, pending, count, bytes, tokens, inputs)
  redis.call('ZADD', key_pending(tag, group), unpack(pending))
  local gkey = key_group(tag, group)
  redis.call('HINCRBY', gkey, 'count', count)
  redis.call('HINCRBY', gkey, 'bytes', bytes)
  redis.call('HINCRBY', gkey, 'tokens', tokens)
  redis.call('HINCRBY', gkey, 'inputs', inputs)
  redis.call('SADD', key_groups(tag), group)
end

local function group_remove(tag, group, bytes, tokens, inputs)
  local gkey = key_group(tag, group)
  local left = redis.call('HINCRBY', gkey, 'count', -1)
  if left <= 0 then
    redis.call('DEL', gkey)
    redis.call('SREM', key_groups(tag), group)
  else
    redis.call('HINCRBY', gkey, 'bytes', -bytes)
    redis.call('HINCRBY', gkey, 'tokens', -tokens)
    redis.call('HINCRBY', gkey, 'inputs', -inputs)
  end
end
