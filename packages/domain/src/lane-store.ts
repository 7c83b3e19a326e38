/**
 * Deadlines and lanes (SPEC §10): the deadline index of queued requests, the claim of a queued request by a fast lane
 * (flex or realtime; `lane-claim-1.lua`), the observed batch turnarounds the scheduler predicts with, and the
 * realtime/flex budget every replica shares (`lane-acquire-3.lua`).
 */
import type { PartitionId } from './keys.js';
import type { StoreContext } from './store-context.js';

/** A lane other than the Batch API. */
export type FastLane = 'flex' | 'realtime';

export type LaneClaim = { claimed: true; runId: string; outbox: string } | { claimed: false; status: string };

/** Turnaround samples kept per provider and model. */
export const TURNAROUND_SAMPLES = 50;
/** Escalation cancel delays kept per provider. */
export const CANCEL_DELAY_SAMPLES = 20;

/** The budget of a provider's synchronous calls (0 or undefined = no limit). */
export interface LaneBudget {
  rpm?: number | undefined;
  tpm?: number | undefined;
  concurrency?: number | undefined;
}

/** The fields of a queued request the scheduler reads. */
export interface DeadlineCandidate {
  id: string;
  deadlineAt: number;
  status: string | undefined;
  group: string;
  tenant: string;
  tokens: number;
}

/** A request of the live-deadline index (ESCALATE_CANCEL_BATCHES) as the escalation pass reads it. */
export interface LiveDeadline {
  id: string;
  deadlineAt: number;
  status: string | undefined;
  /** The provider batch (or lane run) that holds it. */
  batchId: string | undefined;
  group: string;
  tenant: string;
}

export class LaneStore {
  private readonly ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /** Moves a queued request to a fast lane; `claimed: false` (with its status) when it is not queued any more. */
  async claim(p: PartitionId, id: string, lane: FastLane): Promise<LaneClaim> {
    const k = this.ctx.keys.partitionKeys(p);
    const reply = await this.ctx.redis.bbLaneClaim(
      k.req(id),
      JSON.stringify({ tag: k.tag, lane, now: Date.now(), partition: p }),
    );
    if (reply[0] === 'claimed') return { claimed: true, runId: String(reply[1]), outbox: String(reply[2]) };
    return { claimed: false, status: String(reply[1] ?? '') };
  }

  /**
   * Moves a queued request from `from` to the same group in a faster completion window, `to` (`lane-window-1.lua`);
   * false (and nothing changed) when it is not queued in `from` any more.
   */
  async moveToWindow(p: PartitionId, id: string, from: string, to: string): Promise<boolean> {
    const k = this.ctx.keys.partitionKeys(p);
    const reply = await this.ctx.redis.bbLaneWindow(
      k.req(id),
      JSON.stringify({ tag: k.tag, from, to, now: Date.now() }),
    );
    return reply[0] === 'moved';
  }

  /** Queued requests whose deadline is before `untilMs`, earliest first, at most `limit` (the scheduler's pass). */
  async due(p: PartitionId, untilMs: number | '+inf', limit: number): Promise<DeadlineCandidate[]> {
    const k = this.ctx.keys.partitionKeys(p);
    const flat = (await this.ctx.redis.zrangebyscore(
      k.deadlines,
      '-inf',
      untilMs,
      'WITHSCORES',
      'LIMIT',
      0,
      limit,
    )) as string[];
    const out: DeadlineCandidate[] = [];
    const reads: Array<Promise<Array<string | null>>> = [];
    for (let i = 0; i < flat.length; i += 2) {
      reads.push(this.ctx.redis.hmget(k.req(flat[i] as string), 'status', 'group', 'tenant', 'tokens'));
    }
    const fields = await Promise.all(reads);
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i] as Array<string | null>;
      out.push({
        id: flat[2 * i] as string,
        deadlineAt: Number(flat[2 * i + 1]),
        status: f[0] ?? undefined,
        group: f[1] ?? '',
        tenant: f[2] ?? '',
        tokens: Number(f[3] ?? 0),
      });
    }
    return out;
  }

  /**
   * Takes a request out of the deadline index (seen not queued: a packer claimed it). Index upkeep only, no state:
   * a request sent back to the queue by its batch is put back by the settle script.
   */
  async unindex(p: PartitionId, id: string): Promise<void> {
    await this.ctx.redis.zrem(this.ctx.keys.partitionKeys(p).deadlines, id);
  }

  /**
   * Moves a request seen in a flush or a live batch from the deadline index to the live-deadline index (the escalation
   * pass's list; ESCALATE_CANCEL_BATCHES only). Index upkeep only.
   */
  async toLive(p: PartitionId, id: string, deadlineAt: number): Promise<void> {
    const k = this.ctx.keys.partitionKeys(p);
    await this.ctx.redis.multi().zadd(k.liveDeadlines, deadlineAt, id).zrem(k.deadlines, id).exec();
  }

  /** The earliest `limit` deadlines of the live-deadline index, with what the escalation pass needs of each. */
  async liveDue(p: PartitionId, limit: number): Promise<LiveDeadline[]> {
    const k = this.ctx.keys.partitionKeys(p);
    const flat = (await this.ctx.redis.zrange(k.liveDeadlines, '0', String(limit - 1), 'WITHSCORES')) as string[];
    const reads: Array<Promise<Array<string | null>>> = [];
    for (let i = 0; i < flat.length; i += 2) {
      reads.push(this.ctx.redis.hmget(k.req(flat[i] as string), 'status', 'batch_id', 'group', 'tenant'));
    }
    const fields = await Promise.all(reads);
    return fields.map((f, i) => ({
      id: flat[2 * i] as string,
      deadlineAt: Number(flat[2 * i + 1]),
      status: f[0] ?? undefined,
      batchId: f[1] ?? undefined,
      group: f[2] ?? '',
      tenant: f[3] ?? '',
    }));
  }

  /** Takes requests out of the live-deadline index (seen settled, queued again or on a lane: index upkeep only). */
  async unindexLive(p: PartitionId, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.ctx.redis.zrem(this.ctx.keys.partitionKeys(p).liveDeadlines, ...ids);
  }

  /**
   * Marks a live batch for cancellation and its at-risk requests with the lane each is to take once the cancel is
   * confirmed (`escalate-batch.lua`); the provider is asked to cancel after this, never before.
   */
  async markEscalated(
    p: PartitionId,
    batchId: string,
    requests: ReadonlyArray<{ id: string; lane: FastLane }>,
  ): Promise<{ marked: boolean; requests: number }> {
    const k = this.ctx.keys.partitionKeys(p);
    const keys = [k.batch(batchId), ...requests.map((r) => k.req(r.id))];
    const options = JSON.stringify({ batchId, now: Date.now(), lanes: requests.map((r) => r.lane) });
    const [state, n] = await this.ctx.redis.bbEscalateBatch(keys.length, ...keys, options);
    return { marked: state === 'marked', requests: Number(n) };
  }

  /** Requests a fast lane claimed before `beforeMs` and has not settled (the lane sweep). */
  async runsBefore(p: PartitionId, beforeMs: number, limit: number): Promise<string[]> {
    const k = this.ctx.keys.partitionKeys(p);
    return (await this.ctx.redis.zrangebyscore(k.laneRuns, '-inf', beforeMs, 'LIMIT', 0, limit)) as string[];
  }

  /** Takes a request out of the lane runs (seen settled or claimed again: index upkeep only). */
  async dropRun(p: PartitionId, id: string): Promise<void> {
    await this.ctx.redis.zrem(this.ctx.keys.partitionKeys(p).laneRuns, id);
  }

  /** What the scheduler needs of a group: queued count, oldest enqueue time, and how long a hold still lasts. */
  async groupTiming(
    p: PartitionId,
    group: string,
  ): Promise<{ count: number; oldestAt: number | undefined; holdMs: number }> {
    const k = this.ctx.keys.partitionKeys(p);
    const [count, oldest, hold] = await Promise.all([
      this.ctx.redis.hget(k.group(group), 'count'),
      this.ctx.redis.zrange(k.pending(group), '0', '0', 'WITHSCORES'),
      this.ctx.redis.pttl(k.hold(group)),
    ]);
    return {
      count: Number(count ?? 0),
      oldestAt: oldest[1] === undefined ? undefined : Number(oldest[1]),
      holdMs: Math.max(0, Number(hold)),
    };
  }

  /** Records a batch's turnaround (submitted → routed, ms) for its provider and model. */
  async recordTurnaround(providerId: string, model: string, ms: number): Promise<void> {
    const key = this.ctx.keys.turnaround(providerId, model);
    await this.ctx.redis
      .multi()
      .lpush(key, String(Math.max(0, Math.round(ms))))
      .ltrim(key, 0, TURNAROUND_SAMPLES - 1)
      .exec();
  }

  /** The recent turnarounds of a provider and model (ms), newest first. */
  async turnarounds(providerId: string, model: string): Promise<number[]> {
    const raw = (await this.ctx.redis.lrange(this.ctx.keys.turnaround(providerId, model), 0, -1)) as string[];
    return raw.map(Number).filter((n) => Number.isFinite(n));
  }

  /**
   * Records how long a cancel asked by the escalation pass took to free its requests (marked → the cancelled batch
   * routed, ms): what the pass expects of the provider's next cancel.
   */
  async recordCancelDelay(providerId: string, ms: number): Promise<void> {
    const key = this.ctx.keys.cancelDelay(providerId);
    await this.ctx.redis
      .multi()
      .lpush(key, String(Math.max(0, Math.round(ms))))
      .ltrim(key, 0, CANCEL_DELAY_SAMPLES - 1)
      .exec();
  }

  /** The recent cancel delays of a provider (ms), newest first. */
  async cancelDelays(providerId: string): Promise<number[]> {
    const raw = (await this.ctx.redis.lrange(this.ctx.keys.cancelDelay(providerId), 0, -1)) as string[];
    return raw.map(Number).filter((n) => Number.isFinite(n));
  }

  /**
   * Takes one call of a provider's budget for `lane` (shared by every replica); `waitMs` says when to ask again.
   * `member` is the call's lease in the in-flight set (released by `release`, or ending by itself after `leaseMs`).
   */
  async acquire(
    providerId: string,
    lane: FastLane,
    budget: LaneBudget,
    call: { member: string; tokens: number; leaseMs: number },
  ): Promise<{ ok: true } | { ok: false; waitMs: number }> {
    const now = Date.now();
    const minute = Math.floor(now / 60_000);
    const reply = await this.ctx.redis.bbLaneAcquire(
      this.ctx.keys.laneBudget(providerId, minute),
      this.ctx.keys.laneInflight(providerId),
      this.ctx.keys.laneBackoff(providerId, lane),
      JSON.stringify({
        now,
        rpm: budget.rpm ?? 0,
        tpm: budget.tpm ?? 0,
        concurrency: budget.concurrency ?? 0,
        tokens: call.tokens,
        member: call.member,
        leaseMs: call.leaseMs,
        minuteEnd: (minute + 1) * 60_000,
      }),
    );
    return Number(reply[0]) === 1 ? { ok: true } : { ok: false, waitMs: Number(reply[1]) };
  }

  /** Ends a call's lease in the provider's in-flight set. */
  async release(providerId: string, member: string): Promise<void> {
    await this.ctx.redis.zrem(this.ctx.keys.laneInflight(providerId), member);
  }

  /** The provider answered 429 on this lane: every replica waits `ms` before its next call there. */
  async backOff(providerId: string, lane: FastLane, ms: number): Promise<void> {
    await this.ctx.redis.set(this.ctx.keys.laneBackoff(providerId, lane), '1', 'PX', Math.max(1, Math.round(ms)));
  }

  /** Calls in flight at a provider now (operators, tests). */
  async inflight(providerId: string): Promise<number> {
    return Number(await this.ctx.redis.zcount(this.ctx.keys.laneInflight(providerId), Date.now(), '+inf'));
  }

  /** Counts what the escalation pass did in a partition (`T:escalation-stats`; every replica adds to it). */
  async countEscalation(
    p: PartitionId,
    what:
      | { cancel: 'requested' | 'refused' | 'error'; provider: string }
      | { lane: FastLane; provider: string; n: number },
  ): Promise<void> {
    const key = this.ctx.keys.partitionKeys(p).escalationStats;
    if ('cancel' in what) await this.ctx.redis.hincrby(key, `cancels|${what.provider}|${what.cancel}`, 1);
    else await this.ctx.redis.hincrby(key, `requests|${what.provider}|${what.lane}`, what.n);
  }

  /** What the escalation pass did in a partition: `cancels|<provider>|<result>`, `requests|<provider>|<lane>`. */
  async escalationStats(p: PartitionId): Promise<Record<string, number>> {
    const raw = (await this.ctx.redis.hgetall(this.ctx.keys.partitionKeys(p).escalationStats)) as Record<
      string,
      string
    >;
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }

  /** Deadlines met and missed in a partition: `<lane>|met|<group>` → count. */
  async deadlineStats(p: PartitionId): Promise<Record<string, number>> {
    const raw = (await this.ctx.redis.hgetall(this.ctx.keys.partitionKeys(p).deadlineStats)) as Record<string, string>;
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }
}

/** The p-th percentile (0–100) of samples, nearest rank; undefined for none. */
export function percentile(samples: readonly number[], p: number): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}
