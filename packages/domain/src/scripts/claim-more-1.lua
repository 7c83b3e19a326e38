--[[
  Continues a `claiming` flush with at most `slice` more requests; the call that ends it (limits reached, group
  drained) makes it `claimed` and writes its flush job to the outbox. A flush no longer `claiming` (sealed by recovery
  after this packer died, see seal-flush) is left alone.
  Input:
    KEYS[1]  the group's pending zset
    ARGV[1]  options (JSON): tag, group, flushId, now, maxCount, maxBytes, maxTokens, maxInputs (may be absent =
             unbounded), partition, slice
  Output: {taken, state ('claiming', 'claimed', or the state found), outbox member or '', count, bytes, tokens, inputs}
]]
--- @include "take-ids"
--- @include "flush-move"
local o = cjson.decode(ARGV[1])
local tag, group, fid, now = o.tag, o.group, o.flushId, o.now
local maxCount = o.maxCount
local fkey = key_flush(tag, fid)
local f = redis.call('HMGET', fkey, 'state', 'count', 'bytes', 'tokens', 'inputs')
local count, tb, tt, ti = tonumber(f[2]) or 0, tonumber(f[3]) or 0, tonumber(f[4]) or 0, tonumber(f[5]) or 0
if f[1] ~= 'claiming' then return {0, f[1] or 'missing', '', count, tb, tt, ti} end
local window = math.min(maxCount - count, o.slice)
local taken, more = 0, false
if window > 0 and redis.call('EXISTS', key_hold(tag, group)) == 0 then
  local ids = redis.call('ZRANGE', KEYS[1], 0, window - 1)
  local limits = {maxBytes = o.maxBytes, maxTokens = o.maxTokens, maxInputs = o.maxInputs or math.huge}
  local limited
  taken, tb, tt, ti, limited = take_ids(tag, group, KEYS[1], fid, ids, now, limits, count, tb, tt, ti)
  more = not limited and #ids == window and count + taken < maxCount
end
count = count + taken
redis.call('HSET', fkey, 'count', count, 'bytes', tb, 'tokens', tt, 'inputs', ti)
if more then return {taken, 'claiming', '', count, tb, tt, ti} end
local bad = flush_move(fkey, 'claimed')
if bad then return bad end
local member = flush_job(tag, fid, o.partition, now)
return {taken, 'claimed', member, count, tb, tt, ti}
