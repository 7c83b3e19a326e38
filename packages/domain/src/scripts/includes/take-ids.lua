--[[
  take_ids(tag, group, pending, fid, ids, now, limits, count, tb, tt, ti): moves the queued ones of `ids` (a window of
  the group's pending set) into flush `fid`, within the byte, token and input limits (`limits`: maxBytes, maxTokens,
  maxInputs; a flush's first request is taken whatever its size); drops stale members. `count`, `tb`, `tt`, `ti`: what
  the flush holds already (requests, bytes, tokens, inputs).
  Returns taken, bytes, tokens, inputs, and whether a limit stopped it.
  flush_job(tag, fid, partition, now): the flush job of a claimed flush, through the outbox; returns the member.
]]
--- @include "move"
--- @include "group"
--- @include "outbox"
local function take_ids(tag, group, pending, fid, ids, now, limits, count, tb, tt, ti)
  local idsKey = key_flush_ids(tag, fid)
  local maxBytes, maxTokens, maxInputs = limits.maxBytes, limits.maxTokens, limits.maxInputs
  local taken = 0
  for _, id in ipairs(ids) do
    local key = key_req(tag, id)
    local f = redis.call('HMGET', key, 'status', 'bytes', 'tokens', 'tenant', 'inputs')
    local b, t, i = tonumber(f[2]) or 0, tonumber(f[3]) or 0, tonumber(f[5]) or 0
    if f[1] ~= 'queued' then
      -- Not queued any more (or expired): drop the stale member and its share of the group's totals.
      redis.call('ZREM', pending, id)
      group_remove(tag, group, b, t, i)
    else
      if count + taken > 0 and (tb + b > maxBytes or tt + t > maxTokens or ti + i > maxInputs) then
        return taken, tb, tt, ti, true
      end
      move(tag, key, 'queued', 'batched', f[4], now)
      redis.call('HSET', key, 'flush_id', fid)
      redis.call('RPUSH', idsKey, id)
      redis.call('ZREM', pending, id)
      group_remove(tag, group, b, t, i)
      taken, tb, tt, ti = taken + 1, tb + b, tt + t, ti + i
    end
  end
  return taken, tb, tt, ti, false
end

local function flush_job(tag, fid, partition, now)
  return outbox_add(tag, now, 'flush', job_id_flush(fid), {partition=partition, flushId=fid})
end
