/**
 * The price table (`PRICE_TABLE_FILE`, SPEC §15): USD per million tokens per provider, model and lane, behind every
 * request's `cost`, the tenant ledger and the savings estimate.
 *
 * A model entry holds its realtime prices (input, cached input, output; Anthropic's cache writes) and, per lane
 * (`batch`, `flex`; `realtime` is the realtime prices themselves), either explicit prices or a `discount`: the
 * fraction of the realtime price the lane takes off (0.5 = half price). A batch may be priced per completion window
 * (`batch_windows`, Doubleword's 1 h tier). A lane the entry does not price is **unpriced**: the request's cost says
 * `priced: false` and counts no money — never free.
 *
 * Providers are looked up by the provider's id, then its profile name (`openai`, `anthropic`, …), then `*` (any
 * provider). The file is either `{ "<provider>": { "<model>": entry } }` or, as before this table had providers,
 * `{ "<model>": { input_per_1m, output_per_1m, batch_discount } }` (read as provider `*`).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** The lanes of SPEC §10. */
export const LANES = ['batch', 'flex', 'realtime'] as const;
export type Lane = (typeof LANES)[number];

const usd = z.number().nonnegative();

export const RateSchema = z
  .object({
    /** USD per million input (prompt) tokens not read from a cache. */
    input_per_1m: usd,
    /** USD per million input tokens read from the provider's prompt cache (default: the input price). */
    cached_input_per_1m: usd.optional(),
    /** USD per million input tokens written to the cache (Anthropic's 5 min cache write; default: the input price). */
    cache_write_per_1m: usd.optional(),
    /** USD per million output (completion) tokens. */
    output_per_1m: usd.default(0),
  })
  .strict();
export type Rate = z.infer<typeof RateSchema>;

/** A lane's prices: explicit, or a fraction off the realtime prices. */
export const LanePriceSchema = z.union([RateSchema, z.object({ discount: z.number().min(0).max(1) }).strict()]);
export type LanePrice = z.infer<typeof LanePriceSchema>;

export const ModelEntrySchema = z
  .object({
    realtime: RateSchema,
    batch: LanePriceSchema.optional(),
    flex: LanePriceSchema.optional(),
    /** Batch prices per completion window (`1h`, `24h`), taking precedence over `batch` for that window. */
    batch_windows: z.record(z.string().min(1), LanePriceSchema).optional(),
    /** When the figures were read (YYYY-MM-DD) and where: shown nowhere, kept for whoever updates the table. */
    as_of: z.string().optional(),
    source: z.string().optional(),
  })
  .strict();
export type ModelEntry = z.infer<typeof ModelEntrySchema>;

/** The table's first format: one realtime price per model and a batch discount (still accepted). */
const LegacyModelPriceSchema = z
  .object({
    input_per_1m: usd,
    output_per_1m: usd,
    batch_discount: z.number().min(0).max(1).default(0.5),
  })
  .strict();

const ProviderPricesSchema = z.record(z.string().min(1), ModelEntrySchema);

export const PriceTableSchema = z.record(z.string().min(1), z.union([LegacyModelPriceSchema, ProviderPricesSchema]));

/** provider → model → entry. */
export type PriceTable = Readonly<Record<string, Readonly<Record<string, ModelEntry>>>>;

/** Any provider (the lookup's last resort). */
export const ANY_PROVIDER = '*';

const half = { discount: 0.5 } as const;

/**
 * Shipped defaults: list prices per million tokens as published when read (`as_of`), with their `source`. A model or
 * lane whose figure could not be found is left out (unpriced), not guessed. Deployments with negotiated prices, or
 * prices that changed since, set PRICE_TABLE_FILE.
 */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  openai: {
    // openai.com/api/pricing (read 2026-12-03 through its mirrors in the docs index): Batch API 50 % off input and
    // output; flex processing is billed at Batch API rates for the models that offer it (gpt-5 family).
    'gpt-4o-mini': {
      realtime: { input_per_1m: 0.15, cached_input_per_1m: 0.075, output_per_1m: 0.6 },
      batch: half,
      as_of: '2026-12-03',
      source: 'openai.com/api/pricing',
    },
    'gpt-4o': {
      realtime: { input_per_1m: 2.5, cached_input_per_1m: 1.25, output_per_1m: 10 },
      batch: half,
      as_of: '2026-12-03',
      source: 'openai.com/api/pricing',
    },
    'gpt-4.1': {
      realtime: { input_per_1m: 2, cached_input_per_1m: 0.5, output_per_1m: 8 },
      batch: half,
      as_of: '2026-12-03',
      source: 'openai.com/api/pricing',
    },
    'gpt-4.1-mini': {
      realtime: { input_per_1m: 0.4, cached_input_per_1m: 0.1, output_per_1m: 1.6 },
      batch: half,
      as_of: '2026-12-03',
      source: 'openai.com/api/pricing',
    },
    'gpt-4.1-nano': {
      realtime: { input_per_1m: 0.1, cached_input_per_1m: 0.025, output_per_1m: 0.4 },
      batch: half,
      as_of: '2026-12-03',
      source: 'openai.com/api/pricing',
    },
    'gpt-5-mini': {
      realtime: { input_per_1m: 0.25, cached_input_per_1m: 0.025, output_per_1m: 2 },
      batch: half,
      flex: half,
      as_of: '2026-12-03',
      source: 'openai.com/api/pricing',
    },
    'text-embedding-3-small': {
      realtime: { input_per_1m: 0.02, output_per_1m: 0 },
      batch: half,
      as_of: '2026-12-03',
      source: 'openai.com/api/pricing',
    },
    'text-embedding-3-large': {
      realtime: { input_per_1m: 0.13, output_per_1m: 0 },
      batch: half,
      as_of: '2026-12-03',
      source: 'openai.com/api/pricing',
    },
    'text-embedding-ada-002': {
      realtime: { input_per_1m: 0.1, output_per_1m: 0 },
      batch: half,
      as_of: '2026-12-03',
      source: 'openai.com/api/pricing',
    },
  },
  anthropic: {
    // platform.claude.com/docs/en/about-claude/pricing (read 2026-12-03): base input, 5 min cache writes, cache hits,
    // output; Message Batches are 50 % of standard prices on all usage, cache writes and hits included.
    'claude-opus-4-1': {
      realtime: { input_per_1m: 15, cache_write_per_1m: 18.75, cached_input_per_1m: 1.5, output_per_1m: 75 },
      batch: half,
      as_of: '2026-12-03',
      source: 'platform.claude.com/docs/en/about-claude/pricing',
    },
    'claude-sonnet-4-5': {
      realtime: { input_per_1m: 3, cache_write_per_1m: 3.75, cached_input_per_1m: 0.3, output_per_1m: 15 },
      batch: half,
      as_of: '2026-12-03',
      source: 'platform.claude.com/docs/en/about-claude/pricing',
    },
    'claude-haiku-4-5': {
      realtime: { input_per_1m: 1, cache_write_per_1m: 1.25, cached_input_per_1m: 0.1, output_per_1m: 5 },
      batch: half,
      as_of: '2026-12-03',
      source: 'platform.claude.com/docs/en/about-claude/pricing',
    },
  },
  groq: {
    // groq.com/pricing as quoted in the docs index (read 2026-12-03). No batch figure was found there: the batch
    // lane is unpriced until PRICE_TABLE_FILE gives one.
    'llama-3.3-70b-versatile': {
      realtime: { input_per_1m: 0.59, output_per_1m: 0.79 },
      as_of: '2026-12-03',
      source: 'groq.com/pricing',
    },
    'llama-3.1-8b-instant': {
      realtime: { input_per_1m: 0.05, output_per_1m: 0.08 },
      as_of: '2026-12-03',
      source: 'groq.com/pricing',
    },
  },
  // together: docs.together.ai confirms batch at up to 50 % off serverless rates, but no per-model figure was found
  // for the simulator's models; doubleword: no published figure found (1 h and 24 h tiers go in `batch_windows`).
  // Both stay unpriced until PRICE_TABLE_FILE prices them.
  kluster: {
    // Kept from the first table (the providers' usual realtime prices of these open models, rounded), batch half.
    'klusterai/Meta-Llama-3.1-8B-Instruct-Turbo': {
      realtime: { input_per_1m: 0.18, output_per_1m: 0.18 },
      batch: half,
    },
    'klusterai/Meta-Llama-3.1-405B-Instruct-Turbo': {
      realtime: { input_per_1m: 3.5, output_per_1m: 3.5 },
      batch: half,
    },
    'klusterai/Meta-Llama-3.3-70B-Instruct-Turbo': {
      realtime: { input_per_1m: 0.7, output_per_1m: 0.7 },
      batch: half,
    },
    'deepseek-ai/DeepSeek-R1': { realtime: { input_per_1m: 3, output_per_1m: 7 }, batch: half },
    'deepseek-ai/DeepSeek-V3': { realtime: { input_per_1m: 1.25, output_per_1m: 1.25 }, batch: half },
  },
};

/** Parses price table JSON; throws an Error whose message names the source and every problem. */
export function parsePriceTable(json: string, source = 'PRICE_TABLE_FILE'): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = PriceTableSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${source}: ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(lines.join('\n'));
  }
  const table: Record<string, Record<string, ModelEntry>> = {};
  for (const [name, value] of Object.entries(parsed.data)) {
    if ('input_per_1m' in value && typeof value.input_per_1m === 'number') {
      const legacy = value as z.infer<typeof LegacyModelPriceSchema>;
      table[ANY_PROVIDER] ??= {};
      table[ANY_PROVIDER][name] = {
        realtime: { input_per_1m: legacy.input_per_1m, output_per_1m: legacy.output_per_1m },
        batch: { discount: legacy.batch_discount },
      };
    } else {
      table[name] = { ...(table[name] ?? {}), ...(value as Record<string, ModelEntry>) };
    }
  }
  return table;
}

/** The price table of a deployment: the file's entries when PRICE_TABLE_FILE is set, else the defaults. */
export function loadPriceTable(file: string | undefined): PriceTable {
  if (!file) return DEFAULT_PRICE_TABLE;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`PRICE_TABLE_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parsePriceTable(text, `PRICE_TABLE_FILE ${file}`);
}

/** Tokens of one answer as the provider reported them. `inputTokens` includes the cached and cache-written ones. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  /** Input tokens read from the prompt cache (OpenAI `cached_tokens`, Anthropic cache reads). */
  cachedTokens?: number;
  /** Input tokens written to the cache (Anthropic `cache_creation_input_tokens`). */
  cacheWriteTokens?: number;
}

export interface PricedModel {
  /** The provider key of the table that priced it (`openai`, `*`, …). */
  provider: string;
  /** The table's model name (a dated snapshot is priced by its base entry): bounded metric labels. */
  name: string;
  entry: ModelEntry;
}

function modelIn(models: Readonly<Record<string, ModelEntry>>, model: string): string | undefined {
  if (models[model]) return model;
  let best: string | undefined;
  for (const name of Object.keys(models)) {
    if (model.startsWith(`${name}-`) && (best === undefined || name.length > best.length)) best = name;
  }
  return best;
}

/**
 * The table entry that prices `model` at one of `providers` (tried in order, then `*`): its own, else the longest
 * entry it is a dated snapshot of (providers answer `gpt-4o-mini-2024-07-18` for `gpt-4o-mini`).
 */
export function priceFor(
  table: PriceTable,
  providers: string | readonly string[],
  model: string,
): PricedModel | undefined {
  const order = [...(typeof providers === 'string' ? [providers] : providers), ANY_PROVIDER];
  for (const provider of order) {
    const models = table[provider];
    if (!models) continue;
    const name = modelIn(models, model);
    if (name !== undefined) return { provider, name, entry: models[name] as ModelEntry };
  }
  return undefined;
}

function applyDiscount(rt: Rate, discount: number): Rate {
  const k = 1 - discount;
  const out: Rate = { input_per_1m: rt.input_per_1m * k, output_per_1m: rt.output_per_1m * k };
  if (rt.cached_input_per_1m !== undefined) out.cached_input_per_1m = rt.cached_input_per_1m * k;
  if (rt.cache_write_per_1m !== undefined) out.cache_write_per_1m = rt.cache_write_per_1m * k;
  return out;
}

function resolveLanePrice(rt: Rate, price: LanePrice | undefined): Rate | undefined {
  if (price === undefined) return undefined;
  return 'discount' in price ? applyDiscount(rt, price.discount) : price;
}

/** The prices of one lane of an entry (a batch window's own, if it has them); undefined when the lane is unpriced. */
export function laneRate(entry: ModelEntry, lane: Lane, window?: string): Rate | undefined {
  if (lane === 'realtime') return entry.realtime;
  if (lane === 'batch' && window !== undefined && entry.batch_windows?.[window] !== undefined) {
    return resolveLanePrice(entry.realtime, entry.batch_windows[window]);
  }
  return resolveLanePrice(entry.realtime, lane === 'batch' ? entry.batch : entry.flex);
}

/** USD of these tokens at these prices (cached and cache-written input at their own prices when the rate has them). */
export function usdOf(rate: Rate, usage: TokenUsage): number {
  const cached = Math.min(usage.cachedTokens ?? 0, usage.inputTokens);
  const written = Math.min(usage.cacheWriteTokens ?? 0, usage.inputTokens - cached);
  const fresh = usage.inputTokens - cached - written;
  return (
    (fresh * rate.input_per_1m +
      cached * (rate.cached_input_per_1m ?? rate.input_per_1m) +
      written * (rate.cache_write_per_1m ?? rate.input_per_1m) +
      usage.outputTokens * rate.output_per_1m) /
    1e6
  );
}

/** Money is summed in integer nano-dollars (a 10-token answer costs less than a micro-dollar). */
export const NANO = 1e9;
export const toNano = (usdValue: number): number => Math.round(usdValue * NANO);

/** A request's cost (SPEC §15), as the request object and its webhook carry it. */
export interface RequestCost {
  /** What it cost in its lane; null when unpriced. */
  usd: number | null;
  /** What the same tokens cost at realtime prices; null when unpriced. */
  realtime_usd: number | null;
  /** realtime_usd − usd; null when unpriced. */
  saved_usd: number | null;
  lane: Lane;
  priced: boolean;
}

/** The cost of one answer in every lane, in nano-dollars (`undefined`: that lane is unpriced). */
export interface LaneCosts {
  realtime: number;
  /** By lane, and `batch@<window>` for each completion window the entry prices of its own (`batch_windows`). */
  lanes: Partial<Record<Lane | `batch@${string}`, number>>;
}

/**
 * Prices one answer in every lane its entry knows (nano-dollars), for the settle script to pick the request's lane —
 * and, for a request in a completion window of its own (SPEC §10: Doubleword's `1h`), that window's batch price.
 */
export function laneCosts(entry: ModelEntry, usage: TokenUsage, window?: string): LaneCosts {
  const lanes: LaneCosts['lanes'] = {};
  for (const lane of LANES) {
    const rate = laneRate(entry, lane, window);
    if (rate) lanes[lane] = toNano(usdOf(rate, usage));
  }
  for (const w of Object.keys(entry.batch_windows ?? {})) {
    const rate = laneRate(entry, 'batch', w);
    if (rate) lanes[`batch@${w}`] = toNano(usdOf(rate, usage));
  }
  return { realtime: toNano(usdOf(entry.realtime, usage)), lanes };
}

/** The cost of one answer in one lane; `priced: false` (no money at all) when the model or the lane has no price. */
export function costOf(priced: PricedModel | undefined, lane: Lane, usage: TokenUsage, window?: string): RequestCost {
  const rate = priced ? laneRate(priced.entry, lane, window) : undefined;
  if (!priced || !rate) return { usd: null, realtime_usd: null, saved_usd: null, lane, priced: false };
  const usdNano = toNano(usdOf(rate, usage));
  const rtNano = toNano(usdOf(priced.entry.realtime, usage));
  return { usd: usdNano / NANO, realtime_usd: rtNano / NANO, saved_usd: (rtNano - usdNano) / NANO, lane, priced: true };
}

/** What batch pricing saved on these tokens at this entry, in USD (realtime price − batch price); 0 if unpriced. */
export function estimateSavingsUsd(entry: ModelEntry, usage: TokenUsage): number {
  const cost = costOf({ provider: '', name: '', entry }, 'batch', usage);
  return cost.saved_usd ?? 0;
}

const n = z.number().int().nonnegative();
const UsageSchema = z.object({
  model: z.string().min(1),
  usage: z.union([
    // Chat and legacy completions (and Anthropic answers, translated to this shape).
    z.object({
      prompt_tokens: n,
      completion_tokens: n,
      prompt_tokens_details: z
        .object({ cached_tokens: n.optional(), cache_creation_tokens: n.optional() })
        .passthrough()
        .nullish(),
    }),
    // Responses.
    z.object({
      input_tokens: n,
      output_tokens: n,
      input_tokens_details: z.object({ cached_tokens: n.optional() }).passthrough().nullish(),
    }),
    // Embeddings: input only.
    z.object({ prompt_tokens: n, total_tokens: n }),
  ]),
});

/** The model and token usage of a provider's answer body (chat, completions, responses, embeddings), if it has them. */
export function usageOf(body: unknown): ({ model: string } & TokenUsage) | undefined {
  const parsed = UsageSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const { model, usage: u } = parsed.data;
  const out: { model: string } & TokenUsage =
    'input_tokens' in u
      ? { model, inputTokens: u.input_tokens, outputTokens: u.output_tokens }
      : { model, inputTokens: u.prompt_tokens, outputTokens: 'completion_tokens' in u ? u.completion_tokens : 0 };
  const cached =
    'input_tokens' in u
      ? u.input_tokens_details?.cached_tokens
      : 'prompt_tokens_details' in u
        ? u.prompt_tokens_details?.cached_tokens
        : undefined;
  if (cached) out.cachedTokens = cached;
  const written = 'prompt_tokens_details' in u ? u.prompt_tokens_details?.cache_creation_tokens : undefined;
  if (written) out.cacheWriteTokens = written;
  return out;
}
