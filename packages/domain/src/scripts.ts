/**
 * Every Lua script that changes a request's status. Each runs atomically on one partition (all its keys share the
 * partition's hash tag, built from ARGV[1]); the lifecycle table of lifecycle.ts is compiled in, so an illegal
 * transition raises instead of writing. Checks come before writes: Redis does not roll a script back.
 *
 * A script that produces work for a queue writes an outbox entry (`T:outbox`) in the same step, so a crash between the
 * state change and the BullMQ `add` loses nothing: the outbox relay (queues package) hands entries to BullMQ.
 */
import { flushTransitionsLua, transitionsLua } from './lifecycle.js';

const PRELUDE = `
local ALLOWED = ${transitionsLua()}
local OPEN = {queued=true, batched=true, submitted=true}
local FLUSH_ALLOWED = ${flushTransitionsLua()}

-- A flush job run holds a fencing token (LEASE_FLUSH); a write carrying another run's token is refused, so a worker
-- that lost its BullMQ lock (stalled event loop, Redis away) cannot record anything after a newer run took over.
-- An empty token is not checked (tests and tools that drive a flush by hand).
local function fence_check(fkey, fence)
  if fence ~= '' and redis.call('HGET', fkey, 'fence') ~= fence then
    return redis.error_reply('STALE_FENCE a newer run holds this flush')
  end
  return nil
end

local function flush_move(fkey, to)
  local from = redis.call('HGET', fkey, 'state')
  if not (from and FLUSH_ALLOWED[from] and FLUSH_ALLOWED[from][to]) then
    return redis.error_reply('ILLEGAL_FLUSH_TRANSITION ' .. tostring(from) .. ' -> ' .. to)
  end
  redis.call('HSET', fkey, 'state', to)
  return nil
end

local function move(tag, key, from, to, tenant, now)
  if not (ALLOWED[from] and ALLOWED[from][to]) then
    error('batchbridge: illegal transition ' .. tostring(from) .. ' -> ' .. tostring(to))
  end
  redis.call('HSET', key, 'status', to, 'updated_at', now)
  redis.call('HINCRBY', tag .. ':counts', from, -1)
  if OPEN[to] then
    redis.call('HINCRBY', tag .. ':counts', to, 1)
  else
    redis.call('DECR', tag .. ':open')
    redis.call('DECR', tag .. ':open:' .. tenant)
  end
end

-- Queues requests in a group: \`pending\` is {score, id, score, id, ...} for its pending set, and \`count\`, \`bytes\`,
-- \`tokens\` their totals for the group's stats.
local function group_add(tag, group, pending, count, bytes, tokens)
  redis.call('ZADD', tag .. ':pending:' .. group, unpack(pending))
  local gkey = tag .. ':group:' .. group
  redis.call('HINCRBY', gkey, 'count', count)
  redis.call('HINCRBY', gkey, 'bytes', bytes)
  redis.call('HINCRBY', gkey, 'tokens', tokens)
  redis.call('SADD', tag .. ':groups', group)
end

local function group_remove(tag, group, bytes, tokens)
  local gkey = tag .. ':group:' .. group
  local left = redis.call('HINCRBY', gkey, 'count', -1)
  if left <= 0 then
    redis.call('DEL', gkey)
    redis.call('SREM', tag .. ':groups', group)
  else
    redis.call('HINCRBY', gkey, 'bytes', -bytes)
    redis.call('HINCRBY', gkey, 'tokens', -tokens)
  end
end

-- Moves the queued ones of \`ids\` (a window of the group's pending set) into flush \`fid\`, within the byte and token
-- limits (a flush's first request is taken whatever its size); drops stale members. \`count\`, \`tb\`, \`tt\`: what
-- the flush holds already. Returns taken, bytes, tokens, and whether a limit stopped it.
local function take_ids(tag, group, pending, fid, ids, now, maxBytes, maxTokens, count, tb, tt)
  local idsKey = tag .. ':flush:' .. fid .. ':ids'
  local taken = 0
  for _, id in ipairs(ids) do
    local key = tag .. ':req:' .. id
    local f = redis.call('HMGET', key, 'status', 'bytes', 'tokens', 'tenant')
    local b, t = tonumber(f[2]) or 0, tonumber(f[3]) or 0
    if f[1] ~= 'queued' then
      -- Not queued any more (or expired): drop the stale member and its share of the group's totals.
      redis.call('ZREM', pending, id)
      group_remove(tag, group, b, t)
    else
      if count + taken > 0 and (tb + b > maxBytes or tt + t > maxTokens) then return taken, tb, tt, true end
      move(tag, key, 'queued', 'batched', f[4], now)
      redis.call('HSET', key, 'flush_id', fid)
      redis.call('RPUSH', idsKey, id)
      redis.call('ZREM', pending, id)
      group_remove(tag, group, b, t)
      taken, tb, tt = taken + 1, tb + b, tt + t
    end
  end
  return taken, tb, tt, false
end

-- The flush job of a claimed flush, through the outbox; answers the outbox member.
local function flush_job(tag, fid, partition, now)
  local member = cjson.encode({queue='flush', jobId='flush-' .. fid, data={partition=partition, flushId=fid}})
  redis.call('ZADD', tag .. ':outbox', now, member)
  return member
end

-- Terminal bookkeeping: completion time, retention, and the delivery job through the outbox.
local function finish(tag, key, id, now, retention, partition)
  redis.call('HSET', key, 'completed_at', now)
  redis.call('PEXPIRE', key, retention)
  local member = cjson.encode({queue='deliver', jobId='dlv-' .. id, data={partition=partition, requestId=id}})
  redis.call('ZADD', tag .. ':outbox', now, member)
  -- Until its outcome is delivered, gone or dead-lettered: a deleted deliver job must not mean a lost outcome (14.6).
  redis.call('ZADD', tag .. ':undelivered', now, id)
  -- Wakes the connections waiting for this outcome (transparent mode); a missed notice is covered by their re-reads.
  redis.call('PUBLISH', tag .. ':outcomes', id)
  return member
end
`;

/** Arguments per request of ENQUEUE_MANY before its record fields (keep in step with `RequestStore.enqueue`). */
export const ENQUEUE_FIXED_ARGS = 13;

/**
 * Creates the requests that arrived at one partition in the same moment (ingest coalesces them: one script call
 * instead of one per request). Each request is checked and written exactly as if it were alone, in arrival order, so an
 * earlier request of the call counts against the quotas of a later one and an Idempotency-Key repeated within the call
 * replays the first. KEYS: the req key of each request, in order. ARGV: tag, idemTtlMs, then per request
 * ENQUEUE_FIXED_ARGS values — id, tenant, group, now, idemKey, bodyHash, tenantLimit, tenantOpenElsewhere, globalLimit,
 * globalOpenElsewhere, bytes, tokens, n — followed by n field/value strings of its record. Answers one value per
 * request: the integer 1 when it was created (the common case, and the cheapest reply to decode), else
 * 'quota_tenant', 'quota_global', or 'replayed <1 when the body matches, else 0> <id of the first request>'.
 */
export const ENQUEUE_MANY = `${PRELUDE}
local tag, idemTtl = ARGV[1], ARGV[2]
local out = {}
-- Counters change once per call, not once per request (most of the script's Redis work was these writes); the
-- quota checks read the stored counts once and add what this call has created so far, so each request is still
-- checked as if it were alone.
local globalOpen, tenantOpen, tenantAdd, created = nil, {}, {}, 0
local groups, groupOrder = {}, {}
local a = 3
for k = 1, #KEYS do
  local id, tenant, group, now = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  local idemKey, bodyHash = ARGV[a + 4], ARGV[a + 5]
  local tenantLimit, tenantElsewhere = tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7])
  local globalLimit, globalElsewhere = tonumber(ARGV[a + 8]), tonumber(ARGV[a + 9])
  local bytes, tokens, nFields = tonumber(ARGV[a + 10]), tonumber(ARGV[a + 11]), tonumber(ARGV[a + 12])
  local first = a + ${ENQUEUE_FIXED_ARGS}
  a = first + nFields
  local answer = 1
  local prior = idemKey ~= '' and redis.call('GET', tag .. ':idem:' .. tenant .. ':' .. idemKey)
  if tenantLimit > 0 and tenantOpen[tenant] == nil then
    tenantOpen[tenant] = tonumber(redis.call('GET', tag .. ':open:' .. tenant) or '0')
  end
  if globalLimit > 0 and globalOpen == nil then globalOpen = tonumber(redis.call('GET', tag .. ':open') or '0') end
  if prior then
    local sp = string.find(prior, ' ', 1, true)
    local same = string.sub(prior, sp + 1) == bodyHash and '1' or '0'
    answer = 'replayed ' .. same .. ' ' .. string.sub(prior, 1, sp - 1)
  elseif tenantLimit > 0 and tenantOpen[tenant] + (tenantAdd[tenant] or 0) + tenantElsewhere >= tenantLimit then
    answer = 'quota_tenant'
  elseif globalLimit > 0 and globalOpen + created + globalElsewhere >= globalLimit then
    answer = 'quota_global'
  else
    local fields = {'id', id, 'tenant', tenant, 'group', group, 'status', 'queued', 'created_at', now,
      'updated_at', now, 'attempts', 0, 'bytes', bytes, 'tokens', tokens}
    for i = first, a - 1 do fields[#fields + 1] = ARGV[i] end
    redis.call('HSET', KEYS[k], unpack(fields))
    local g = groups[group]
    if not g then
      g = {count = 0, bytes = 0, tokens = 0, pending = {}}
      groups[group] = g
      groupOrder[#groupOrder + 1] = group
    end
    g.count, g.bytes, g.tokens = g.count + 1, g.bytes + bytes, g.tokens + tokens
    g.pending[#g.pending + 1] = now
    g.pending[#g.pending + 1] = id
    created = created + 1
    tenantAdd[tenant] = (tenantAdd[tenant] or 0) + 1
    if idemKey ~= '' then
      redis.call('SET', tag .. ':idem:' .. tenant .. ':' .. idemKey, id .. ' ' .. bodyHash, 'PX', idemTtl)
    end
  end
  out[k] = answer
end
for _, group in ipairs(groupOrder) do
  local g = groups[group]
  group_add(tag, group, g.pending, g.count, g.bytes, g.tokens)
end
if created > 0 then
  redis.call('INCRBY', tag .. ':open', created)
  redis.call('HINCRBY', tag .. ':counts', 'queued', created)
  for tenant, n in pairs(tenantAdd) do redis.call('INCRBY', tag .. ':open:' .. tenant, n) end
end
return out
`;

/** KEYS: req key. ARGV: tag, tenant, now, retentionMs, partition. */
export const CANCEL = `${PRELUDE}
local tag, tenant, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local f = redis.call('HMGET', KEYS[1], 'status', 'tenant', 'group', 'bytes', 'tokens', 'id')
if not f[1] or f[2] ~= tenant then return {'not_found'} end
if f[1] ~= 'queued' then return {'conflict', f[1]} end
redis.call('ZREM', tag .. ':pending:' .. f[3], f[6])
group_remove(tag, f[3], tonumber(f[4]), tonumber(f[5]))
move(tag, KEYS[1], 'queued', 'cancelled', tenant, now)
local member = finish(tag, KEYS[1], f[6], now, tonumber(ARGV[4]), tonumber(ARGV[5]))
return {'cancelled', member}
`;

/**
 * KEYS: pending zset of the group. ARGV: tag, group, flushId, now, maxCount, maxBytes, maxTokens, maxWaitMs, force,
 * partition, slice. Claims the oldest queued requests of the group into a new flush when a trigger fires — at most
 * `slice` of them in this call, so that a 50 000-request flush does not hold Redis for a second (intake would time out
 * meanwhile). When more may follow, the flush is left `claiming` and CLAIM_MORE continues it; the last call makes it
 * `claimed` and writes its flush job to the outbox. Answers {taken, reason, outbox member or '', bytes, tokens, more}.
 */
export const CLAIM = `${PRELUDE}
local tag, group, fid = ARGV[1], ARGV[2], ARGV[3]
local now, maxCount, maxBytes, maxTokens = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local maxWait, force, partition = tonumber(ARGV[8]), ARGV[9] == '1', tonumber(ARGV[10])
local window = math.min(maxCount, tonumber(ARGV[11]))
if redis.call('EXISTS', tag .. ':hold:' .. group) == 1 then return {0, 'held'} end
local stats = redis.call('HMGET', tag .. ':group:' .. group, 'count', 'bytes', 'tokens')
local count, bytes, tokens = tonumber(stats[1]) or 0, tonumber(stats[2]) or 0, tonumber(stats[3]) or 0
if count <= 0 then return {0, 'empty'} end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local age = oldest[2] and (now - tonumber(oldest[2])) or 0
local reason
if count >= maxCount then reason = 'count'
elseif bytes >= maxBytes then reason = 'bytes'
elseif tokens >= maxTokens then reason = 'tokens'
elseif age >= maxWait then reason = 'age'
elseif force then reason = 'forced'
else return {0, 'not_due'} end
local ids = redis.call('ZRANGE', KEYS[1], 0, window - 1)
local taken, tb, tt, limited = take_ids(tag, group, KEYS[1], fid, ids, now, maxBytes, maxTokens, 0, 0, 0)
if taken == 0 then return {0, 'empty'} end
local more = not limited and #ids == window and taken < maxCount
redis.call('HSET', tag .. ':flush:' .. fid, 'id', fid, 'group', group, 'count', taken, 'bytes', tb, 'tokens', tt,
  'reason', reason, 'state', more and 'claiming' or 'claimed', 'created_at', now, 'partition', partition)
redis.call('ZADD', tag .. ':flushes', now, fid)
if more then return {taken, reason, '', tb, tt, 1} end
local member = flush_job(tag, fid, partition, now)
return {taken, reason, member, tb, tt, 0}
`;

/**
 * KEYS: pending zset of the group. ARGV: tag, group, flushId, now, maxCount, maxBytes, maxTokens, partition, slice.
 * Continues a `claiming` flush with at most `slice` more requests; the call that ends it (limits reached, group
 * drained) makes it `claimed` and writes its flush job to the outbox. A flush no longer `claiming` (sealed by recovery
 * after this packer died, see SEAL_FLUSH) is left alone. Answers {taken, state, outbox member or '', count, bytes,
 * tokens}.
 */
export const CLAIM_MORE = `${PRELUDE}
local tag, group, fid = ARGV[1], ARGV[2], ARGV[3]
local now, maxCount, maxBytes, maxTokens = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local partition, slice = tonumber(ARGV[8]), tonumber(ARGV[9])
local fkey = tag .. ':flush:' .. fid
local f = redis.call('HMGET', fkey, 'state', 'count', 'bytes', 'tokens')
local count, tb, tt = tonumber(f[2]) or 0, tonumber(f[3]) or 0, tonumber(f[4]) or 0
if f[1] ~= 'claiming' then return {0, f[1] or 'missing', '', count, tb, tt} end
local window = math.min(maxCount - count, slice)
local taken, more = 0, false
if window > 0 and redis.call('EXISTS', tag .. ':hold:' .. group) == 0 then
  local ids = redis.call('ZRANGE', KEYS[1], 0, window - 1)
  local limited
  taken, tb, tt, limited = take_ids(tag, group, KEYS[1], fid, ids, now, maxBytes, maxTokens, count, tb, tt)
  more = not limited and #ids == window and count + taken < maxCount
end
count = count + taken
redis.call('HSET', fkey, 'count', count, 'bytes', tb, 'tokens', tt)
if more then return {taken, 'claiming', '', count, tb, tt} end
redis.call('HSET', fkey, 'state', 'claimed')
local member = flush_job(tag, fid, partition, now)
return {taken, 'claimed', member, count, tb, tt}
`;

/**
 * KEYS: flush key. Ends a flush left `claiming` by a packer that died between CLAIM calls: it keeps what it has and
 * becomes `claimed` (its job was re-added by recovery, which is why no outbox entry is written). Answers 1 if sealed.
 */
export const SEAL_FLUSH = `
if redis.call('HGET', KEYS[1], 'state') ~= 'claiming' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'claimed')
return 1
`;

/** KEYS: flush hash. ARGV: tag, flushId, batchId, now, start, stop, fence. Marks a slice of the flush's requests
 * submitted; only once RECORD_CREATED put the flush in this batch (a replay after FINISH_SUBMISSION finds none left
 * `batched` and changes nothing). */
export const SUBMIT_CHUNK = `${PRELUDE}
local tag, fid, batchId, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local refused = fence_check(KEYS[1], ARGV[7])
if refused then return refused end
local fs = redis.call('HMGET', KEYS[1], 'state', 'batch_id')
if (fs[1] ~= 'submitting' and fs[1] ~= 'submitted') or fs[2] ~= batchId then
  return redis.error_reply('NOT_SUBMITTING flush ' .. fid .. ' is ' .. tostring(fs[1]) .. ' in ' .. tostring(fs[2]))
end
local ids = redis.call('LRANGE', tag .. ':flush:' .. fid .. ':ids', tonumber(ARGV[5]), tonumber(ARGV[6]))
local n = 0
for _, id in ipairs(ids) do
  local key = tag .. ':req:' .. id
  local f = redis.call('HMGET', key, 'status', 'flush_id', 'tenant')
  if f[1] == 'batched' and f[2] == fid then
    move(tag, key, 'batched', 'submitted', f[3], now)
    redis.call('HSET', key, 'batch_id', batchId)
    redis.call('HINCRBY', key, 'attempts', 1)
    n = n + 1
  end
end
return n
`;

/**
 * KEYS: flush hash. ARGV: batchId, fileId, now, fence. The provider created (or an earlier run created, and this one
 * adopted) batch `batchId` for the flush: the batch id is recorded before any request is marked, so that a run that
 * dies while marking is resumed with this batch by the next run, never looked up or created again. Idempotent for the
 * same batch; answers 1 when recorded now, 0 when it already was.
 */
export const RECORD_CREATED = `${PRELUDE}
local refused = fence_check(KEYS[1], ARGV[4])
if refused then return refused end
local f = redis.call('HMGET', KEYS[1], 'state', 'batch_id')
if f[1] == 'submitting' or f[1] == 'submitted' then
  if f[2] == ARGV[1] then return 0 end
  return redis.error_reply('BATCH_CONFLICT flush already recorded batch ' .. tostring(f[2]))
end
local bad = flush_move(KEYS[1], 'submitting')
if bad then return bad end
redis.call('HSET', KEYS[1], 'batch_id', ARGV[1], 'file_id', ARGV[2], 'created_batch_at', ARGV[3])
return 1
`;

/** KEYS: flush hash. ARGV: tag, flushId, batchId, now, partition, fileId, fence. Records the batch as live and asks
 * for its first poll through the outbox. Idempotent: a second call returns the same outbox entry and writes nothing. */
export const FINISH_SUBMISSION = `${PRELUDE}
local tag, fid, batchId, now, partition = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local member = cjson.encode({queue='poll', jobId='poll-' .. batchId, data={partition=partition, batchId=batchId}})
local f = redis.call('HMGET', KEYS[1], 'state', 'group', 'count', 'batch_id')
if f[1] == 'submitted' then return {0, member} end
local refused = fence_check(KEYS[1], ARGV[7])
if refused then return refused end
if f[4] ~= batchId then return redis.error_reply('BATCH_CONFLICT flush is in batch ' .. tostring(f[4])) end
local bad = flush_move(KEYS[1], 'submitted')
if bad then return bad end
redis.call('HSET', KEYS[1], 'submitted_at', now)
redis.call('ZREM', tag .. ':flushes', fid)
redis.call('HSET', tag .. ':batch:' .. batchId, 'id', batchId, 'flush_id', fid, 'group', f[2], 'count', f[3],
  'submitted_at', now, 'status', 'submitted', 'file_id', ARGV[6])
redis.call('ZADD', tag .. ':batches', now, batchId)
redis.call('ZADD', tag .. ':outbox', now, member)
return {1, member}
`;

/** KEYS: flush hash. Starts a run of the flush job: answers its fencing token (0 when the flush does not exist). */
export const LEASE_FLUSH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'fence', 1)
`;

/** KEYS: flush hash. ARGV: fileId, fence. The input file is uploaded: `claimed → uploaded`. */
export const RECORD_UPLOAD = `${PRELUDE}
local refused = fence_check(KEYS[1], ARGV[2])
if refused then return refused end
local bad = flush_move(KEYS[1], 'uploaded')
if bad then return bad end
redis.call('HSET', KEYS[1], 'file_id', ARGV[1])
return 1
`;

/** KEYS: flush hash. ARGV: fence. The provider no longer knows the input file: `uploaded → claimed`, upload again. */
export const RESET_UPLOAD = `${PRELUDE}
local refused = fence_check(KEYS[1], ARGV[1])
if refused then return refused end
local bad = flush_move(KEYS[1], 'claimed')
if bad then return bad end
redis.call('HSET', KEYS[1], 'file_id', '')
return 1
`;

/**
 * KEYS: flush hash. ARGV: now, fence. Set right before `batches.create`: from here on a re-run must look for the batch
 * (invariant I2) and, while the call is open (`create_open`: its run died or stalled in it) and started less than the
 * call timeout ago, wait for it to be answered first.
 */
export const MARK_CREATE_STARTED = `${PRELUDE}
local refused = fence_check(KEYS[1], ARGV[2])
if refused then return refused end
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'claimed' and state ~= 'uploaded' then
  return redis.error_reply('ILLEGAL_FLUSH_TRANSITION create started on a flush that is ' .. tostring(state))
end
redis.call('HSET', KEYS[1], 'create_started', 1, 'create_started_at', ARGV[1], 'create_open', 1)
return 1
`;

/** KEYS: flush hash. ARGV: fence. The run's `batches.create` call ended (answered, refused or timed out): a re-run need
 * not wait for it to be answered before it looks for the batch. */
export const MARK_CREATE_ENDED = `${PRELUDE}
local refused = fence_check(KEYS[1], ARGV[1])
if refused then return refused end
redis.call('HSET', KEYS[1], 'create_open', 0)
return 1
`;

// --- delivery marks: never recreate an expired request record (a hash written after its TTL ran out would have none,
// issue 16.10). Each answers -1 when the record is gone. ---

/** KEYS: request hash. ARGV: field, value. HSETNX on an existing record only. */
export const HSETNX_IF_RECORD = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
`;

/** KEYS: request hash. ARGV: dead zset, id, now, undelivered zset. A 2xx: delivered_at once, out of the dead letters
 * and the undelivered index. 1 = first time. */
export const MARK_DELIVERED = `
redis.call('ZREM', ARGV[4], ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', ARGV[1], ARGV[2])
  return -1
end
local first = redis.call('HSETNX', KEYS[1], 'delivered_at', ARGV[3])
redis.call('HSET', KEYS[1], 'dead', '0')
redis.call('ZREM', ARGV[1], ARGV[2])
return first
`;

/** KEYS: request hash. ARGV: undelivered zset, id, now. A 410: gone_at once, out of the undelivered index. */
export const MARK_GONE = `
redis.call('ZREM', ARGV[1], ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[1], 'gone_at', ARGV[3])
`;

/** KEYS: request hash. ARGV: dead zset, id, now, undelivered zset. Retries used up: into the dead letters (if the
 * record still exists), out of the undelivered index. */
export const MARK_DEAD = `
redis.call('ZREM', ARGV[4], ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'dead', '1')
redis.call('ZADD', ARGV[1], ARGV[3], ARGV[2])
return 1
`;

/** KEYS: dead zset. ARGV: request key prefix (\`<tag>:req:\`), how many of the oldest to look at. Drops dead letters
 * whose record has expired (issue 16.10); answers how many remain. */
export const PRUNE_DEAD = `
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[1] .. id) == 0 then redis.call('ZREM', KEYS[1], id) end
end
return redis.call('ZCARD', KEYS[1])
`;

/** KEYS: flush hash. ARGV: tag, flushId, now, errorJson, retentionMs, partition, fence. The provider refused the
 * flush's file or batch for good: every request still batched in it fails with the provider's message; the flush and
 * its id list expire after the retention, like a routed batch's. */
export const FAIL_FLUSH = `${PRELUDE}
local tag, fid, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local refused = fence_check(KEYS[1], ARGV[7])
if refused then return refused end
if redis.call('HGET', KEYS[1], 'state') == 'failed' then return {} end
local bad = flush_move(KEYS[1], 'failed')
if bad then return bad end
local ids = redis.call('LRANGE', tag .. ':flush:' .. fid .. ':ids', 0, -1)
local members = {}
for _, id in ipairs(ids) do
  local key = tag .. ':req:' .. id
  local f = redis.call('HMGET', key, 'status', 'flush_id', 'tenant')
  if f[1] == 'batched' and f[2] == fid then
    redis.call('HSET', key, 'error', ARGV[4])
    move(tag, key, 'batched', 'failed', f[3], now)
    members[#members + 1] = finish(tag, key, id, now, tonumber(ARGV[5]), tonumber(ARGV[6]))
  end
end
redis.call('HSET', KEYS[1], 'failed_at', now)
redis.call('ZREM', tag .. ':flushes', fid)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
redis.call('PEXPIRE', tag .. ':flush:' .. fid .. ':ids', tonumber(ARGV[5]))
return members
`;

/** Applies one routed result to the request at `key` (shared by SETTLE and SETTLE_MANY). Returns the outcome and, for
 * a terminal outcome, the delivery job's outbox entry. A request not submitted in this batch is left alone ('stale'),
 * which makes routing a file twice harmless.
 * Kinds: `completed`, `rejected` (fails the request), `retry` (back to the queue; the attempt this batch used counts),
 * `requeue` (back to the queue with the attempt given back: the batch failed through no fault of this request). A
 * non-empty `group` moves the request to that packing group (a failed batch is split to isolate a poison request). */
const SETTLE_ONE = `
local function settle_one(tag, key, batchId, kind, now, response, message, maxAttempts, retention, partition, group)
  local f = redis.call('HMGET', key, 'status', 'batch_id', 'tenant', 'attempts', 'group', 'created_at', 'bytes',
    'tokens', 'id')
  if not f[1] then return 'unknown' end
  if f[1] ~= 'submitted' or f[2] ~= batchId then return 'stale' end
  local id, tenant = f[9], f[3]
  if kind == 'completed' then
    redis.call('HSET', key, 'response', response)
    move(tag, key, 'submitted', 'completed', tenant, now)
    return 'completed', finish(tag, key, id, now, retention, partition)
  end
  if kind == 'rejected' then
    if response ~= '' then redis.call('HSET', key, 'response', response) end
    redis.call('HSET', key, 'error', cjson.encode({code='provider_rejected', message=message}))
    move(tag, key, 'submitted', 'failed', tenant, now)
    return 'failed', finish(tag, key, id, now, retention, partition)
  end
  local attempts = tonumber(f[4]) or 0
  if kind == 'requeue' then
    if attempts > 0 then redis.call('HINCRBY', key, 'attempts', -1) end
  elseif attempts >= maxAttempts then
    redis.call('HSET', key, 'error', cjson.encode({code='max_attempts_exceeded',
      message='gave up after ' .. attempts .. ' attempts; last error: ' .. message}))
    move(tag, key, 'submitted', 'failed', tenant, now)
    return 'failed', finish(tag, key, id, now, retention, partition)
  end
  local target = f[5]
  if group ~= nil and group ~= '' then
    target = group
    redis.call('HSET', key, 'group', group)
  end
  redis.call('HSET', key, 'last_error', message)
  redis.call('HDEL', key, 'batch_id', 'flush_id')
  move(tag, key, 'submitted', 'queued', tenant, now)
  group_add(tag, target, {tonumber(f[6]), id}, 1, tonumber(f[7]) or 0, tonumber(f[8]) or 0)
  return 'retried'
end
`;

/** KEYS: req key. ARGV: tag, batchId, kind (completed|rejected|retry|requeue), now, responseJson, errorMessage,
 * maxAttempts, retentionMs, partition, group. Applies one routed result (see settle_one). */
export const SETTLE = `${PRELUDE}${SETTLE_ONE}
local outcome, member = settle_one(ARGV[1], KEYS[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6],
  tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10])
if member then return {outcome, member} end
return {outcome}
`;

/** Values per item of SETTLE_MANY after its fixed arguments: kind, responseJson, errorMessage, group. */
export const SETTLE_ITEM_ARGS = 4;

/** KEYS: the req key of each item. ARGV: tag, batchId, now, maxAttempts, retentionMs, partition, then per item (in
 * KEYS order) kind, responseJson, errorMessage, group. Applies a chunk of routed results of one batch in one call, item
 * by item with exactly SETTLE's semantics (a later item for the same request sees the earlier one's write, so it is
 * 'stale'). Returns outcome, outbox entry ('' when none) per item: one script call instead of one per result line. */
export const SETTLE_MANY = `${PRELUDE}${SETTLE_ONE}
local tag, batchId, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local maxAttempts, retention, partition = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local out = {}
for i = 1, #KEYS do
  local a = 6 + (i - 1) * ${SETTLE_ITEM_ARGS}
  local outcome, member = settle_one(tag, KEYS[i], batchId, ARGV[a + 1], now, ARGV[a + 2], ARGV[a + 3], maxAttempts,
    retention, partition, ARGV[a + 4])
  out[#out + 1] = outcome
  out[#out + 1] = member or ''
end
return out
`;
