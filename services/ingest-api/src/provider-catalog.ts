/**
 * Routing at the door when several providers are configured (PROVIDERS_FILE, SPEC §11): which provider a request's
 * model goes to, so that its group is (provider, endpoint, model), and which models the door accepts at all.
 *
 * Each provider's `GET /v1/models` is listed at start and every `refreshMs` (the last good list kept when a refresh
 * fails) into the registry, which answers per provider: an alias or a match of its `models` patterns; without
 * patterns, a model it lists or its profile's usual models. A model no provider serves (among the tenant's
 * `allowed_providers`) is refused. Among the providers that serve it, the first by priority whose circuit is closed
 * takes it (a snapshot of every circuit, re-read every second) — or whose circuit is open past its cool-down, so that
 * its flushes probe it; when every circuit is open, the first by priority (its queued requests wait there, and the
 * packer sends their flushes on when another recovers).
 */
import type { BatchEndpoint, ProviderConfig, Tenant } from '@batchbridge/config';
import type { ProviderHealthState, Store } from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import type { ProviderRegistry } from '@batchbridge/provider';

export interface ProviderCatalogOptions {
  /** @defaultValue 300 000 (5 min) */
  refreshMs?: number;
  /** @defaultValue 10 000 */
  timeoutMs?: number;
  /** How often the circuits are re-read. @defaultValue 1 000 */
  healthMs?: number;
}

export type RouteAnswer =
  | { ok: true; provider: ProviderConfig; allowed: readonly string[] | undefined }
  | { ok: false; reason: 'model' | 'endpoint'; providers: string[] };

export class ProviderCatalog {
  readonly #registry: ProviderRegistry;
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #refreshMs: number;
  readonly #timeoutMs: number;
  readonly #healthMs: number;
  readonly #health = new Map<string, ProviderHealthState>();
  #timers: NodeJS.Timeout[] = [];
  #first: Promise<void> | undefined;

  constructor(registry: ProviderRegistry, store: Store, logger: Logger, options: ProviderCatalogOptions = {}) {
    this.#registry = registry;
    this.#store = store;
    this.#logger = logger;
    this.#refreshMs = options.refreshMs ?? 300_000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#healthMs = options.healthMs ?? 1_000;
  }

  get registry(): ProviderRegistry {
    return this.#registry;
  }

  /** Lists every provider's models now; a provider whose call fails keeps its last list. */
  async refresh(): Promise<void> {
    await Promise.all(
      this.#registry.ids.map(async (id) => {
        try {
          const models = await this.#registry.adapter(id).listModels({ timeoutMs: this.#timeoutMs });
          this.#registry.setListed(id, models);
        } catch (err) {
          this.#logger.warn(
            { provider: id, err: (err as Error).message, kept: this.#registry.listed(id)?.size ?? 0 },
            "could not list the provider's models; keeping the last list",
          );
        }
      }),
    );
  }

  async refreshHealth(): Promise<void> {
    try {
      for (const id of this.#registry.ids) this.#health.set(id, await this.#store.providers.get(id));
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, 'could not read provider health');
    }
  }

  start(): void {
    if (this.#timers.length > 0) return;
    this.#first = this.refresh();
    void this.refreshHealth();
    this.#timers = [
      setInterval(() => void this.refresh(), this.#refreshMs),
      setInterval(() => void this.refreshHealth(), this.#healthMs),
    ];
    for (const t of this.#timers) t.unref();
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }

  /** Each provider's circuit as last read (the /readyz and operator-page view). */
  health(): ProviderHealthState[] {
    return this.#registry.ids.map(
      (id) =>
        this.#health.get(id) ?? {
          provider: id,
          state: 'closed',
          failures: {},
          openedBy: undefined,
          until: 0,
          opened: 0,
          lastFailure: undefined,
          lastFailureAt: undefined,
        },
    );
  }

  /**
   * The provider for a request of `tenant` with `model` on `endpoint`. A model no provider can be told to serve yet
   * (no list, no patterns) waits for the first lists (at most the call timeout) instead of being refused.
   */
  async route(tenant: Tenant, model: string, endpoint: BatchEndpoint): Promise<RouteAnswer> {
    const allowed = tenant.allowed_providers;
    const pick = () => {
      const { serving, unknown } = this.#registry.candidates(model, allowed);
      const batching = serving.filter((c) => c.profile.endpoints.includes(endpoint));
      return { serving, batching, unknown };
    };
    let found = pick();
    if (found.serving.length === 0 && this.#first) {
      await this.#first;
      found = pick();
    }
    if (found.serving.length === 0 && found.unknown.length > 0) {
      // Nothing can be told apart for these providers (no patterns, no list, no usual models): let the first take it.
      found = {
        ...found,
        serving: found.unknown,
        batching: found.unknown.filter((c) => c.profile.endpoints.includes(endpoint)),
      };
    }
    if (found.serving.length === 0) return { ok: false, reason: 'model', providers: [] };
    if (found.batching.length === 0)
      return { ok: false, reason: 'endpoint', providers: found.serving.map((c) => c.id) };
    // An open circuit past its cool-down takes requests again: their flushes are what probes it (the packer lets one
    // through per cool-down and sends the others on), and only a probe that succeeds closes it. Skipping it until it
    // closed would never probe it: once open, a preferred provider would stay unused for good.
    const now = Date.now();
    const healthy = found.batching.find((c) => {
      const h = this.#health.get(c.id);
      return h === undefined || h.state !== 'open' || h.until <= now;
    });
    return { ok: true, provider: healthy ?? (found.batching[0] as ProviderConfig), allowed };
  }

  /** The models a tenant may send (before its `allowed_models`), with the first provider by priority serving each. */
  models(tenant: Tenant): Array<{ id: string; owner: string }> {
    const out: Array<{ id: string; owner: string }> = [];
    for (const id of this.#registry.knownModels(tenant.allowed_providers)) {
      const owner = this.#registry.candidates(id, tenant.allowed_providers).serving[0];
      if (owner) out.push({ id, owner: owner.id });
    }
    return out;
  }
}
