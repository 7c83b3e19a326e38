/**
 * Aggregated deliveries (SPEC §16): a tenant may take its outcomes in batches — one signed POST carrying up to N
 * outcomes, each with its own `webhook-id` inside. Per partition, tenant and callback URL there is a buffer of outcome
 * ids (`T:agg:<tenant>:<urlHash>`), the set of ids buffered or being sent (`:in`, so none goes in twice), the envelope
 * being sent (`:cur`: the same id, time and members on every retry) and a marker (`:job`) set while an aggregate job
 * is scheduled or running. Every change is one Lua script (agg-add-1, agg-take-1, agg-done-1).
 *
 * Crash safety: a member's own deliver job stays alive (delayed) until the outcome is delivered, gone or
 * dead-lettered, and re-adds it on each wake-up (a no-op while it is buffered); the marker lapses when no job refreshes
 * it, so a wake-up after a lost aggregate job schedules a new one. An envelope a dying run left is sent again, whole.
 */
import { createHash } from 'node:crypto';
import type { PartitionId } from './keys.js';
import type { StoreContext } from './store-context.js';

export interface AggregateEnvelope {
  id: string;
  /** When the envelope was made (ms): its `timestamp`, the same on every retry. */
  at: number;
  members: string[];
}

/** The 16-hex-digit SHA-256 of a callback URL: one buffer per tenant and URL. */
export function callbackUrlHash(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16);
}

export class Aggregates {
  private readonly ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /** Buffers an outcome (once); `schedule`: no aggregate job holds the buffer, the caller must add one. */
  async add(
    p: PartitionId,
    tenant: string,
    urlHash: string,
    id: string,
    markerTtlMs: number,
  ): Promise<{ added: boolean; schedule: boolean }> {
    const pk = this.ctx.keys.partitionKeys(p);
    const options = JSON.stringify({ tag: pk.tag, tenant, url: urlHash, id, now: Date.now(), ttl: markerTtlMs });
    const [added, schedule] = await this.ctx.redis.bbAggAdd(pk.aggBuffer(tenant, urlHash), options);
    return { added: added === 1, schedule: schedule === 1 };
  }

  /** The envelope to send: the unsettled one, else up to `max` buffered ids as a new one; undefined when empty. */
  async take(
    p: PartitionId,
    tenant: string,
    urlHash: string,
    newEnvelopeId: string,
    max: number,
    markerTtlMs: number,
  ): Promise<AggregateEnvelope | undefined> {
    const pk = this.ctx.keys.partitionKeys(p);
    const options = JSON.stringify({
      tag: pk.tag,
      tenant,
      url: urlHash,
      envelope: newEnvelopeId,
      now: Date.now(),
      max,
      ttl: markerTtlMs,
    });
    const reply = await this.ctx.redis.bbAggTake(pk.aggBuffer(tenant, urlHash), options);
    if (reply.length === 0) return undefined;
    const [id, at, members] = reply as [string, string, string];
    return { id, at: Number(at), members: members.split(' ').filter(Boolean) };
  }

  /** The envelope is settled: its ids leave the member set; false when another run settled it first. */
  async done(p: PartitionId, tenant: string, urlHash: string, envelopeId: string): Promise<boolean> {
    const pk = this.ctx.keys.partitionKeys(p);
    const options = JSON.stringify({ tag: pk.tag, tenant, url: urlHash, envelope: envelopeId });
    return (await this.ctx.redis.bbAggDone(pk.aggEnvelope(tenant, urlHash), options)) === 1;
  }

  /** Holds the buffer's marker for `ttlMs` more (a job waiting out a retry delay still owns it). */
  async keepMarker(p: PartitionId, tenant: string, urlHash: string, ttlMs: number): Promise<void> {
    await this.ctx.redis.set(this.ctx.keys.partitionKeys(p).aggScheduled(tenant, urlHash), '1', 'PX', ttlMs);
  }

  /** Gives the marker up (the job stops early): the next outcome, or a member's wake-up, schedules a new job. */
  async dropMarker(p: PartitionId, tenant: string, urlHash: string): Promise<void> {
    await this.ctx.redis.del(this.ctx.keys.partitionKeys(p).aggScheduled(tenant, urlHash));
  }
}
