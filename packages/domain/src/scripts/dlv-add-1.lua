--[[
  Makes deliveries due (a redeliver asked for through the API or the operator page, a replay, the undelivered sweep
  finding an owed outcome with no delivery, a deliver job of an older version): each member is added to the due zset
  unless it is claimed now or already due.
  Input:
    KEYS[1]  the partition's due zset (T:dlv:due)
    ARGV[1]  options (JSON): tag, at (ms: when they are due)
    ARGV[2..] the members (`<requestId>`, or `r:<requestId>` for a redeliver)
  Output: how many were added
]]
--- @include "delivery"
local o = cjson.decode(ARGV[1])
local added = 0
for i = 2, #ARGV do added = added + dlv_due_add(o.tag, ARGV[i], o.at) end
return added
