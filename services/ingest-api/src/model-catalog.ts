/**
 * The models the configured provider serves (issue 14.5, 16.5): `allowed_models: ["*"]` (or a `prefix*`) means "any
 * model the provider serves", not any string. Without this a junk name became its own provider batch, failed there a
 * minute later, used the shared batch-creation budget of every tenant, and became its own `model` metric series.
 *
 * The catalogue is the provider's `GET /v1/models` (refreshed every `refreshMs`, the last good list kept when a refresh
 * fails) ∪ the provider profile's usual batch models ∪ every model a tenant names exactly. Until a first list arrives
 * only the latter two count; when they are empty too (a generic provider, no list yet), nothing can be told apart and
 * every name passes rather than refusing real models for a transient failure.
 */
import type { Tenant } from '@batchbridge/config';
import type { Logger } from '@batchbridge/logger';
import type OpenAI from 'openai';

export interface ModelCatalogOptions {
  /** @defaultValue 300 000 (5 min) */
  refreshMs?: number;
  /** One `models.list` call at most this long. @defaultValue 10 000 */
  timeoutMs?: number;
}

/** What lists the provider's models: the OpenAI SDK, or an adapter of another protocol (Anthropic's `GET /v1/models`). */
export type ModelLister = OpenAI | { listModels(options: { timeoutMs: number }): Promise<string[]> };

export class ModelCatalog {
  readonly #provider: ModelLister | undefined;
  readonly #configured: ReadonlySet<string>;
  readonly #logger: Logger;
  readonly #refreshMs: number;
  readonly #timeoutMs: number;
  #listed: ReadonlySet<string> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #first: Promise<void> | undefined;

  constructor(
    provider: ModelLister | undefined,
    profileModels: readonly string[],
    tenants: readonly Tenant[],
    logger: Logger,
    options: ModelCatalogOptions = {},
  ) {
    this.#provider = provider;
    const configured = new Set(profileModels);
    for (const t of tenants) for (const m of t.allowed_models) if (!m.endsWith('*')) configured.add(m);
    this.#configured = configured;
    this.#logger = logger;
    this.#refreshMs = options.refreshMs ?? 300_000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Loads the provider's list now; keeps the last good one when the call fails. */
  async refresh(): Promise<void> {
    if (!this.#provider) return;
    try {
      const provider = this.#provider;
      const ids = new Set<string>();
      if ('listModels' in provider)
        for (const id of await provider.listModels({ timeoutMs: this.#timeoutMs })) ids.add(id);
      else for await (const model of provider.models.list({ timeout: this.#timeoutMs })) ids.add(model.id);
      this.#listed = ids;
    } catch (err) {
      this.#logger.warn(
        { err: (err as Error).message, kept: this.#listed?.size ?? 0 },
        "could not list the provider's models; keeping the last list",
      );
    }
  }

  /** First load in the background, then every `refreshMs`; the timer does not hold the process open. */
  start(): void {
    if (!this.#provider || this.#timer) return;
    this.#first = this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#refreshMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Whether the provider (as far as it can be told) serves this model. */
  serves(model: string): boolean {
    if (this.#configured.has(model) || this.#listed?.has(model)) return true;
    return this.#listed === undefined && this.#configured.size === 0;
  }

  /**
   * `serves`, but a name outside the configured models that arrives before the provider's first list waits for that
   * list (at most the call timeout) instead of being refused: right after start-up, a model the provider does serve
   * must not get a 400.
   */
  async servesSoon(model: string): Promise<boolean> {
    if (this.serves(model)) return true;
    if (this.#listed === undefined && this.#first) await this.#first;
    return this.serves(model);
  }

  /** The provider's listed models (empty until a first list arrived). */
  listed(): string[] {
    return [...(this.#listed ?? [])];
  }
}
