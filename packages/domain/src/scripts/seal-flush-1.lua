--[[
  Ends a flush left `claiming` by a packer that died between claim calls: it keeps what it has and becomes `claimed`
  (its job was re-added by recovery, which is why no outbox entry is written).
  Input:
    KEYS[1]  the flush hash
  Output: 1 if sealed, 0 if it was not claiming
]]
--- @include "flush-move"
if redis.call('HGET', KEYS[1], 'state') ~= 'claiming' then return 0 end
local bad = flush_move(KEYS[1], 'claimed')
if bad then return bad end
return 1
