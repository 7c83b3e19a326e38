/**
 * RequestStore: every read and write of request, flush and batch state goes through here (and so through the Lua
 * scripts of scripts.ts for anything that changes a status). Services never build keys themselves.
 */
import type { Cluster, Redis } from 'ioredis';
import { partitionOfRequestId, webhookIdFor } from './ids.js';
import type { KeySpace, PartitionId } from './keys.js';
import { type FlushState, type OPEN_STATUSES, REQUEST_STATUSES } from './lifecycle.js';
import { parseRecord, type RequestRecord } from './request-record.js';
import {
  CANCEL,
  CLAIM,
  CLAIM_MORE,
  ENQUEUE_MANY,
  FAIL_FLUSH,
  FINISH_SUBMISSION,
  HSETNX_IF_RECORD,
  LEASE_FLUSH,
  MARK_CREATE_ENDED,
  MARK_CREATE_STARTED,
  MARK_DEAD,
  MARK_DELIVERED,
  MARK_GONE,
  PRUNE_DEAD,
  RECORD_CREATED,
  RECORD_UPLOAD,
  RESET_UPLOAD,
  SEAL_FLUSH,
  SETTLE,
  SETTLE_MANY,
  SUBMIT_CHUNK,
} from './scripts.js';

type Client = Redis | Cluster;

interface ScriptCommands {
  /** Variadic keys: the first argument is the number of keys. */
  bbEnqueueMany(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown[]>;
  bbCancel(key: string, ...args: (string | number)[]): Promise<unknown[]>;
  bbClaim(key: string, ...args: (string | number)[]): Promise<unknown[]>;
  bbClaimMore(key: string, ...args: (string | number)[]): Promise<unknown[]>;
  bbSealFlush(key: string): Promise<number>;
  bbSubmitChunk(key: string, ...args: (string | number)[]): Promise<number>;
  bbFinishSubmission(key: string, ...args: (string | number)[]): Promise<unknown[]>;
  bbFailFlush(key: string, ...args: (string | number)[]): Promise<string[]>;
  bbLeaseFlush(key: string): Promise<number>;
  bbRecordUpload(key: string, ...args: (string | number)[]): Promise<number>;
  bbResetUpload(key: string, ...args: (string | number)[]): Promise<number>;
  bbMarkCreateStarted(key: string, ...args: (string | number)[]): Promise<number>;
  bbMarkCreateEnded(key: string, ...args: (string | number)[]): Promise<number>;
  bbRecordCreated(key: string, ...args: (string | number)[]): Promise<number>;
  bbSettle(key: string, ...args: (string | number)[]): Promise<unknown[]>;
  bbHsetnxIfRecord(key: string, field: string, value: string | number): Promise<number>;
  bbMarkDelivered(key: string, ...args: (string | number)[]): Promise<number>;
  bbMarkDead(key: string, ...args: (string | number)[]): Promise<number>;
  bbMarkGone(key: string, ...args: (string | number)[]): Promise<number>;
  bbPruneDead(key: string, ...args: (string | number)[]): Promise<number>;
  /** Variadic keys: the first argument is the number of keys. */
  bbSettleMany(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<string[]>;
}

/** Results settled per SETTLE_MANY call: big enough to save most per-call overhead, small enough that one call does
 * not hold Redis for long (calls of one chunk are sent together and pipelined). */
const SETTLE_SLICE = 100;

/** Requests created per ENQUEUE_MANY call at most, and the body bytes after which a call is sent at once. */
const ENQUEUE_SLICE = 128;
const ENQUEUE_SLICE_BYTES = 2 * 1024 * 1024;

/** Requests of one partition waiting for the next ENQUEUE_MANY call. */
interface EnqueueBatch {
  keys: string[];
  ids: string[];
  args: (string | number)[];
  waiters: Array<{ resolve: (r: EnqueueResult) => void; reject: (err: unknown) => void }>;
  bytes: number;
}

const SCRIPTS: Record<Exclude<keyof ScriptCommands, 'bbSettleMany' | 'bbEnqueueMany'>, string> = {
  bbCancel: CANCEL,
  bbClaim: CLAIM,
  bbClaimMore: CLAIM_MORE,
  bbSealFlush: SEAL_FLUSH,
  bbSubmitChunk: SUBMIT_CHUNK,
  bbFinishSubmission: FINISH_SUBMISSION,
  bbFailFlush: FAIL_FLUSH,
  bbLeaseFlush: LEASE_FLUSH,
  bbRecordUpload: RECORD_UPLOAD,
  bbResetUpload: RESET_UPLOAD,
  bbMarkCreateStarted: MARK_CREATE_STARTED,
  bbMarkCreateEnded: MARK_CREATE_ENDED,
  bbRecordCreated: RECORD_CREATED,
  bbSettle: SETTLE,
  bbHsetnxIfRecord: HSETNX_IF_RECORD,
  bbMarkDelivered: MARK_DELIVERED,
  bbMarkDead: MARK_DEAD,
  bbMarkGone: MARK_GONE,
  bbPruneDead: PRUNE_DEAD,
};

export interface NewRequest {
  id: string;
  partition: PartitionId;
  tenant: string;
  model: string;
  group: string;
  body: string;
  bytes: number;
  tokens: number;
  clientRef?: string | undefined;
  callbackUrl?: string | undefined;
  idempotencyKey?: string | undefined;
  bodyHash?: string | undefined;
}

export type EnqueueResult =
  | { kind: 'created'; id: string }
  | { kind: 'replayed'; id: string; sameBody: boolean }
  | { kind: 'quota_tenant' }
  | { kind: 'quota_global' };

export interface GroupStats {
  group: string;
  count: number;
  bytes: number;
  tokens: number;
  oldestAt: number | undefined;
  held: boolean;
}

export interface FlushLimits {
  maxRequests: number;
  maxBytes: number;
  maxTokens: number;
  maxWaitMs: number;
}

/**
 * `outbox` is the flush job's outbox entry to relay; empty when there is none to relay (the flush was sealed by
 * recovery while this claim was still adding to it: recovery re-added its job).
 */
export type ClaimResult =
  | { claimed: true; flushId: string; count: number; reason: string; bytes: number; tokens: number; outbox: string }
  | { claimed: false; why: string };

/** Requests moved into a flush per CLAIM / CLAIM_MORE call: about 40 ms of Redis time each, instead of about 0.9 s for
 * a 50 000-request flush in one call (measured on the 2-core box), during which intake's 1 s command timeout runs. */
export const CLAIM_SLICE = 2_000;

export interface FlushRecord {
  id: string;
  partition: PartitionId;
  group: string;
  count: number;
  bytes: number;
  tokens: number;
  reason: string;
  state: FlushState;
  created_at: number;
  file_id: string | undefined;
  batch_id: string | undefined;
  create_started: boolean;
  /** When `batches.create` was last started (ms), if it was. */
  create_started_at: number | undefined;
  /** A `batches.create` was started and its run never saw it end (the run died or stalled in the call). */
  create_open: boolean;
}

/**
 * A flush job run that lost its fencing token: a newer run of the same flush took over (this worker lost its BullMQ
 * lock), so this one must stop without writing or calling the provider again.
 */
export class StaleFlushRunError extends Error {
  readonly code = 'domain:stale_flush_run';
  constructor(flushId: string, options?: { cause?: unknown }) {
    super(`flush ${flushId}: a newer run holds this flush; this run stops`, options);
    this.name = 'StaleFlushRunError';
  }
}

/** Maps the STALE_FENCE reply of the flush scripts to StaleFlushRunError. */
function fenced<T>(flushId: string, call: Promise<T>): Promise<T> {
  return call.catch((err: unknown) => {
    if (err instanceof Error && /^STALE_FENCE\b/.test(err.message))
      throw new StaleFlushRunError(flushId, { cause: err });
    throw err;
  });
}

export interface BatchRecord {
  id: string;
  flush_id: string;
  group: string;
  count: number;
  submitted_at: number;
  status: string;
  file_id: string | undefined;
  routed_at: number | undefined;
  /** How its requests came out when it was routed (absent while live, and for batches routed before this existed). */
  outcomes?: BatchOutcomes | undefined;
}

/** Requests of a routed batch by outcome: completed, failed for good, sent back to the queue for another batch. */
export interface BatchOutcomes {
  completed: number;
  failed: number;
  retried: number;
}

/** Estimated savings of one model (price table × tokens of completed results). */
export interface ModelSavings {
  model: string;
  usd: number;
  inputTokens: number;
  outputTokens: number;
}

/** How many routed batches per partition `T:recent` keeps for the operator page. */
const RECENT_BATCHES = 200;

export type SettleKind = 'completed' | 'rejected' | 'retry' | 'requeue';
export type SettleOutcome = 'completed' | 'failed' | 'retried' | 'stale' | 'unknown';

export interface StoreOptions {
  /** Retention of terminal records. */
  retentionMs: number;
  /** Idempotency-Key lifetime. @defaultValue 24 h */
  idempotencyTtlMs?: number;
  maxAttempts: number;
}

export class RequestStore {
  readonly keys: KeySpace;
  private readonly redis: Client & ScriptCommands;
  private readonly options: Required<StoreOptions>;
  /** Requests waiting for this turn's ENQUEUE_MANY call, per partition. */
  private readonly enqueueBatches = new Map<PartitionId, EnqueueBatch>();
  private enqueueScheduled = false;

  constructor(redis: Client, keys: KeySpace, options: StoreOptions) {
    this.keys = keys;
    this.options = { idempotencyTtlMs: 86_400_000, ...options };
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 1, lua });
    }
    if (!('bbSettleMany' in redis)) redis.defineCommand('bbSettleMany', { lua: SETTLE_MANY });
    if (!('bbEnqueueMany' in redis)) redis.defineCommand('bbEnqueueMany', { lua: ENQUEUE_MANY });
    // On a Cluster, ioredis's auto-pipelining picks the node by the first argument of a command it does not know — for
    // these variadic-keys scripts that is the key count, not a key — so the call lands on a wrong master (the cluster
    // test's intake answered 503 without this). Sent on their own, they are routed by their keys.
    const client = redis.options as { autoPipeliningIgnoredCommands?: string[] };
    const ignored = client.autoPipeliningIgnoredCommands ?? [];
    const variadic = ['bbEnqueueMany', 'bbSettleMany'].filter((name) => !ignored.includes(name));
    if (variadic.length > 0) client.autoPipeliningIgnoredCommands = [...ignored, ...variadic];
    this.redis = redis as Client & ScriptCommands;
  }

  /** The partition a request id belongs to, if the id is well-formed and the partition exists here. */
  partitionOf(id: string): PartitionId | undefined {
    const p = partitionOfRequestId(id);
    return p !== undefined && p < this.keys.partitions ? p : undefined;
  }

  /**
   * Creates a request (record + pending entry + counters + Idempotency-Key, atomically), or answers why not. Requests
   * enqueued in the same turn of the event loop are written by one ENQUEUE_MANY call per partition — one script call and
   * one reply instead of one per request, which is most of intake's Redis cost — and each promise settles only once
   * that call has answered, so a caller that answers 202 after it still answers only for a durable request.
   * `created_at` is the moment of this call (read synchronously, before any await).
   */
  enqueue(
    req: NewRequest,
    limits: {
      tenantMax?: number | undefined;
      tenantOpenElsewhere?: number;
      globalMax?: number;
      globalOpenElsewhere?: number;
    },
  ): Promise<EnqueueResult> {
    const now = Date.now();
    const k = this.keys.partitionKeys(req.partition);
    return new Promise<EnqueueResult>((resolve, reject) => {
      let batch = this.enqueueBatches.get(req.partition);
      if (!batch) {
        batch = { keys: [], ids: [], args: [k.tag, this.options.idempotencyTtlMs], waiters: [], bytes: 0 };
        this.enqueueBatches.set(req.partition, batch);
      }
      const nFields = 4 + (req.clientRef ? 2 : 0) + (req.callbackUrl ? 2 : 0) + (req.idempotencyKey ? 2 : 0);
      batch.keys.push(k.req(req.id));
      batch.ids.push(req.id);
      // ENQUEUE_FIXED_ARGS values, in the script's order, then the record's field/value pairs.
      batch.args.push(
        req.id,
        req.tenant,
        req.group,
        now,
        req.idempotencyKey ?? '',
        req.bodyHash ?? '',
        limits.tenantMax ?? 0,
        limits.tenantOpenElsewhere ?? 0,
        limits.globalMax ?? 0,
        limits.globalOpenElsewhere ?? 0,
        req.bytes,
        req.tokens,
        nFields,
        'model',
        req.model,
        'body',
        req.body,
      );
      if (req.clientRef) batch.args.push('client_ref', req.clientRef);
      if (req.callbackUrl) batch.args.push('callback_url', req.callbackUrl);
      if (req.idempotencyKey) batch.args.push('idem_key', req.idempotencyKey);
      batch.waiters.push({ resolve, reject });
      batch.bytes += req.body.length;
      if (batch.keys.length >= ENQUEUE_SLICE || batch.bytes >= ENQUEUE_SLICE_BYTES) {
        this.enqueueBatches.delete(req.partition);
        this.sendEnqueues(batch);
      } else if (!this.enqueueScheduled) {
        this.enqueueScheduled = true;
        // setImmediate runs after the poll phase: every request whose body arrived in this turn is in the call.
        setImmediate(() => {
          this.enqueueScheduled = false;
          const batches = [...this.enqueueBatches.values()];
          this.enqueueBatches.clear();
          for (const b of batches) this.sendEnqueues(b);
        });
      }
    });
  }

  private sendEnqueues(batch: EnqueueBatch): void {
    const { keys, ids, args, waiters } = batch;
    this.redis.bbEnqueueMany(keys.length, ...keys, ...args).then(
      (reply) => {
        for (let i = 0; i < waiters.length; i++) {
          const answer = reply[i];
          const waiter = waiters[i] as EnqueueBatch['waiters'][number];
          if (answer === 1) waiter.resolve({ kind: 'created', id: ids[i] as string });
          else if (answer === 'quota_tenant' || answer === 'quota_global') waiter.resolve({ kind: answer });
          else if (typeof answer === 'string' && answer.startsWith('replayed ')) {
            waiter.resolve({ kind: 'replayed', id: answer.slice(11), sameBody: answer[9] === '1' });
          } else waiter.reject(new Error(`unexpected enqueue reply ${String(answer)}`));
        }
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
      },
    );
  }

  /** Whether an Idempotency-Key of this tenant is held in this partition (a retry would be answered as a replay). */
  async idempotencyKeyHeld(p: PartitionId, tenant: string, key: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.partitionKeys(p).idem(tenant, key))) === 1;
  }

  async get(id: string): Promise<RequestRecord | undefined> {
    const p = this.partitionOf(id);
    if (p === undefined) return undefined;
    const hash = (await this.redis.hgetall(this.keys.partitionKeys(p).req(id))) as Record<string, string>;
    return parseRecord(hash);
  }

  /** Cancels a queued request of this tenant; `conflict` once it is batched or later. */
  async cancel(
    id: string,
    tenant: string,
  ): Promise<{ kind: 'cancelled'; outbox: string } | { kind: 'not_found' } | { kind: 'conflict'; status: string }> {
    const p = this.partitionOf(id);
    if (p === undefined) return { kind: 'not_found' };
    const k = this.keys.partitionKeys(p);
    const reply = await this.redis.bbCancel(k.req(id), k.tag, tenant, Date.now(), this.options.retentionMs, p);
    const kind = String(reply[0]);
    if (kind === 'cancelled') return { kind, outbox: String(reply[1]) };
    if (kind === 'conflict') return { kind, status: String(reply[1]) };
    return { kind: 'not_found' };
  }

  /** Non-terminal requests per partition (for capacity checks), and for one tenant. */
  async openCounts(tenant: string): Promise<{ global: number[]; tenant: number[] }> {
    // One MGET per partition (both keys share its hash tag), not one pipeline over all partitions: on a Redis Cluster
    // a pipeline must stay on one node. Auto-pipelining still batches these per node.
    const replies = await Promise.all(
      this.keys.allPartitions().map((p) => {
        const k = this.keys.partitionKeys(p);
        return this.redis.mget(k.open, k.openTenant(tenant));
      }),
    );
    return {
      global: replies.map((r) => Number(r[0] ?? 0)),
      tenant: replies.map((r) => Number(r[1] ?? 0)),
    };
  }

  /** Requests per non-terminal state, summed over partitions. */
  async stateCounts(): Promise<Record<(typeof OPEN_STATUSES)[number], number>> {
    const out = { queued: 0, batched: 0, submitted: 0 };
    for (const p of this.keys.allPartitions()) {
      const h = (await this.redis.hgetall(this.keys.partitionKeys(p).counts)) as Record<string, string>;
      for (const s of ['queued', 'batched', 'submitted'] as const) out[s] += Number(h[s] ?? 0);
    }
    return out;
  }

  // --- packing ---------------------------------------------------------------------------------------------------

  async groups(p: PartitionId): Promise<GroupStats[]> {
    const k = this.keys.partitionKeys(p);
    const names = (await this.redis.smembers(k.groups)) as string[];
    const out: GroupStats[] = [];
    for (const group of names) {
      const [stats, oldest, held] = await Promise.all([
        this.redis.hmget(k.group(group), 'count', 'bytes', 'tokens'),
        this.redis.zrange(k.pending(group), '0', '0', 'WITHSCORES'),
        this.redis.exists(k.hold(group)),
      ]);
      out.push({
        group,
        count: Number(stats[0] ?? 0),
        bytes: Number(stats[1] ?? 0),
        tokens: Number(stats[2] ?? 0),
        oldestAt: oldest[1] === undefined ? undefined : Number(oldest[1]),
        held: held === 1,
      });
    }
    return out;
  }

  /**
   * Claims the oldest queued requests of a group into a new flush, if a trigger fires (or `force`): each request is
   * moved atomically, in calls of at most `slice` requests (CLAIM, then CLAIM_MORE until the flush is full or the group
   * drained), so that Redis is never held for long. `afterSlice` runs between calls (a crash point of the tests).
   */
  async claim(
    p: PartitionId,
    group: string,
    flushId: string,
    limits: FlushLimits,
    force = false,
    options: { slice?: number; afterSlice?: () => void | Promise<void> } = {},
  ): Promise<ClaimResult> {
    const k = this.keys.partitionKeys(p);
    const slice = options.slice ?? CLAIM_SLICE;
    const reply = await this.redis.bbClaim(
      k.pending(group),
      k.tag,
      group,
      flushId,
      Date.now(),
      limits.maxRequests,
      limits.maxBytes,
      limits.maxTokens,
      limits.maxWaitMs,
      force ? '1' : '0',
      p,
      slice,
    );
    let count = Number(reply[0]);
    if (count === 0) return { claimed: false, why: String(reply[1]) };
    const reason = String(reply[1]);
    let outbox = String(reply[2]);
    let bytes = Number(reply[3]);
    let tokens = Number(reply[4]);
    let more = Number(reply[5]) === 1;
    while (more) {
      await options.afterSlice?.();
      const next = await this.redis.bbClaimMore(
        k.pending(group),
        k.tag,
        group,
        flushId,
        Date.now(),
        limits.maxRequests,
        limits.maxBytes,
        limits.maxTokens,
        p,
        slice,
      );
      more = String(next[1]) === 'claiming';
      outbox = String(next[2]);
      count = Number(next[3]);
      bytes = Number(next[4]);
      tokens = Number(next[5]);
    }
    return { claimed: true, flushId, count, reason, outbox, bytes, tokens };
  }

  /** Ends a flush left `claiming` by a dead packer with what it holds; true if it was still claiming. */
  async sealFlush(p: PartitionId, flushId: string): Promise<boolean> {
    return (await this.redis.bbSealFlush(this.keys.partitionKeys(p).flush(flushId))) === 1;
  }

  /** Holds a group back (e.g. after the provider's enqueued-token limit) for `ms`. */
  async holdGroup(p: PartitionId, group: string, ms: number): Promise<void> {
    await this.redis.set(this.keys.partitionKeys(p).hold(group), '1', 'PX', Math.max(1, Math.round(ms)));
  }

  async getFlush(p: PartitionId, flushId: string): Promise<FlushRecord | undefined> {
    const h = (await this.redis.hgetall(this.keys.partitionKeys(p).flush(flushId))) as Record<string, string>;
    if (!h.id) return undefined;
    return {
      id: h.id,
      partition: p,
      group: h.group ?? '',
      count: Number(h.count ?? 0),
      bytes: Number(h.bytes ?? 0),
      tokens: Number(h.tokens ?? 0),
      reason: h.reason ?? '',
      state: (h.state ?? 'claimed') as FlushRecord['state'],
      created_at: Number(h.created_at ?? 0),
      file_id: h.file_id || undefined,
      batch_id: h.batch_id || undefined,
      create_started: h.create_started === '1',
      create_started_at: h.create_started_at ? Number(h.create_started_at) : undefined,
      create_open: h.create_open === '1',
    };
  }

  /** Starts a run of a flush's job: its fencing token for the writes below (0 when the flush does not exist). */
  async leaseFlush(p: PartitionId, flushId: string): Promise<number> {
    return this.redis.bbLeaseFlush(this.keys.partitionKeys(p).flush(flushId));
  }

  /** The input file is uploaded (`claimed → uploaded`). Throws StaleFlushRunError for a run that lost its fence. */
  async recordUpload(p: PartitionId, flushId: string, fileId: string, fence: number): Promise<void> {
    await fenced(flushId, this.redis.bbRecordUpload(this.keys.partitionKeys(p).flush(flushId), fileId, fence));
  }

  /** The provider lost the input file: upload again (`uploaded → claimed`). */
  async resetUpload(p: PartitionId, flushId: string, fence: number): Promise<void> {
    await fenced(flushId, this.redis.bbResetUpload(this.keys.partitionKeys(p).flush(flushId), fence));
  }

  /** The run's `batches.create` call ended, whatever its answer. */
  async markCreateEnded(p: PartitionId, flushId: string, fence: number): Promise<void> {
    await fenced(flushId, this.redis.bbMarkCreateEnded(this.keys.partitionKeys(p).flush(flushId), fence));
  }

  /** Right before `batches.create`: a later run must look for the batch instead of creating one (I2). */
  async markCreateStarted(p: PartitionId, flushId: string, fence: number): Promise<void> {
    const key = this.keys.partitionKeys(p).flush(flushId);
    await fenced(flushId, this.redis.bbMarkCreateStarted(key, Date.now(), fence));
  }

  /** Request ids of a flush in JSONL line order, a slice at a time. */
  async flushIds(p: PartitionId, flushId: string, start: number, stop: number): Promise<string[]> {
    return (await this.redis.lrange(this.keys.partitionKeys(p).flushIds(flushId), start, stop)) as string[];
  }

  /** The tenants of some requests (same order; undefined where a record is gone), e.g. for per-request log lines. */
  async tenantsOf(p: PartitionId, ids: readonly string[]): Promise<Array<string | undefined>> {
    if (ids.length === 0) return [];
    const k = this.keys.partitionKeys(p);
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(k.req(id), 'tenant');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map((r) => (r[1] === null || r[1] === undefined ? undefined : String(r[1])));
  }

  /** The JSONL line bodies of some requests (same order; undefined where a record is gone). */
  async bodies(p: PartitionId, ids: string[]): Promise<Array<string | undefined>> {
    if (ids.length === 0) return [];
    const k = this.keys.partitionKeys(p);
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(k.req(id), 'body');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map((r) => (r[1] === null || r[1] === undefined ? undefined : String(r[1])));
  }

  /**
   * Removes ids whose record is gone from a flush's id list, so that the list stays the exact line order of the file
   * built from it (line n = index n-1); `count` follows. Idempotent. Returns the ids left.
   */
  async dropFromFlush(p: PartitionId, flushId: string, ids: readonly string[]): Promise<number> {
    const k = this.keys.partitionKeys(p);
    const multi = this.redis.multi();
    for (const id of ids) multi.lrem(k.flushIds(flushId), 0, id);
    multi.llen(k.flushIds(flushId));
    const replies = (await multi.exec()) ?? [];
    const left = Number(replies.at(-1)?.[1] ?? 0);
    await this.redis.hset(k.flush(flushId), 'count', left);
    return left;
  }

  /** Flushes claimed but not submitted, older than `olderThanMs` (recovery). */
  async staleFlushes(p: PartitionId, olderThanMs: number): Promise<string[]> {
    return (await this.redis.zrangebyscore(
      this.keys.partitionKeys(p).flushes,
      '-inf',
      Date.now() - olderThanMs,
      'LIMIT',
      0,
      100,
    )) as string[];
  }

  /**
   * Records that `batchId` holds the flush (a re-run resumes with it from then on), marks the flush's requests
   * submitted in it, then records the batch as live; returns the poll outbox entry. Every step is idempotent, so a run
   * that dies half-way is completed by the next one. `fence` is the run's token (LEASE_FLUSH); omitted, it is not
   * checked (tests and tools). `beforeFinish` runs between marking the requests and recording the batch (a crash
   * point of the tests).
   */
  async recordSubmission(
    p: PartitionId,
    flush: FlushRecord,
    batchId: string,
    fileId: string,
    fence?: number,
    options: { beforeFinish?: () => void | Promise<void> } = {},
  ): Promise<string> {
    const k = this.keys.partitionKeys(p);
    const token = fence === undefined ? '' : fence;
    await fenced(flush.id, this.redis.bbRecordCreated(k.flush(flush.id), batchId, fileId, Date.now(), token));
    const chunk = 5_000;
    // The id list, not `flush.count`: the caller's record may predate the count's last change.
    const length = await this.redis.llen(k.flushIds(flush.id));
    for (let start = 0; start < Math.max(length, flush.count); start += chunk) {
      await fenced(
        flush.id,
        this.redis.bbSubmitChunk(
          k.flush(flush.id),
          k.tag,
          flush.id,
          batchId,
          Date.now(),
          start,
          start + chunk - 1,
          token,
        ),
      );
    }
    await options.beforeFinish?.();
    const reply = await fenced(
      flush.id,
      this.redis.bbFinishSubmission(k.flush(flush.id), k.tag, flush.id, batchId, Date.now(), p, fileId, token),
    );
    return String(reply[1]);
  }

  /** Fails every request still batched in a flush (the provider refused it for good); returns outbox entries. */
  async failFlush(p: PartitionId, flushId: string, message: string, fence?: number): Promise<string[]> {
    const k = this.keys.partitionKeys(p);
    const error = JSON.stringify({ code: 'provider_rejected', message });
    return fenced(
      flushId,
      this.redis.bbFailFlush(
        k.flush(flushId),
        k.tag,
        flushId,
        Date.now(),
        error,
        this.options.retentionMs,
        p,
        fence === undefined ? '' : fence,
      ),
    );
  }

  // --- batches and results -----------------------------------------------------------------------------------------

  async getBatch(p: PartitionId, batchId: string): Promise<BatchRecord | undefined> {
    const h = (await this.redis.hgetall(this.keys.partitionKeys(p).batch(batchId))) as Record<string, string>;
    if (!h.id) return undefined;
    return {
      id: h.id,
      flush_id: h.flush_id ?? '',
      group: h.group ?? '',
      count: Number(h.count ?? 0),
      submitted_at: Number(h.submitted_at ?? 0),
      status: h.status ?? 'submitted',
      file_id: h.file_id || undefined,
      routed_at: h.routed_at ? Number(h.routed_at) : undefined,
      outcomes:
        h.n_completed === undefined
          ? undefined
          : { completed: Number(h.n_completed), failed: Number(h.n_failed ?? 0), retried: Number(h.n_retried ?? 0) },
    };
  }

  /** Routed batches of a partition, most recently routed first (records gone after retention are left out). */
  async recentBatches(p: PartitionId, limit = 50): Promise<BatchRecord[]> {
    const ids = (await this.redis.zrevrange(this.keys.partitionKeys(p).recentBatches, 0, limit - 1)) as string[];
    const records = await Promise.all(ids.map((id) => this.getBatch(p, id)));
    return records.filter((b): b is BatchRecord => b !== undefined);
  }

  async liveBatches(p: PartitionId): Promise<string[]> {
    return (await this.redis.zrange(this.keys.partitionKeys(p).batches, '0', '-1')) as string[];
  }

  async updateBatch(p: PartitionId, batchId: string, fields: Record<string, string | number>): Promise<void> {
    await this.redis.hset(this.keys.partitionKeys(p).batch(batchId), fields);
  }

  /**
   * The batch is fully routed: no longer live; its flush's id list is no longer needed after retention. It joins the
   * partition's recent batches (operator page), with its requests' outcomes when the caller counted them.
   */
  async finishBatch(p: PartitionId, batch: BatchRecord, status: string, outcomes?: BatchOutcomes): Promise<void> {
    const k = this.keys.partitionKeys(p);
    const now = Date.now();
    const fields: Array<string | number> = ['status', status, 'routed_at', now];
    if (outcomes) {
      fields.push('n_completed', outcomes.completed, 'n_failed', outcomes.failed, 'n_retried', outcomes.retried);
    }
    await this.redis
      .multi()
      .hset(k.batch(batch.id), ...fields)
      .zrem(k.batches, batch.id)
      .zadd(k.recentBatches, now, batch.id)
      .zremrangebyrank(k.recentBatches, 0, -RECENT_BATCHES - 1)
      .pexpire(k.batch(batch.id), this.options.retentionMs)
      .pexpire(k.flush(batch.flush_id), this.options.retentionMs)
      .pexpire(k.flushIds(batch.flush_id), this.options.retentionMs)
      .exec();
  }

  /**
   * Applies routed results; each item is one request of `batchId`. Returns the outcome per item and the outbox entries
   * written (delivery jobs). Items for requests not submitted in this batch are 'stale' and change nothing.
   */
  async settle(
    p: PartitionId,
    batchId: string,
    items: Array<{ id: string; kind: SettleKind; response?: unknown; message?: string; group?: string }>,
  ): Promise<{ outcomes: SettleOutcome[]; outbox: string[] }> {
    const k = this.keys.partitionKeys(p);
    const now = Date.now();
    const { maxAttempts, retentionMs } = this.options;
    const slices: Array<Promise<string[]>> = [];
    for (let start = 0; start < items.length; start += SETTLE_SLICE) {
      const slice = items.slice(start, start + SETTLE_SLICE);
      const keys = slice.map((item) => k.req(item.id));
      const args: Array<string | number> = [k.tag, batchId, now, maxAttempts, retentionMs, p];
      for (const item of slice) {
        // SETTLE_ITEM_ARGS values per item, in the script's order.
        args.push(
          item.kind,
          item.response === undefined ? '' : JSON.stringify(item.response),
          item.message ?? '',
          item.group ?? '',
        );
      }
      slices.push(this.redis.bbSettleMany(keys.length, ...keys, ...args));
    }
    const outbox: string[] = [];
    const outcomes: SettleOutcome[] = [];
    for (const reply of await Promise.all(slices)) {
      for (let i = 0; i < reply.length; i += 2) {
        outcomes.push(String(reply[i]) as SettleOutcome);
        const member = reply[i + 1];
        if (member) outbox.push(String(member));
      }
    }
    return { outcomes, outbox };
  }

  // --- delivery ----------------------------------------------------------------------------------------------------

  /**
   * The webhook body of an outcome, fixed the first time it is built so that every attempt sends the same bytes. A
   * record that has expired is not written again (it would have no TTL): the body is built and sent as it is.
   */
  async webhookBody(p: PartitionId, id: string, build: () => string): Promise<string> {
    const key = this.keys.partitionKeys(p).req(id);
    const candidate = build();
    // 1: ours is now the stored body (the common case: first attempt), no need to read it back; -1: no record.
    const set = await this.redis.bbHsetnxIfRecord(key, 'webhook_body', candidate);
    if (set !== 0) return candidate;
    const stored = await this.redis.hget(key, 'webhook_body');
    return stored ?? candidate;
  }

  webhookId(id: string): string {
    return webhookIdFor(id);
  }

  /** A 2xx: answers true only for the first successful delivery (turnaround metric); redeliveries answer false. */
  async markDelivered(p: PartitionId, id: string): Promise<boolean> {
    const k = this.keys.partitionKeys(p);
    return (await this.redis.bbMarkDelivered(k.req(id), k.dead, id, Date.now(), k.undelivered)) === 1;
  }

  /**
   * The receiver answered 410 Gone: no further attempts. Recorded on the request (like `delivered_at` for a 2xx) so that
   * a delivery job re-run after its completion was lost does not send again; a redeliver still can.
   */
  async markGone(p: PartitionId, id: string): Promise<void> {
    const k = this.keys.partitionKeys(p);
    await this.redis.bbMarkGone(k.req(id), k.undelivered, id, Date.now());
  }

  async markDead(p: PartitionId, id: string): Promise<void> {
    const k = this.keys.partitionKeys(p);
    await this.redis.bbMarkDead(k.req(id), k.dead, id, Date.now(), k.undelivered);
  }

  /** Finished requests whose outcome was neither delivered, gone nor dead-lettered, finished before `beforeMs`. */
  async undeliveredBefore(p: PartitionId, beforeMs: number, limit = 200): Promise<string[]> {
    const key = this.keys.partitionKeys(p).undelivered;
    return (await this.redis.zrangebyscore(key, '-inf', beforeMs, 'LIMIT', 0, limit)) as string[];
  }

  /** Takes a request out of the undelivered index (its record expired, or its outcome is recorded after all). */
  async forgetUndelivered(p: PartitionId, id: string): Promise<void> {
    await this.redis.zrem(this.keys.partitionKeys(p).undelivered, id);
  }

  async deadLetters(p: PartitionId, limit = 100): Promise<string[]> {
    return (await this.redis.zrevrange(this.keys.partitionKeys(p).dead, 0, limit - 1)) as string[];
  }

  // --- savings (estimate) -------------------------------------------------------------------------------------------

  /** Adds estimated savings; money is kept in integer micro-dollars so that many small additions do not drift. */
  async addSavings(entries: readonly ModelSavings[]): Promise<void> {
    if (entries.length === 0) return;
    const multi = this.redis.multi();
    const key = this.keys.savings();
    for (const e of entries) {
      multi.hincrby(key, `usd_micro:${e.model}`, Math.round(e.usd * 1e6));
      multi.hincrby(key, `in:${e.model}`, e.inputTokens);
      multi.hincrby(key, `out:${e.model}`, e.outputTokens);
    }
    await multi.exec();
  }

  /** Estimated savings per model so far, largest first. */
  async savings(): Promise<ModelSavings[]> {
    const h = (await this.redis.hgetall(this.keys.savings())) as Record<string, string>;
    const byModel = new Map<string, ModelSavings>();
    const entry = (model: string) => {
      let e = byModel.get(model);
      if (!e) {
        e = { model, usd: 0, inputTokens: 0, outputTokens: 0 };
        byModel.set(model, e);
      }
      return e;
    };
    for (const [field, value] of Object.entries(h)) {
      const colon = field.indexOf(':');
      const kind = field.slice(0, colon);
      const model = field.slice(colon + 1);
      if (kind === 'usd_micro') entry(model).usd = Number(value) / 1e6;
      else if (kind === 'in') entry(model).inputTokens = Number(value);
      else if (kind === 'out') entry(model).outputTokens = Number(value);
    }
    return [...byModel.values()].sort((a, b) => b.usd - a.usd);
  }

  /**
   * Dead letters still waiting for a redeliver, all partitions. Drops, on the way, those whose record has expired
   * (the oldest first, up to `pruneScan` per partition per call), so the set never outlives the records (issue 16.10).
   */
  async deadLetterCount(pruneScan = 200): Promise<number> {
    let n = 0;
    for (const p of this.keys.allPartitions()) {
      const k = this.keys.partitionKeys(p);
      n += await this.redis.bbPruneDead(k.dead, k.req(''), pruneScan);
    }
    return n;
  }
}

export { REQUEST_STATUSES };
