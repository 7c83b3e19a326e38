--[[
  Marks a slice of the flush's requests submitted in its batch (batched → submitted, one attempt counted); only once
  record-created put the flush in this batch (a replay after finish-submission finds none left `batched` and changes
  nothing).
  Input:
    KEYS[1]  the flush hash
    ARGV[1]  options (JSON): tag, flushId, batchId, now, start, stop (indexes into the flush's id list), fence
  Output: how many requests were marked; errors STALE_FENCE, NOT_SUBMITTING
]]
--- @include "fence"
--- @include "move"
local o = cjson.decode(ARGV[1])
local tag, fid, batchId, now = o.tag, o.flushId, o.batchId, o.now
local refused = fence_check(KEYS[1], o.fence)
if refused then return refused end
local fs = redis.call('HMGET', KEYS[1], 'state', 'batch_id')
if (fs[1] ~= 'submitting' and fs[1] ~= 'submitted') or fs[2] ~= batchId then
  return redis.error_reply('NOT_SUBMITTING flush ' .. fid .. ' is ' .. tostring(fs[1]) .. ' in ' .. tostring(fs[2]))
end
local ids = redis.call('LRANGE', key_flush_ids(tag, fid), o.start, o.stop)
local n = 0
-- Per request one read and one write; the state counters are summed and written once (see move), also when a
-- request raises, so that they match the records changed before it.
move_defer()
local ok, err = pcall(function()
  for _, id in ipairs(ids) do
    local key = key_req(tag, id)
    local f = redis.call('HMGET', key, 'status', 'flush_id', 'tenant', 'attempts')
    if f[1] == 'batched' and f[2] == fid then
      move_counts(tag, 'batched', 'submitted', f[3])
      redis.call('HSET', key, 'status', 'submitted', 'updated_at', now, 'batch_id', batchId, 'attempts',
        (tonumber(f[4]) or 0) + 1)
      n = n + 1
    end
  end
end)
move_flush(tag)
if not ok then error(err) end
return n
