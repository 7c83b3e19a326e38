--[[
  Claims the oldest queued requests of a group into a new flush when a trigger fires (count, bytes, tokens, inputs,
  age, or forced) — at most `slice` of them in this call, so that a 50 000-request flush does not hold Redis for a
  second (intake would time out meanwhile). When more may follow, the flush is left `claiming` and claim-more
  continues it; the last call makes it `claimed` and writes its flush job to the outbox.
  Input:
    KEYS[1]  the group's pending zset
    ARGV[1]  options (JSON): tag, group, flushId, now, maxCount, maxBytes, maxTokens, maxInputs (the endpoint's
             limits; maxInputs may be absent = unbounded), maxWait (ms), force (boolean), partition, slice
  Output: {0, why} with why = 'held' | 'empty' | 'not_due', or
    {taken, reason, outbox member or '' while claiming, bytes, tokens, 1 when more may follow else 0, inputs}
]]
--- @include "take-ids"
local o = cjson.decode(ARGV[1])
local tag, group, fid, now = o.tag, o.group, o.flushId, o.now
local maxCount, maxBytes, maxTokens = o.maxCount, o.maxBytes, o.maxTokens
local maxInputs = o.maxInputs or math.huge
local window = math.min(maxCount, o.slice)
if redis.call('EXISTS', key_hold(tag, group)) == 1 then return {0, 'held'} end
local stats = redis.call('HMGET', key_group(tag, group), 'count', 'bytes', 'tokens', 'inputs')
local count, bytes, tokens = tonumber(stats[1]) or 0, tonumber(stats[2]) or 0, tonumber(stats[3]) or 0
local inputs = tonumber(stats[4]) or 0
if count <= 0 then return {0, 'empty'} end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local age = oldest[2] and (now - tonumber(oldest[2])) or 0
local reason
if count >= maxCount then reason = 'count'
elseif bytes >= maxBytes then reason = 'bytes'
elseif tokens >= maxTokens then reason = 'tokens'
elseif inputs >= maxInputs then reason = 'inputs'
elseif age >= o.maxWait then reason = 'age'
elseif o.force then reason = 'forced'
else return {0, 'not_due'} end
local ids = redis.call('ZRANGE', KEYS[1], 0, window - 1)
local limits = {maxBytes = maxBytes, maxTokens = maxTokens, maxInputs = maxInputs}
local taken, tb, tt, ti, limited = take_ids(tag, group, KEYS[1], fid, ids, now, limits, 0, 0, 0, 0)
if taken == 0 then return {0, 'empty'} end
local more = not limited and #ids == window and taken < maxCount
-- A new flush: its first state is set here (claiming or claimed), every later one through flush_move.
redis.call('HSET', key_flush(tag, fid), 'id', fid, 'group', group, 'count', taken, 'bytes', tb, 'tokens', tt,
  'inputs', ti, 'reason', reason, 'state', more and 'claiming' or 'claimed', 'created_at', now,
  'partition', o.partition)
redis.call('ZADD', key_flushes(tag), now, fid)
if more then return {taken, reason, '', tb, tt, 1, ti} end
local member = flush_job(tag, fid, o.partition, now)
return {taken, reason, member, tb, tt, 0, ti}
