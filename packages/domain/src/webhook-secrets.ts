/**
 * Webhook secrets rotated through the API (SPEC §16), kept in Redis (`G:whsec:<tenant>`) so that every dispatcher
 * replica signs with the same ones. The secrets a delivery is signed with are those of the zset still valid, plus the
 * tenant's configured ones (TENANTS_FILE) that were never rotated out. Reads are cached for `cacheMs` per tenant.
 */
import type { StoreContext } from './store-context.js';

/** Score of the current secret (no end): 9999-12-31, the same number as in rotate-secret-1.lua. */
const CURRENT = 253_402_300_799_000;

interface CachedSecrets {
  at: number;
  /** Secret → valid until (ms). */
  entries: Map<string, number>;
  /** The signing list last answered from these entries, for which configured secrets, until when it holds. */
  list?: string[];
  configured?: readonly string[];
  listUntil?: number;
}

export interface RotatedSecret {
  /** Until when the secrets used before this rotation keep signing (ms). */
  previousValidUntil: number;
}

export class WebhookSecrets {
  private readonly ctx: StoreContext;
  private readonly cache = new Map<string, CachedSecrets>();
  /** Reads under way per tenant: the deliveries that miss the cache together share one ZRANGE. */
  private readonly reading = new Map<string, Promise<CachedSecrets>>();
  /** Bumped by every rotation: a read that started before one is not cached. */
  private generation = 0;
  /** How long a tenant's rotated secrets are reused before they are read again. @defaultValue 1000 ms */
  cacheMs = 1_000;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /** Makes `secret` the current one; the others stay valid for `overlapMs`. `configured`: the tenant's file secrets. */
  async rotate(
    tenant: string,
    configured: readonly string[],
    secret: string,
    overlapMs: number,
  ): Promise<RotatedSecret> {
    const options = JSON.stringify({ now: Date.now(), overlap: overlapMs, secret, configured });
    const until = await this.ctx.redis.bbRotateSecret(this.ctx.keys.webhookSecrets(tenant), options);
    this.generation += 1;
    this.cache.delete(tenant);
    this.reading.delete(tenant);
    return { previousValidUntil: Number(until) };
  }

  /** The secrets to sign a delivery with now, the current (newest) first. */
  async active(tenant: string, configured: readonly string[], now = Date.now()): Promise<string[]> {
    const fresh = this.fresh(tenant, configured, now);
    if (fresh !== undefined) return fresh;
    let read = this.reading.get(tenant);
    if (read === undefined) {
      const generation = this.generation;
      const started = this.read(tenant, now).then((cached) => {
        if (generation === this.generation) {
          if (this.cache.size > 10_000) this.cache.clear();
          this.cache.set(tenant, cached);
        }
        return cached;
      });
      read = started;
      started
        .finally(() => {
          if (this.reading.get(tenant) === started) this.reading.delete(tenant);
        })
        .catch(() => undefined);
      this.reading.set(tenant, started);
    }
    return signingList(await read, configured, now);
  }

  /**
   * The secrets to sign with now when the cache holds them (read less than `cacheMs` ago), without a round trip or a
   * promise — what a busy dispatcher asks thousands of times a second; undefined: ask `active`.
   */
  fresh(tenant: string, configured: readonly string[], now = Date.now()): string[] | undefined {
    const cached = this.cache.get(tenant);
    if (cached === undefined || now - cached.at >= this.cacheMs) return undefined;
    return signingList(cached, configured, now);
  }

  /** The tenant's secrets zset as ZRANGE WITHSCORES answers it: secret, end, secret, end, … */
  private async stored(tenant: string): Promise<string[]> {
    return (await this.ctx.redis.zrange(this.ctx.keys.webhookSecrets(tenant), '0', '-1', 'WITHSCORES')) as string[];
  }

  private async read(tenant: string, now: number): Promise<CachedSecrets> {
    const reply = await this.stored(tenant);
    const entries = new Map<string, number>();
    for (let i = 0; i + 1 < reply.length; i += 2) entries.set(reply[i] as string, Number(reply[i + 1]));
    return { at: now, entries };
  }

  /** Each secret of the tenant's zset with its end (`undefined`: current), for the operator page and tests. */
  async list(tenant: string): Promise<Array<{ secret: string; validUntil: number | undefined }>> {
    const reply = await this.stored(tenant);
    const out: Array<{ secret: string; validUntil: number | undefined }> = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const until = Number(reply[i + 1]);
      out.push({ secret: reply[i] as string, validUntil: until >= CURRENT ? undefined : until });
    }
    return out;
  }
}

/**
 * The zset's secrets still valid at `now`, newest first, then the configured ones never rotated out: computed once per
 * read and reused until the first of them ends (or other configured secrets are asked for). Callers must not change it.
 */
function signingList(cached: CachedSecrets, configured: readonly string[], now: number): string[] {
  if (
    cached.list !== undefined &&
    now < (cached.listUntil ?? 0) &&
    (cached.configured === configured || sameSecrets(cached.configured, configured))
  ) {
    return cached.list;
  }
  const live = [...cached.entries].filter(([, until]) => until > now).sort((a, b) => b[1] - a[1]);
  const out = live.map(([secret]) => secret);
  for (const secret of configured) if (!cached.entries.has(secret)) out.push(secret);
  cached.list = out;
  cached.configured = configured;
  cached.listUntil = live.reduce((min, [, until]) => Math.min(min, until), Number.POSITIVE_INFINITY);
  return out;
}

function sameSecrets(a: readonly string[] | undefined, b: readonly string[]): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
