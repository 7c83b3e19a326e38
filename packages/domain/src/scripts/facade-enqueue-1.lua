--[[
  Enqueues chunk `n` of a Batch API batch's input file as requests of the pipeline (SPEC §12): each line becomes the
  request `breq_<batch stem><line index>` of the file's tenant, its custom_id the client reference, queued in its
  group exactly as enqueue-many queues a single request. Guarded by the batch's cursor (`next_chunk` must be `n`), so
  a replay after a crash, or a second driver, changes nothing. The last chunk moves the batch to `in_progress`.
  Input:
    KEYS[1]  the batch hash
    ARGV[1]  options (JSON): tag, n, now, retention, partition
  Output: {'ok', lines enqueued, next chunk} | {'cursor', next chunk} (another run did this chunk) |
    {'status', status} (not validating or cancelling) | {'gone'} | {'missing', outbox member} (the chunk is gone: batch failed)
]]
--- @include "group"
--- @include "facade"
local o = cjson.decode(ARGV[1])
local tag, now = o.tag, o.now
local b = redis.call('HMGET', KEYS[1], 'status', 'next_chunk', 'chunks', 'input_file_id', 'tenant', 'id',
  'enq_lines', 'ending')
if not b[1] then return {'gone'} end
if b[1] ~= 'validating' and b[1] ~= 'cancelling' then return {'status', b[1]} end
local nextc, chunks = tonumber(b[2]), tonumber(b[3])
if nextc ~= o.n then return {'cursor', nextc} end
if nextc >= chunks then return {'cursor', nextc} end
local lines = redis.call('LRANGE', key_facade_file_chunk(tag, b[4], nextc), 0, -1)
local batchId, tenant = b[6], b[5]
if #lines == 0 then
  local member = facade_end(tag, KEYS[1], batchId, 'failed', now, o.retention, o.partition,
    cjson.encode({object = 'list', data = {{code = 'file_not_found', line = cjson.null, param = 'input_file_id',
      message = 'the input file was deleted or expired before all its lines were read'}}}))
  return {'missing', member or ''}
end
local ALPHA = '0123456789abcdefghijklmnopqrstuvwxyz'
local function b36(n)
  local s = ''
  for _ = 1, 4 do
    local d = n % 36
    s = string.sub(ALPHA, d + 1, d + 1) .. s
    n = (n - d) / 36
  end
  return s
end
local stem = 'breq_' .. string.sub(batchId, 7)
local base = tonumber(b[7])
local groups, order = {}, {}
for i, s in ipairs(lines) do
  local nl = string.find(s, '\n', 1, true)
  local h = cjson.decode(string.sub(s, 1, nl - 1))
  local body = string.sub(s, nl + 1)
  local id = stem .. b36(base + i - 1)
  -- The JSONL line this request takes in a provider file (batchLine in request-record.ts), with its newline.
  local bytes = 50 + #id + #h.u + #body
  local inputs = h.i or 1
  redis.call('HSET', key_req(tag, id), 'id', id, 'tenant', tenant, 'group', h.g, 'status', 'queued',
    'created_at', now, 'updated_at', now, 'attempts', 0, 'bytes', bytes, 'tokens', h.t, 'model', h.m,
    'body', body, 'client_ref', h.c, 'fbatch', batchId, 'inputs', inputs)
  -- Structured outputs (SPEC §14): the schema every answer of the line is checked against.
  if h.s then redis.call('HSET', key_req(tag, id), 'schema', h.s) end
  local g = groups[h.g]
  if not g then
    g = {count = 0, bytes = 0, tokens = 0, inputs = 0, pending = {}}
    groups[h.g] = g
    order[#order + 1] = h.g
  end
  g.count, g.bytes, g.tokens, g.inputs = g.count + 1, g.bytes + bytes, g.tokens + h.t, g.inputs + inputs
  g.pending[#g.pending + 1] = now
  g.pending[#g.pending + 1] = id
end
for _, name in ipairs(order) do
  local g = groups[name]
  group_add(tag, name, g.pending, g.count, g.bytes, g.tokens, g.inputs)
end
local n = #lines
redis.call('INCRBY', key_open(tag), n)
redis.call('INCRBY', key_open_tenant(tag, tenant), n)
redis.call('HINCRBY', key_counts(tag), 'queued', n)
redis.call('HSET', KEYS[1], 'next_chunk', nextc + 1, 'enq_lines', base + n)
if nextc + 1 == chunks then
  local fkey = key_facade_file(tag, b[4])
  if redis.call('EXISTS', fkey) == 1 then redis.call('HINCRBY', fkey, 'enqueuing', -1) end
  if b[1] == 'validating' then
    redis.call('HSET', KEYS[1], 'status', 'in_progress', 'in_progress_at', now)
    if b[8] == '' then
      redis.call('ZADD', key_facade_live(tag), tonumber(redis.call('HGET', KEYS[1], 'expires_at')), batchId)
    end
  end
end
return {'ok', n, nextc + 1}
