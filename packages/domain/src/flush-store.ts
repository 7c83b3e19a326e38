/**
 * The flush aggregate: packing groups, claiming their requests into flushes, and a flush's way to a provider batch
 * (hash `T:flush:<id>`, states and moves in lifecycle.ts FLUSH_TRANSITIONS). Every state change goes through a script
 * of `scripts/`, which checks the move (flush_move) and the run's fencing token (fence_check).
 */
import type { PartitionId } from './keys.js';
import type { FlushState } from './lifecycle.js';
import { fenceArg, type StoreContext } from './store-context.js';

export interface GroupStats {
  group: string;
  count: number;
  bytes: number;
  tokens: number;
  /** Inputs of its queued requests (countInputs). */
  inputs: number;
  oldestAt: number | undefined;
  held: boolean;
}

export interface FlushLimits {
  maxRequests: number;
  maxBytes: number;
  maxTokens: number;
  /** Inputs per flush across its requests (OpenAI: 50 000 embedding inputs per batch). @defaultValue unbounded */
  maxInputs?: number | undefined;
  maxWaitMs: number;
}

/**
 * `outbox` is the flush job's outbox entry to relay; empty when there is none to relay (the flush was sealed by
 * recovery while this claim was still adding to it: recovery re-added its job).
 */
export type ClaimResult =
  | {
      claimed: true;
      flushId: string;
      count: number;
      reason: string;
      bytes: number;
      tokens: number;
      inputs: number;
      outbox: string;
    }
  | { claimed: false; why: string };

/** Requests moved into a flush per claim / claim-more call: about 40 ms of Redis time each, instead of about 0.9 s for
 * a 50 000-request flush in one call (measured on the 2-core box), during which intake's 1 s command timeout runs. */
export const CLAIM_SLICE = 2_000;

export interface FlushRecord {
  id: string;
  partition: PartitionId;
  group: string;
  count: number;
  bytes: number;
  tokens: number;
  inputs: number;
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
  /** The provider the packer chose for it (SPEC §11); undefined until chosen (the group's provider then). */
  provider: string | undefined;
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

/** Requests marked submitted per submit-chunk call. */
const SUBMIT_CHUNK = 5_000;

export class FlushStore {
  private readonly ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  // --- packing groups ----------------------------------------------------------------------------------------------

  async groups(p: PartitionId): Promise<GroupStats[]> {
    const { redis } = this.ctx;
    const k = this.ctx.keys.partitionKeys(p);
    const names = (await redis.smembers(k.groups)) as string[];
    const out: GroupStats[] = [];
    for (const group of names) {
      const [stats, oldest, held] = await Promise.all([
        redis.hmget(k.group(group), 'count', 'bytes', 'tokens', 'inputs'),
        redis.zrange(k.pending(group), '0', '0', 'WITHSCORES'),
        redis.exists(k.hold(group)),
      ]);
      out.push({
        group,
        count: Number(stats[0] ?? 0),
        bytes: Number(stats[1] ?? 0),
        tokens: Number(stats[2] ?? 0),
        inputs: Number(stats[3] ?? 0),
        oldestAt: oldest[1] === undefined ? undefined : Number(oldest[1]),
        held: held === 1,
      });
    }
    return out;
  }

  /** Holds a group back (e.g. after the provider's enqueued-token limit) for `ms`. */
  async holdGroup(p: PartitionId, group: string, ms: number): Promise<void> {
    await this.ctx.redis.set(this.ctx.keys.partitionKeys(p).hold(group), '1', 'PX', Math.max(1, Math.round(ms)));
  }

  // --- claiming ----------------------------------------------------------------------------------------------------

  /**
   * Claims the oldest queued requests of a group into a new flush, if a trigger fires (or `force`): each request is
   * moved atomically, in calls of at most `slice` requests (claim, then claim-more until the flush is full or the
   * group drained), so that Redis is never held for long. `afterSlice` runs between calls (a crash point of the tests).
   */
  async claim(
    p: PartitionId,
    group: string,
    flushId: string,
    limits: FlushLimits,
    force = false,
    options: { slice?: number; afterSlice?: () => void | Promise<void> } = {},
  ): Promise<ClaimResult> {
    const { redis } = this.ctx;
    const k = this.ctx.keys.partitionKeys(p);
    const slice = options.slice ?? CLAIM_SLICE;
    const common = {
      tag: k.tag,
      group,
      flushId,
      maxCount: limits.maxRequests,
      maxBytes: limits.maxBytes,
      maxTokens: limits.maxTokens,
      ...(limits.maxInputs === undefined ? {} : { maxInputs: limits.maxInputs }),
      partition: p,
      slice,
    };
    const reply = await redis.bbClaim(
      k.pending(group),
      JSON.stringify({ ...common, now: Date.now(), maxWait: limits.maxWaitMs, force }),
    );
    let count = Number(reply[0]);
    if (count === 0) return { claimed: false, why: String(reply[1]) };
    const reason = String(reply[1]);
    let outbox = String(reply[2]);
    let bytes = Number(reply[3]);
    let tokens = Number(reply[4]);
    let more = Number(reply[5]) === 1;
    let inputs = Number(reply[6]);
    while (more) {
      await options.afterSlice?.();
      const next = await redis.bbClaimMore(k.pending(group), JSON.stringify({ ...common, now: Date.now() }));
      more = String(next[1]) === 'claiming';
      outbox = String(next[2]);
      count = Number(next[3]);
      bytes = Number(next[4]);
      tokens = Number(next[5]);
      inputs = Number(next[6]);
    }
    return { claimed: true, flushId, count, reason, outbox, bytes, tokens, inputs };
  }

  /** Ends a flush left `claiming` by a dead packer with what it holds; true if it was still claiming. */
  async seal(p: PartitionId, flushId: string): Promise<boolean> {
    return (await this.ctx.redis.bbSealFlush(this.key(p, flushId))) === 1;
  }

  // --- reading -----------------------------------------------------------------------------------------------------

  async get(p: PartitionId, flushId: string): Promise<FlushRecord | undefined> {
    const h = (await this.ctx.redis.hgetall(this.key(p, flushId))) as Record<string, string>;
    if (!h.id) return undefined;
    return {
      id: h.id,
      partition: p,
      group: h.group ?? '',
      count: Number(h.count ?? 0),
      bytes: Number(h.bytes ?? 0),
      tokens: Number(h.tokens ?? 0),
      inputs: Number(h.inputs ?? 0),
      reason: h.reason ?? '',
      state: (h.state ?? 'claimed') as FlushRecord['state'],
      created_at: Number(h.created_at ?? 0),
      file_id: h.file_id || undefined,
      batch_id: h.batch_id || undefined,
      create_started: h.create_started === '1',
      create_started_at: h.create_started_at ? Number(h.create_started_at) : undefined,
      create_open: h.create_open === '1',
      provider: h.provider || undefined,
    };
  }

  /** Request ids of a flush in JSONL line order, a slice at a time. */
  async ids(p: PartitionId, flushId: string, start: number, stop: number): Promise<string[]> {
    return (await this.ctx.redis.lrange(this.ctx.keys.partitionKeys(p).flushIds(flushId), start, stop)) as string[];
  }

  /** Flushes claimed but not submitted, older than `olderThanMs` (recovery). */
  async stale(p: PartitionId, olderThanMs: number): Promise<string[]> {
    return (await this.ctx.redis.zrangebyscore(
      this.ctx.keys.partitionKeys(p).flushes,
      '-inf',
      Date.now() - olderThanMs,
      'LIMIT',
      0,
      100,
    )) as string[];
  }

  // --- a flush job run ---------------------------------------------------------------------------------------------

  /** Starts a run of a flush's job: its fencing token for the writes below (0 when the flush does not exist). */
  async lease(p: PartitionId, flushId: string): Promise<number> {
    return this.ctx.redis.bbLeaseFlush(this.key(p, flushId));
  }

  /**
   * Removes ids whose record is gone from a flush's id list, so that the list stays the exact line order of the file
   * built from it (line n = index n-1); `count` follows. Idempotent. Returns the ids left.
   */
  async drop(p: PartitionId, flushId: string, ids: readonly string[]): Promise<number> {
    const k = this.ctx.keys.partitionKeys(p);
    const options = JSON.stringify({ tag: k.tag, flushId });
    return this.ctx.redis.bbDropFromFlush(k.flush(flushId), options, ...ids);
  }

  /** The input file is uploaded (`claimed → uploaded`). Throws StaleFlushRunError for a run that lost its fence. */
  async recordUpload(p: PartitionId, flushId: string, fileId: string, fence: number): Promise<void> {
    const options = JSON.stringify({ fileId, fence: fenceArg(fence) });
    await fenced(flushId, this.ctx.redis.bbRecordUpload(this.key(p, flushId), options));
  }

  /**
   * The provider this flush goes to, recorded before its upload or create (SPEC §11); changing it forgets an upload to
   * the earlier one. Returns whether it changed. Throws StaleFlushRunError for a run that lost its fence.
   */
  async setProvider(p: PartitionId, flushId: string, provider: string, fence: number): Promise<boolean> {
    const options = JSON.stringify({ provider, fence: fenceArg(fence) });
    return (await fenced(flushId, this.ctx.redis.bbSetFlushProvider(this.key(p, flushId), options))) === 1;
  }

  /** The provider lost the input file: upload again (`uploaded → claimed`). */
  async resetUpload(p: PartitionId, flushId: string, fence: number): Promise<void> {
    const options = JSON.stringify({ fence: fenceArg(fence) });
    await fenced(flushId, this.ctx.redis.bbResetUpload(this.key(p, flushId), options));
  }

  /** Right before `batches.create`: a later run must look for the batch instead of creating one (I2). */
  async markCreateStarted(p: PartitionId, flushId: string, fence: number): Promise<void> {
    const options = JSON.stringify({ now: Date.now(), fence: fenceArg(fence) });
    await fenced(flushId, this.ctx.redis.bbMarkCreateStarted(this.key(p, flushId), options));
    // A failover that lost this mark would let a later run create a second paid batch.
    await this.ctx.confirm();
  }

  /** The run's `batches.create` call ended, whatever its answer. */
  async markCreateEnded(p: PartitionId, flushId: string, fence: number): Promise<void> {
    const options = JSON.stringify({ fence: fenceArg(fence) });
    await fenced(flushId, this.ctx.redis.bbMarkCreateEnded(this.key(p, flushId), options));
  }

  /**
   * Records that `batchId` holds the flush (a re-run resumes with it from then on), marks the flush's requests
   * submitted in it, then records the batch as live; returns the poll outbox entry. Every step is idempotent, so a run
   * that dies half-way is completed by the next one. `fence` is the run's token (lease); omitted, it is not checked
   * (tests and tools). `beforeFinish` runs between marking the requests and recording the batch (a crash point of the
   * tests).
   */
  async recordSubmission(
    p: PartitionId,
    flush: FlushRecord,
    batchId: string,
    fileId: string,
    fence?: number,
    options: { beforeFinish?: () => void | Promise<void> } = {},
  ): Promise<string> {
    const { redis } = this.ctx;
    const k = this.ctx.keys.partitionKeys(p);
    const key = k.flush(flush.id);
    const token = fenceArg(fence);
    await fenced(
      flush.id,
      redis.bbRecordCreated(key, JSON.stringify({ batchId, fileId, now: Date.now(), fence: token })),
    );
    // The id list, not `flush.count`: the caller's record may predate the count's last change.
    const length = await redis.llen(k.flushIds(flush.id));
    for (let start = 0; start < Math.max(length, flush.count); start += SUBMIT_CHUNK) {
      const chunk = { tag: k.tag, flushId: flush.id, batchId, now: Date.now(), start, stop: start + SUBMIT_CHUNK - 1 };
      await fenced(flush.id, redis.bbSubmitChunk(key, JSON.stringify({ ...chunk, fence: token })));
    }
    await options.beforeFinish?.();
    const finish = { tag: k.tag, flushId: flush.id, batchId, now: Date.now(), partition: p, fileId, fence: token };
    const reply = await fenced(flush.id, redis.bbFinishSubmission(key, JSON.stringify(finish)));
    await this.ctx.confirm();
    return String(reply[1]);
  }

  /** Fails every request still batched in a flush (the provider refused it for good); returns outbox entries. */
  async fail(p: PartitionId, flushId: string, message: string, fence?: number): Promise<string[]> {
    const k = this.ctx.keys.partitionKeys(p);
    const options = {
      tag: k.tag,
      flushId,
      now: Date.now(),
      error: JSON.stringify({ code: 'provider_rejected', message }),
      retention: this.ctx.options.retentionMs,
      partition: p,
      fence: fenceArg(fence),
    };
    const members = await fenced(flushId, this.ctx.redis.bbFailFlush(k.flush(flushId), JSON.stringify(options)));
    // Before the failures are told (their delivery jobs relayed): an outcome sent must survive the master's loss.
    await this.ctx.confirm();
    return members;
  }

  private key(p: PartitionId, flushId: string): string {
    return this.ctx.keys.partitionKeys(p).flush(flushId);
  }
}
