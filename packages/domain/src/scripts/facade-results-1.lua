--[[
  Reads what a Batch API batch's output and error files need of a page of its lines (SPEC §12), read-only: one call
  per page instead of one HMGET per line (the per-command cost of the client dominated the download).
  Input:
    KEYS[1]  the batch hash (routes the call to the partition's node; not read)
    ARGV[1]  options (JSON): tag
    ARGV[2…] the lines' request ids, in line order
  Output: for each id, 5 values in a row: status, client_ref, response, error, completed_at (false where absent)
]]
local tag = cjson.decode(ARGV[1]).tag
local out, n = {}, 0
for i = 2, #ARGV do
  local v = redis.call('HMGET', key_req(tag, ARGV[i]), 'status', 'client_ref', 'response', 'error', 'completed_at')
  out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5] = v[1], v[2], v[3], v[4], v[5]
  n = n + 5
end
return out
