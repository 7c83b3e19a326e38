/**
 * Outcome deliveries, claimed in bulk (issue 26): per partition, a zset of deliveries due (`T:dlv:due`, score = next
 * attempt time, ms), a zset of claimed ones (`T:dlv:lease`, score = lease end) and the attempts made per delivery
 * (`T:dlv:tries`). The settle and cancel scripts make a finished request's delivery due in the same atomic step that
 * finishes it (finish.lua); a dispatcher claims up to N at a time with one script call (dlv-claim), sends them, and
 * completes a whole batch of them with one more (dlv-complete): delivered, stopped, dead-lettered (ended), retried or
 * parked (due again later). A dispatcher that dies holding claims loses them when their lease ends: the next claim of
 * any dispatcher moves them back to due, and they are sent again under the same `webhook-id` (the request's).
 *
 * A delivery member is the request id (its first delivery and the retries of it) or `r:<requestId>` (a redeliver,
 * which also sends an outcome that was delivered already).
 */
import type { PartitionId } from './keys.js';
import { parseRecord, type RequestRecord } from './request-record.js';
import type { StoreContext } from './store-context.js';

const REDELIVER = 'r:';

/** The delivery member of a request's outcome: its first delivery, or a redeliver. */
export function deliveryMember(requestId: string, redeliver = false): string {
  return redeliver ? REDELIVER + requestId : requestId;
}

/** The request id and kind of a delivery member. */
export function parseDeliveryMember(member: string): { requestId: string; redeliver: boolean } {
  return member.startsWith(REDELIVER)
    ? { requestId: member.slice(REDELIVER.length), redeliver: true }
    : { requestId: member, redeliver: false };
}

export interface ClaimedDelivery {
  member: string;
  requestId: string;
  redeliver: boolean;
  /** Attempts made before this claim (0: the first). */
  attemptsMade: number;
  /** The lease end of this claim: its fence when completing it. */
  fence: number;
  /**
   * The request's record as the claim read it (claimed `withRecords`; without `body`, `last_error` and the packing
   * sizes, which no delivery reads): null when the record is gone, absent when not read.
   */
  record?: RequestRecord | null;
  /** When `record` was read (ms). */
  readAt?: number;
}

export interface DeliveryClaim {
  deliveries: ClaimedDelivery[];
  /** When the next delivery is due (ms), when fewer than asked were claimed; undefined: none is. */
  nextDueAt: number | undefined;
  /** Expired leases moved back to due by this call. */
  reclaimed: number;
}

/** What became of one claimed delivery (completed in bulk). */
export interface DeliveryCompletion {
  member: string;
  requestId: string;
  fence: number;
  /** The attempt for the delivery log, without its number. */
  log?: Record<string, unknown>;
  mark?: 'delivered' | 'gone' | 'aborted';
  /** The processor's result (kept on the record as `dlv_last`). */
  result?: string;
  /** The mark of the webhook body this attempt built first (the record had none yet): fixed once (`webhook_fp`). */
  bodyMark?: string;
  /** Due again at this time (ms): a retry (`countsAttempt`) or a park (not counted). Absent: the delivery ended. */
  at?: number;
  countsAttempt?: boolean;
}

/** A record as dlv-claim answers it with `records: 'json'`: one JSON object text ('' when the record is gone). */
function recordOf(reply: unknown): RequestRecord | null {
  if (typeof reply !== 'string' || reply === '') return null;
  return parseRecord(JSON.parse(reply) as Record<string, string>) ?? null;
}

export class Deliveries {
  private readonly ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /**
   * Claims up to `n` due deliveries of the partition for `leaseMs` (expired leases are reclaimed first); with
   * `withRecords`, the same call reads each one's request record (ClaimedDelivery.record).
   */
  async claim(
    p: PartitionId,
    n: number,
    leaseMs: number,
    now = Date.now(),
    withRecords = false,
  ): Promise<DeliveryClaim> {
    const k = this.ctx.keys.partitionKeys(p);
    const reply = (await this.ctx.redis.bbDlvClaim(
      k.dlvDue,
      JSON.stringify({ tag: k.tag, now, n, lease: leaseMs, ...(withRecords ? { records: 'json' } : {}) }),
    )) as Array<string | number | string[]>;
    const fence = Number(reply[0]);
    const next = Number(reply[1]);
    const deliveries: ClaimedDelivery[] = [];
    const step = withRecords ? 3 : 2;
    for (let i = 3; i + step - 1 < reply.length; i += step) {
      const member = String(reply[i]);
      const claimed: ClaimedDelivery = {
        member,
        ...parseDeliveryMember(member),
        attemptsMade: Number(reply[i + 1]),
        fence,
      };
      if (withRecords) {
        claimed.record = recordOf(reply[i + 2]);
        claimed.readAt = now;
      }
      deliveries.push(claimed);
    }
    // REDIS_DURABILITY=replica: nothing is sent before the outcome it tells is on a replica. The settle that made these
    // deliveries due ran before this claim, so a WAIT after the claim (this client's last write) covers it too; a
    // settle lost in a failover would otherwise be told with one body and, settled again, with another (the
    // Sentinel fault phase found this). Unconfirmed: the claim throws and its leases run out.
    if (deliveries.length > 0 && this.ctx.confirming) await this.ctx.confirm();
    return { deliveries, nextDueAt: next >= 0 ? next : undefined, reclaimed: Number(reply[2]) };
  }

  /**
   * Completes claimed deliveries of one partition in one script call; answers per item the mark's answer (1: first
   * delivery or stop, 0: already, -1: record gone) and whether the claim was still this dispatcher's.
   */
  async complete(
    p: PartitionId,
    items: readonly DeliveryCompletion[],
    logAttempts: number,
  ): Promise<Array<{ marked: number; ours: boolean }>> {
    if (items.length === 0) return [];
    const k = this.ctx.keys.partitionKeys(p);
    const options = JSON.stringify({
      tag: k.tag,
      now: Date.now(),
      max: logAttempts,
      retention: this.ctx.options.retentionMs,
    });
    const args: string[] = [];
    for (const it of items) {
      args.push(
        JSON.stringify({
          m: it.member,
          id: it.requestId,
          fence: it.fence,
          ...(it.log ? { log: it.log } : {}),
          ...(it.mark ? { mark: it.mark } : {}),
          ...(it.result ? { result: it.result } : {}),
          ...(it.at !== undefined ? { at: it.at, inc: it.countsAttempt === true } : {}),
        }),
        it.bodyMark ?? '',
      );
    }
    const reply = (await this.ctx.redis.bbDlvComplete(k.dlvLease, options, ...args)) as number[];
    const out: Array<{ marked: number; ours: boolean }> = [];
    for (let i = 0; i + 1 < reply.length; i += 2) out.push({ marked: Number(reply[i]), ours: reply[i + 1] === 1 });
    return out;
  }

  /**
   * Extends the leases of claims still being sent to `leaseMs` from now; updates each claim's fence in place and
   * answers those that are not this dispatcher's any more (their lease ran out and was taken over).
   */
  async extend(p: PartitionId, claims: readonly ClaimedDelivery[], leaseMs: number): Promise<ClaimedDelivery[]> {
    if (claims.length === 0) return [];
    const k = this.ctx.keys.partitionKeys(p);
    const args: Array<string | number> = [];
    for (const c of claims) args.push(c.member, c.fence);
    const reply = await this.ctx.redis.bbDlvExtend(
      k.dlvLease,
      JSON.stringify({ now: Date.now(), lease: leaseMs }),
      ...args,
    );
    const fence = Number(reply[0]);
    const lost: ClaimedDelivery[] = [];
    claims.forEach((c, i) => {
      if (Number(reply[i + 1]) === 1) c.fence = fence;
      else lost.push(c);
    });
    return lost;
  }

  /** Makes deliveries due at `at` unless claimed or due already; answers how many were added. */
  async add(p: PartitionId, members: readonly string[], at = Date.now()): Promise<number> {
    if (members.length === 0) return 0;
    const k = this.ctx.keys.partitionKeys(p);
    return Number(await this.ctx.redis.bbDlvAdd(k.dlvDue, JSON.stringify({ tag: k.tag, at }), ...members));
  }

  /** Whether each member is due or claimed now (same order). */
  async pending(p: PartitionId, members: readonly string[]): Promise<boolean[]> {
    if (members.length === 0) return [];
    const k = this.ctx.keys.partitionKeys(p);
    const [due, leased] = await Promise.all([
      this.ctx.redis.zmscore(k.dlvDue, ...members),
      this.ctx.redis.zmscore(k.dlvLease, ...members),
    ]);
    return members.map((_, i) => due[i] !== null || leased[i] !== null);
  }

  /** Deliveries due (waiting for their time or a dispatcher) and claimed now, in one partition. */
  async counts(p: PartitionId): Promise<{ due: number; leased: number }> {
    const k = this.ctx.keys.partitionKeys(p);
    const [due, leased] = await Promise.all([this.ctx.redis.zcard(k.dlvDue), this.ctx.redis.zcard(k.dlvLease)]);
    return { due, leased };
  }

  /** Deliveries due and claimed, summed over partitions. */
  async totals(): Promise<{ due: number; leased: number }> {
    const all = await Promise.all(this.ctx.keys.allPartitions().map((p) => this.counts(p)));
    return all.reduce((a, b) => ({ due: a.due + b.due, leased: a.leased + b.leased }), { due: 0, leased: 0 });
  }

  /** The last result the dispatcher recorded for a request's outcome (`dlv_last`), if any. */
  async lastResult(p: PartitionId, requestId: string): Promise<string | undefined> {
    const v = await this.ctx.redis.hget(this.ctx.keys.partitionKeys(p).req(requestId), 'dlv_last');
    return v ?? undefined;
  }
}
