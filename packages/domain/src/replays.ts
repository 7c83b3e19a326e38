/**
 * Replay jobs (SPEC §16): a tenant asks for the outcomes of a time range to be delivered again; the job's state and
 * progress live in `G:replay:<id>` (24 h), written only by replay-update-1.lua, read by `GET /v1/deliveries/replay/{id}`.
 */
import type { StoreContext } from './store-context.js';

export type ReplayStatusFilter = 'dead' | 'failed' | 'all';
export type ReplayState = 'running' | 'done' | 'failed' | 'interrupted';

export interface ReplayJob {
  id: string;
  tenant: string;
  since: number;
  until: number;
  status: ReplayStatusFilter;
  state: ReplayState;
  /** Finished outcomes looked at so far (all tenants' of the range: the index is per partition). */
  scanned: number;
  /** Outcomes of this tenant queued for redelivery so far. */
  queued: number;
  created_at: number;
  updated_at: number;
  finished_at: number | undefined;
  error: string | undefined;
}

const TTL_MS = 86_400_000;
/** A running job whose runner has said nothing for this long has died with its process. */
const STALE_MS = 60_000;

export class ReplayJobs {
  private readonly ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /**
   * Takes the tenant's replay slot for `gapMs` (one replay per tenant per gap); answers 0 when taken, else the ms left.
   */
  async takeGate(tenant: string, gapMs: number): Promise<number> {
    const key = this.ctx.keys.replayGate(tenant);
    if ((await this.ctx.redis.set(key, '1', 'PX', gapMs, 'NX')) === 'OK') return 0;
    return Math.max(1, await this.ctx.redis.pttl(key));
  }

  async create(job: Pick<ReplayJob, 'id' | 'tenant' | 'since' | 'until' | 'status'>): Promise<boolean> {
    const now = Date.now();
    const fields = { ...job, state: 'running', scanned: 0, queued: 0, created_at: now, updated_at: now };
    return (await this.write(job.id, 1, fields)) === 1;
  }

  async progress(id: string, scanned: number, queued: number): Promise<void> {
    await this.write(id, 0, { scanned, queued, updated_at: Date.now() });
  }

  async finish(id: string, scanned: number, queued: number, error?: string): Promise<void> {
    const now = Date.now();
    const fields: Record<string, string | number> = { scanned, queued, updated_at: now, finished_at: now };
    fields.state = error === undefined ? 'done' : 'failed';
    if (error !== undefined) fields.error = error.slice(0, 200);
    await this.write(id, 0, fields);
  }

  async get(id: string): Promise<ReplayJob | undefined> {
    const h = (await this.ctx.redis.hgetall(this.ctx.keys.replay(id))) as Record<string, string>;
    if (!h.id) return undefined;
    const updated = Number(h.updated_at ?? 0);
    let state = (h.state ?? 'running') as ReplayState;
    if (state === 'running' && Date.now() - updated > STALE_MS) state = 'interrupted';
    return {
      id: h.id,
      tenant: h.tenant ?? '',
      since: Number(h.since),
      until: Number(h.until),
      status: (h.status ?? 'all') as ReplayStatusFilter,
      state,
      scanned: Number(h.scanned ?? 0),
      queued: Number(h.queued ?? 0),
      created_at: Number(h.created_at ?? 0),
      updated_at: updated,
      finished_at: h.finished_at ? Number(h.finished_at) : undefined,
      error: h.error || undefined,
    };
  }

  private write(id: string, create: 0 | 1, fields: Record<string, string | number>): Promise<number> {
    const key = this.ctx.keys.replay(id);
    return this.ctx.redis.bbReplayUpdate(key, JSON.stringify({ ttl: TTL_MS, create, fields }));
  }
}
