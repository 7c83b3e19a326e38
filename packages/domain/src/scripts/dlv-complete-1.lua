--[[
  Completes a batch of claimed deliveries in one call. Per item, in order: its attempt into the delivery log, its
  outcome mark (delivered | gone | aborted) and its result (`dlv_last` on the record); then, only while the claim is
  still this dispatcher's (its lease score equals the fence the claim answered), the delivery either ends (out of the
  lease zset, its attempt count dropped) or is due again at `at` (retry: `inc` counts the attempt; park: it does not).
  A claim whose lease ran out and was taken by another dispatcher is left to that one: the facts (log, marks) are kept,
  the schedule is not touched.
  Input:
    KEYS[1]  the partition's lease zset (T:dlv:lease)
    ARGV[1]  options (JSON): tag, now, max (attempts kept in a log), retention (ms)
    then per item two arguments: its options (JSON: m (member), id (request id), fence (lease end of its claim), log
             (optional: the attempt, without its number), mark (optional: delivered | gone | aborted), result
             (optional), at (optional: due again then), inc (optional: the attempt counts)), and the mark of the
             webhook body this attempt built first ('' when the record had one; webhook-body.ts): stored once
             (HSETNX `webhook_fp`) on an existing record, so every later attempt rebuilds and checks the same bytes
  Output: per item, the mark's answer (1 first delivery/stop, 0 already, -1 record gone; 0 without a mark), and
          whether the claim was still ours (1) or not (0)
]]
--- @include "delivery"
local o = cjson.decode(ARGV[1])
local lease, due, tries = KEYS[1], key_dlv_due(o.tag), key_dlv_tries(o.tag)
local out = {}
for i = 2, #ARGV, 2 do
  local it = cjson.decode(ARGV[i])
  local key = key_req(o.tag, it.id)
  local fp = ARGV[i + 1]
  if fp ~= '' and redis.call('EXISTS', key) == 1 then redis.call('HSETNX', key, 'webhook_fp', fp) end
  if it.log then record_attempt(o.tag, key, it.id, it.log, o.max, o.retention) end
  local marked = 0
  if it.mark == 'delivered' then marked = mark_delivered(o.tag, key, it.id, o.now)
  elseif it.mark == 'gone' or it.mark == 'aborted' then marked = mark_gone(o.tag, key, it.id, o.now, it.mark) end
  if it.result and redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 'dlv_last', it.result) end
  local score = redis.call('ZSCORE', lease, it.m)
  local ours = 0
  if score and tonumber(score) == it.fence then
    ours = 1
    redis.call('ZREM', lease, it.m)
    if it.at then
      redis.call('ZADD', due, it.at, it.m)
      if it.inc then redis.call('HINCRBY', tries, it.m, 1) end
    else
      redis.call('HDEL', tries, it.m)
    end
  end
  out[#out + 1] = marked
  out[#out + 1] = ours
end
return out
