/**
 * Every provider of the deployment (SPEC §11), with routing by model: which providers serve a model a client sends
 * (exact names and globs of `models`, aliases, else what the provider lists plus its profile's usual models), in what
 * order (priority), under which name (an alias gives each provider its own), and the adapter to call.
 *
 * Adapters are made by a factory per wire protocol (`ProviderApi` of the profile): `openai` here, `anthropic` and
 * `mistral` registered by their modules through `registerAdapterFactory`, so that adding a protocol changes neither
 * the packer nor the poller.
 */
import {
  DEFAULT_PROVIDER_ID,
  globToRegExp,
  PROFILE_USUAL_MODELS,
  type ProviderApi,
  type ProviderConfig,
  type ProviderProfile,
} from '@batchbridge/config';
import type { MetricsCatalog } from '@batchbridge/metrics';
import type OpenAI from 'openai';
import type { ProviderAdapter } from './adapter.js';
import { createProviderClient } from './client.js';
import { OpenAIAdapter } from './openai-adapter.js';

export interface AdapterContext {
  metrics?: MetricsCatalog | undefined;
  /** The fetch uploads use (the packer's streaming fetch); @defaultValue the SDK's */
  uploadFetch?: typeof fetch | undefined;
}

export type AdapterFactory = (config: ProviderConfig, context: AdapterContext) => ProviderAdapter;

const FACTORIES = new Map<ProviderApi, AdapterFactory>();

/** Makes `api`'s adapters available (the Anthropic module calls this with its factory). */
export function registerAdapterFactory(api: ProviderApi, factory: AdapterFactory): void {
  FACTORIES.set(api, factory);
}

/**
 * A provider entry's official SDK client (retries off, every call counted: client.ts) and the one uploads go through
 * (the context's streaming fetch, when it has one), as the file-based adapters take them.
 */
export function sdkClientsFor(
  config: ProviderConfig,
  context: AdapterContext,
): { id: string; profile: ProviderConfig['profile']; client: () => OpenAI; uploadClient: () => OpenAI } {
  const client = createProviderClient({
    baseUrl: config.baseUrl,
    apiKey: config.apiKey,
    timeoutMs: config.timeoutMs,
    metrics: context.metrics,
  });
  const upload = context.uploadFetch ? client.withOptions({ fetch: context.uploadFetch }) : client;
  return { id: config.id, profile: config.profile, client: () => client, uploadClient: () => upload };
}

/** The OpenAI-compatible factory. */
export const openAIAdapterFactory: AdapterFactory = (config, context) =>
  new OpenAIAdapter(sdkClientsFor(config, context));
registerAdapterFactory('openai', openAIAdapterFactory);

export function adapterFactoryFor(api: ProviderApi): AdapterFactory | undefined {
  return FACTORIES.get(api);
}

interface Route {
  config: ProviderConfig;
  exact: ReadonlySet<string>;
  globs: readonly RegExp[];
}

/** The label of a provider in metrics: its id, or for the one provider of UPSTREAM_* its profile (as before §11). */
export function providerLabel(id: string, profile: ProviderProfile): string {
  return id === DEFAULT_PROVIDER_ID ? profile.name : id;
}

export class ProviderRegistry {
  readonly #routes: Route[];
  readonly #adapters = new Map<string, ProviderAdapter>();
  /** What each provider lists (`GET /v1/models`), set by the model catalogue. */
  readonly #listed = new Map<string, ReadonlySet<string>>();
  readonly #profileModels: (profile: ProviderProfile) => readonly string[];

  /**
   * `providers` by priority (config.providers). `adapters` overrides the factory for some ids (the `default`
   * adapter over `runtime.provider`, which tests replace).
   */
  constructor(
    providers: readonly ProviderConfig[],
    options: {
      context?: AdapterContext;
      adapters?: Record<string, ProviderAdapter>;
      profileModels?: (profile: ProviderProfile) => readonly string[];
      /** Wraps every adapter (the runtime counts calls against the circuit: health.ts). */
      wrap?: (adapter: ProviderAdapter) => ProviderAdapter;
    } = {},
  ) {
    this.#profileModels = options.profileModels ?? ((profile) => PROFILE_USUAL_MODELS[profile.name] ?? []);
    const wrap = options.wrap ?? ((a: ProviderAdapter) => a);
    this.#routes = providers.map((config) => {
      const exact = new Set<string>();
      const globs: RegExp[] = [];
      for (const m of config.models) {
        if (m.includes('*') || m.includes('?')) globs.push(globToRegExp(m));
        else exact.add(m);
      }
      return { config, exact, globs };
    });
    for (const { config } of this.#routes) {
      const given = options.adapters?.[config.id];
      if (given) {
        this.#adapters.set(config.id, wrap(given));
        continue;
      }
      const factory = FACTORIES.get(config.profile.api ?? 'openai');
      if (!factory) continue; // `missingAdapters` names it at start
      this.#adapters.set(config.id, wrap(factory(config, options.context ?? {})));
    }
  }

  /** Providers whose protocol has no adapter registered (a start-up error). */
  missingAdapters(): string[] {
    return this.#routes.filter((r) => !this.#adapters.has(r.config.id)).map((r) => r.config.id);
  }

  get ids(): string[] {
    return this.#routes.map((r) => r.config.id);
  }

  get configs(): ProviderConfig[] {
    return this.#routes.map((r) => r.config);
  }

  get size(): number {
    return this.#routes.length;
  }

  config(id: string): ProviderConfig | undefined {
    return this.#routes.find((r) => r.config.id === id)?.config;
  }

  /** The provider's adapter; throws for an unknown id (a batch record of a provider no longer configured). */
  adapter(id: string): ProviderAdapter {
    const a = this.#adapters.get(id);
    if (!a) throw new Error(`no provider "${id}" is configured (PROVIDERS_FILE or UPSTREAM_*)`);
    return a;
  }

  has(id: string): boolean {
    return this.#adapters.has(id);
  }

  setListed(id: string, models: Iterable<string>): void {
    this.#listed.set(id, new Set(models));
  }

  listed(id: string): ReadonlySet<string> | undefined {
    return this.#listed.get(id);
  }

  /**
   * Whether provider `id` serves `model` (the name a client sends): an alias of it; a match of its `models`
   * patterns; or, when it has none, a model it lists or its profile's usual models. A provider with no patterns that
   * has listed nothing yet and has no usual models serves `undefined`: not known yet.
   */
  serves(id: string, model: string): boolean | undefined {
    const route = this.#routes.find((r) => r.config.id === id);
    if (!route) return false;
    const { config } = route;
    if (Object.hasOwn(config.aliases, model)) return true;
    if (config.models.length > 0) return route.exact.has(model) || route.globs.some((g) => g.test(model));
    if (this.#profileModels(config.profile).includes(model)) return true;
    const listed = this.#listed.get(id);
    if (listed) return listed.has(model);
    return this.#profileModels(config.profile).length === 0 ? undefined : false;
  }

  /**
   * The providers that serve `model`, by priority, among `allowed` (a tenant's `allowed_providers`, unset = all).
   * `unknown` are those that cannot tell yet (no list, no patterns): the caller decides whether they count.
   */
  candidates(
    model: string,
    allowed?: readonly string[] | undefined,
  ): { serving: ProviderConfig[]; unknown: ProviderConfig[] } {
    const serving: ProviderConfig[] = [];
    const unknown: ProviderConfig[] = [];
    for (const { config } of this.#routes) {
      if (allowed && !allowed.includes(config.id)) continue;
      const s = this.serves(config.id, model);
      if (s === true) serving.push(config);
      else if (s === undefined) unknown.push(config);
    }
    return { serving, unknown };
  }

  /** The provider's own name of a public model name (its alias), or the name itself. */
  providerModel(id: string, model: string): string {
    const config = this.config(id);
    return config && Object.hasOwn(config.aliases, model) ? (config.aliases[model] as string) : model;
  }

  /** Every public name some provider takes: the aliases, exact patterns, listed models and usual profile models. */
  knownModels(allowed?: readonly string[] | undefined): string[] {
    const out = new Set<string>();
    for (const { config, exact } of this.#routes) {
      if (allowed && !allowed.includes(config.id)) continue;
      for (const a of Object.keys(config.aliases)) out.add(a);
      for (const e of exact) out.add(e);
      if (config.models.length === 0) {
        for (const m of this.#profileModels(config.profile)) out.add(m);
        for (const m of this.#listed.get(config.id) ?? []) out.add(m);
      } else {
        for (const m of this.#listed.get(config.id) ?? []) if (this.serves(config.id, m)) out.add(m);
      }
    }
    return [...out];
  }
}

/** A default provider adapter over a client the caller owns (`runtime.provider`, replaceable in tests). */
export function defaultAdapter(profile: ProviderProfile, client: () => OpenAI, upload?: () => OpenAI): OpenAIAdapter {
  return new OpenAIAdapter({
    id: DEFAULT_PROVIDER_ID,
    profile,
    client,
    ...(upload ? { uploadClient: upload } : {}),
  });
}
