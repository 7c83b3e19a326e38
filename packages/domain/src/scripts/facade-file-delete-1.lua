--[[
  Deletes an uploaded Batch API input file of a tenant, or marks a batch's virtual result file deleted (its content
  answers 404 from then on; the lines stay in their request records until their retention).
  Input:
    KEYS[1]  the file hash, or the batch hash for a result file
    ARGV[1]  options (JSON): tag, id (file id), tenant, kind ('input' | 'output' | 'errors')
  Output: 'deleted' | 'not_found' | 'busy' (a batch is still reading the file)
]]
local o = cjson.decode(ARGV[1])
if o.kind ~= 'input' then
  local field = o.kind == 'output' and 'output_file_id' or 'error_file_id'
  local f = redis.call('HMGET', KEYS[1], 'tenant', field, o.kind .. '_deleted')
  if not f[1] or f[1] ~= o.tenant or f[2] ~= o.id or f[3] then return 'not_found' end
  redis.call('HSET', KEYS[1], o.kind .. '_deleted', 1)
  return 'deleted'
end
local f = redis.call('HMGET', KEYS[1], 'tenant', 'chunks', 'enqueuing')
if not f[1] or f[1] ~= o.tenant then return 'not_found' end
if (tonumber(f[3]) or 0) > 0 then return 'busy' end
for n = 0, (tonumber(f[2]) or 0) - 1 do redis.call('UNLINK', key_facade_file_chunk(o.tag, o.id, n)) end
redis.call('DEL', KEYS[1])
redis.call('ZREM', key_facade_files(o.tag, o.tenant), o.id)
return 'deleted'
