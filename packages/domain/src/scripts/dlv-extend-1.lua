--[[
  Extends the leases of deliveries a dispatcher is still sending (a slow receiver must not make its claim look
  abandoned): each item's lease end moves to now + lease, only while the claim is still this dispatcher's (its score
  equals the fence it holds).
  Input:
    KEYS[1]  the partition's lease zset (T:dlv:lease)
    ARGV[1]  options (JSON): now (ms), lease (ms)
    ARGV[2..] member, fence, member, fence, ...
  Output: the new lease end (the fence from now on), and per item 1 when extended, 0 when the claim is not ours any more
]]
local o = cjson.decode(ARGV[1])
local until_ = o.now + o.lease
local out = {until_}
for i = 2, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call('ZADD', KEYS[1], 'XX', until_, ARGV[i])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
