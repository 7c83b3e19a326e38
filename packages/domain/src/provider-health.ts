/**
 * Per-provider health (SPEC §11 failover): one circuit per provider over its uploads, creates, polls and downloads,
 * kept in Redis (`G:provider:<id>`) so that every replica — the ingest routing new requests, the packer choosing a
 * provider per flush, the poller — sees the same state. Every change goes through `provider-health-1.lua`.
 *
 * `closed`: calls flow. After `failures` consecutive failed calls it opens: new flushes skip the provider for
 * `cooldownMs`; then `allow` lets one probe through per cool-down, and its success closes the circuit again.
 */
import type { StoreContext } from './store-context.js';

export type CircuitState = 'closed' | 'open';

/** The calls the circuit watches. */
export type HealthOperation = 'upload' | 'create' | 'poll' | 'download';

export interface ProviderHealthState {
  provider: string;
  state: CircuitState;
  /** Consecutive failed calls per operation. */
  failures: Partial<Record<HealthOperation, number>>;
  /** The operation whose failures opened the circuit. */
  openedBy: HealthOperation | undefined;
  /** While open: when the next probe may go (ms). */
  until: number;
  /** Times the circuit opened. */
  opened: number;
  lastFailure: string | undefined;
  lastFailureAt: number | undefined;
}

export interface CircuitSettings {
  failures: number;
  cooldownMs: number;
}

export class ProviderHealthStore {
  constructor(
    private readonly ctx: StoreContext,
    private readonly settings: CircuitSettings = { failures: 5, cooldownMs: 60_000 },
  ) {}

  withSettings(settings: CircuitSettings): ProviderHealthStore {
    return new ProviderHealthStore(this.ctx, settings);
  }

  /** A call succeeded: its operation's run of failures ends; the operation that opened the circuit closes it. */
  async success(provider: string, what: HealthOperation, now = Date.now()): Promise<CircuitState> {
    return (await this.call(provider, 'success', now, what))[0];
  }

  /** A call failed in a way that says the provider is unwell (5xx, 429, timeouts, connection errors). */
  async failure(provider: string, what: HealthOperation, message: string, now = Date.now()): Promise<CircuitState> {
    return (await this.call(provider, 'failure', now, what, message))[0];
  }

  /** Whether a new flush may go to the provider now: closed, or open past its cool-down (one probe per cool-down). */
  async allow(provider: string, now = Date.now()): Promise<boolean> {
    return (await this.call(provider, 'allow', now, 'create'))[1] === 1;
  }

  async get(provider: string): Promise<ProviderHealthState> {
    const h = (await this.ctx.redis.hgetall(this.ctx.keys.providerHealth(provider))) as Record<string, string>;
    return {
      provider,
      state: h.state === 'open' ? 'open' : 'closed',
      failures: Object.fromEntries(
        (['upload', 'create', 'poll', 'download'] as const)
          .filter((op) => h[`f:${op}`] !== undefined)
          .map((op) => [op, Number(h[`f:${op}`])]),
      ),
      openedBy: (h.opened_by || undefined) as HealthOperation | undefined,
      until: Number(h.until ?? 0),
      opened: Number(h.opened ?? 0),
      lastFailure: h.last_failure || undefined,
      lastFailureAt: h.last_failure_at ? Number(h.last_failure_at) : undefined,
    };
  }

  private async call(
    provider: string,
    op: 'success' | 'failure' | 'allow',
    now: number,
    what: HealthOperation,
    message?: string,
  ): Promise<[CircuitState, number]> {
    const options = JSON.stringify({
      op,
      what,
      now,
      failures: this.settings.failures,
      cooldown: this.settings.cooldownMs,
      message: message?.slice(0, 200) ?? '',
    });
    const reply = await this.ctx.redis.bbProviderHealth(this.ctx.keys.providerHealth(provider), options);
    return [reply[0] === 'open' ? 'open' : 'closed', Number(reply[1])];
  }
}
