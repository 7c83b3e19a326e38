/**
 * Endpoint health per tenant and callback host (SPEC §16): a circuit that opens after consecutive failures (deliveries
 * there wait instead of taking worker slots), a probe when its cooldown is over, and disabling after a long failure.
 * State in `G:endpoint:<tenant>:<host>` (global: every dispatcher and partition sees one circuit per endpoint), changed
 * only by the endpoint-* scripts.
 */
import type { StoreContext } from './store-context.js';

export type EndpointGate =
  | { kind: 'closed' }
  | { kind: 'probe' }
  | { kind: 'open'; until: number }
  | { kind: 'disabled'; at: number; notified: boolean };

export type EndpointResult = 'closed' | 'failing' | 'open' | 'disabled' | 'disabled_now';

export interface EndpointHealthOptions {
  threshold: number;
  cooldownMs: number;
  disableAfterMs: number;
}

export interface EndpointState {
  tenant: string;
  host: string;
  fails: number;
  failingSince: number;
  openUntil: number | undefined;
  disabledAt: number | undefined;
  lastError: string | undefined;
  lastFailureAt: number | undefined;
}

const member = (tenant: string, host: string) => `${tenant} ${host}`;

export class EndpointHealth {
  private readonly ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /** May a delivery go to this endpoint now? `probeMs`: how long a probe holds a half-open circuit. */
  async gate(tenant: string, host: string, probeMs: number): Promise<EndpointGate> {
    const options = JSON.stringify({ now: Date.now(), probe: probeMs });
    const reply = await this.ctx.redis.bbEndpointGate(this.ctx.keys.endpoint(tenant, host), options);
    const kind = String(reply[0]);
    if (kind === 'open') return { kind, until: Number(reply[1]) };
    if (kind === 'disabled') return { kind, at: Number(reply[1]), notified: String(reply[2]) === '1' };
    return kind === 'probe' ? { kind } : { kind: 'closed' };
  }

  /**
   * Records an attempt's result; `ok` for a receiver that answered (2xx or a stop signal). `now` becomes the
   * endpoint's `disabled_at` when this result disables it.
   */
  async record(
    tenant: string,
    host: string,
    ok: boolean,
    error: string | undefined,
    options: EndpointHealthOptions,
    now = Date.now(),
  ): Promise<EndpointResult> {
    const args = JSON.stringify({
      now,
      ok,
      member: member(tenant, host),
      threshold: options.threshold,
      cooldown: options.cooldownMs,
      disableAfter: options.disableAfterMs,
      // A failing endpoint that gets no traffic for this long is forgotten (starts healthy again).
      keep: Math.max(options.disableAfterMs * 2, 86_400_000),
      error: (error ?? '').slice(0, 200),
    });
    const k = this.ctx.keys;
    return (await this.ctx.redis.bbEndpointResult(
      k.endpoint(tenant, host),
      k.unhealthyEndpoints(),
      args,
    )) as EndpointResult;
  }

  /** Re-enables (and forgets the failures of) an endpoint; true when it was failing or disabled. */
  async enable(tenant: string, host: string): Promise<boolean> {
    const k = this.ctx.keys;
    const args = JSON.stringify({ member: member(tenant, host), notify: 0 });
    return (await this.ctx.redis.bbEnableEndpoint(k.endpoint(tenant, host), k.unhealthyEndpoints(), args)) === 1;
  }

  /** Marks the `endpoint.disabled` event of a disabled endpoint as sent. */
  async markNotified(tenant: string, host: string): Promise<void> {
    const k = this.ctx.keys;
    const args = JSON.stringify({ member: member(tenant, host), notify: 1 });
    await this.ctx.redis.bbEnableEndpoint(k.endpoint(tenant, host), k.unhealthyEndpoints(), args);
  }

  async get(tenant: string, host: string): Promise<EndpointState | undefined> {
    const h = (await this.ctx.redis.hgetall(this.ctx.keys.endpoint(tenant, host))) as Record<string, string>;
    if (h.failing_since === undefined && h.disabled_at === undefined) return undefined;
    const num = (v: string | undefined) => (v === undefined || v === '' || v === '0' ? undefined : Number(v));
    return {
      tenant,
      host,
      fails: Number(h.fails ?? 0),
      failingSince: Number(h.failing_since ?? 0),
      openUntil: num(h.open_until),
      disabledAt: num(h.disabled_at),
      lastError: h.last_error || undefined,
      lastFailureAt: num(h.last_failure_at),
    };
  }

  /** Failing or disabled endpoints (all tenants, or one), oldest failure first, at most `limit`. */
  async unhealthy(tenant?: string, limit = 200): Promise<EndpointState[]> {
    const members = (await this.ctx.redis.zrange(this.ctx.keys.unhealthyEndpoints(), '0', '999')) as string[];
    const out: EndpointState[] = [];
    for (const m of members) {
      const space = m.indexOf(' ');
      const t = m.slice(0, space);
      if (tenant !== undefined && t !== tenant) continue;
      const state = await this.get(t, m.slice(space + 1));
      if (state === undefined) {
        // Its hash expired (no news for long): drop the index entry too.
        await this.ctx.redis.zrem(this.ctx.keys.unhealthyEndpoints(), m);
        continue;
      }
      out.push(state);
      if (out.length >= limit) break;
    }
    return out;
  }
}
