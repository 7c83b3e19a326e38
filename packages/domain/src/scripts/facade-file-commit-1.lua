--[[
  Makes an uploaded Batch API input file visible (SPEC §12) once every chunk of its lines is written: its record, its
  place in the tenant's list, and the retention of its chunks (written with a short TTL while the upload ran, so an
  upload cut short leaves nothing behind for long).
  Input:
    KEYS[1]  the file hash (new)
    ARGV[1]  options (JSON): tag, id, tenant, filename, bytes, lines, chunks, urls (JSON text), models (JSON
             text: input tokens by model), now, retention
  Output: 1
]]
local o = cjson.decode(ARGV[1])
redis.call('HSET', KEYS[1], 'id', o.id, 'tenant', o.tenant, 'filename', o.filename, 'bytes', o.bytes,
  'lines', o.lines, 'chunks', o.chunks, 'urls', o.urls, 'models', o.models,
  'created_at', o.now, 'purpose', 'batch', 'enqueuing', 0)
redis.call('PEXPIRE', KEYS[1], o.retention)
for n = 0, o.chunks - 1 do redis.call('PEXPIRE', key_facade_file_chunk(o.tag, o.id, n), o.retention) end
redis.call('ZADD', key_facade_files(o.tag, o.tenant), o.now, o.id)
return 1
