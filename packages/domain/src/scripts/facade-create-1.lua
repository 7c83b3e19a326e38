--[[
  Creates a Batch API batch (SPEC §12) from an uploaded file: the batch record first, in `validating` (or `failed` at
  once when `errors` is given), in the tenant's list and the live set; its lines are enqueued afterwards chunk by
  chunk (facade-enqueue), so a process that dies after this call leaves a batch the driver's sweep resumes.
  Input:
    KEYS[1]  the batch hash (new)
    ARGV[1]  options (JSON): tag, id, tenant, fileId, endpoint, window, windowMs, now, metadata (JSON text),
             callbackUrl ('' for none), idemKey ('' for none), idemTtl, errors (JSON text, '' for none), retention,
             partition, tenantLimit, tenantElsewhere, globalLimit, globalElsewhere (0 limit: none)
  Output: {'created', outbox member of the batch webhook ('' unless failed at once)} | {'replayed', id of the batch an
    Idempotency-Key created} | {'no_file'} (missing, another tenant's) | {'exists'} (the id is taken) |
    {'quota_tenant', requests the tenant has in flight or admitted} | {'quota_global', the same over all tenants}

  Quotas (SPEC §3, as enqueue-many applies them to single requests): the whole file is admitted at once, as if its
  lines were enqueued now — the tenant's open requests here and elsewhere, plus the lines of its batches admitted but
  not yet enqueued (read from the partition's live set: batches still `validating` or `cancelling`), plus this file's
  lines, must stay within `max_queued`; the same over all tenants within GLOBAL_MAX_QUEUED. A batch once created is
  enqueued whole, whatever single requests arrive meanwhile.
]]
--- @include "facade"
local o = cjson.decode(ARGV[1])
local tag, now = o.tag, o.now
if o.idemKey ~= '' then
  local prior = redis.call('GET', key_idem(tag, o.tenant, o.idemKey))
  if prior then return {'replayed', prior} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local fkey = key_facade_file(tag, o.fileId)
local f = redis.call('HMGET', fkey, 'tenant', 'lines', 'chunks')
if not f[1] or f[1] ~= o.tenant then return {'no_file'} end
if o.errors == '' and (o.tenantLimit > 0 or o.globalLimit > 0) then
  local lines = tonumber(f[2])
  local pendingTenant, pendingAll = 0, 0
  for _, other in ipairs(redis.call('ZRANGE', key_facade_live(tag), 0, -1)) do
    local b = redis.call('HMGET', key_facade_batch(tag, other), 'status', 'tenant', 'total', 'enq_lines')
    if b[1] == 'validating' or b[1] == 'cancelling' then
      local left = tonumber(b[3] or '0') - tonumber(b[4] or '0')
      if left > 0 then
        pendingAll = pendingAll + left
        if b[2] == o.tenant then pendingTenant = pendingTenant + left end
      end
    end
  end
  if o.tenantLimit > 0 then
    local open = tonumber(redis.call('GET', key_open_tenant(tag, o.tenant)) or '0') + o.tenantElsewhere + pendingTenant
    if open + lines > o.tenantLimit then return {'quota_tenant', open} end
  end
  if o.globalLimit > 0 then
    local open = tonumber(redis.call('GET', key_open(tag)) or '0') + o.globalElsewhere + pendingAll
    if open + lines > o.globalLimit then return {'quota_global', open} end
  end
end
redis.call('HSET', KEYS[1], 'id', o.id, 'tenant', o.tenant, 'status', 'validating', 'endpoint', o.endpoint,
  'input_file_id', o.fileId, 'completion_window', o.window, 'created_at', now, 'expires_at', now + o.windowMs,
  'metadata', o.metadata, 'callback_url', o.callbackUrl, 'total', f[2], 'chunks', f[3], 'next_chunk', 0,
  'enq_lines', 0, 'n_completed', 0, 'n_failed', 0, 'n_cancelled', 0, 'ending', '', 'end_cursor', 0)
redis.call('ZADD', key_facade_batches(tag, o.tenant), now, o.id)
if o.idemKey ~= '' then redis.call('SET', key_idem(tag, o.tenant, o.idemKey), o.id, 'PX', o.idemTtl) end
if o.errors ~= '' then
  -- Nothing of the file was enqueued: the batch fails as a provider's validation would.
  redis.call('HSET', KEYS[1], 'next_chunk', f[3])
  return {'created', facade_end(tag, KEYS[1], o.id, 'failed', now, o.retention, o.partition, o.errors) or ''}
end
redis.call('HINCRBY', fkey, 'enqueuing', 1)
redis.call('ZADD', key_facade_live(tag), now, o.id)
return {'created', ''}
