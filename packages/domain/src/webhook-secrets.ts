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
}

export interface RotatedSecret {
  /** Until when the secrets used before this rotation keep signing (ms). */
  previousValidUntil: number;
}

export class WebhookSecrets {
  private readonly ctx: StoreContext;
  private readonly cache = new Map<string, CachedSecrets>();
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
    this.cache.delete(tenant);
    return { previousValidUntil: Number(until) };
  }

  /** The secrets to sign a delivery with now, the current (newest) first. */
  async active(tenant: string, configured: readonly string[], now = Date.now()): Promise<string[]> {
    let cached = this.cache.get(tenant);
    if (cached === undefined || now - cached.at >= this.cacheMs) {
      const reply = (await this.ctx.redis.zrange(
        this.ctx.keys.webhookSecrets(tenant),
        '0',
        '-1',
        'WITHSCORES',
      )) as string[];
      const entries = new Map<string, number>();
      for (let i = 0; i + 1 < reply.length; i += 2) entries.set(reply[i] as string, Number(reply[i + 1]));
      cached = { at: now, entries };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(tenant, cached);
    }
    const live = [...cached.entries].filter(([, until]) => until > now).sort((a, b) => b[1] - a[1]);
    const out = live.map(([secret]) => secret);
    for (const secret of configured) if (!cached.entries.has(secret)) out.push(secret);
    return out;
  }

  /** Each secret of the tenant's zset with its end (`undefined`: current), for the operator page and tests. */
  async list(tenant: string): Promise<Array<{ secret: string; validUntil: number | undefined }>> {
    const reply = (await this.ctx.redis.zrange(
      this.ctx.keys.webhookSecrets(tenant),
      '0',
      '-1',
      'WITHSCORES',
    )) as string[];
    const out: Array<{ secret: string; validUntil: number | undefined }> = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const until = Number(reply[i + 1]);
      out.push({ secret: reply[i] as string, validUntil: until >= CURRENT ? undefined : until });
    }
    return out;
  }
}
