/**
 * The price table behind the savings estimate (`PRICE_TABLE_FILE`): realtime prices per million tokens and the batch
 * discount of each model. Savings of one completed request = realtime price − batch price of its tokens, that is
 * `(input × input_per_1m + output × output_per_1m) / 1e6 × batch_discount`. Models missing from the table count
 * tokens but no money: an estimate must not invent prices.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const ModelPriceSchema = z.object({
  /** Realtime USD per million input (prompt) tokens. */
  input_per_1m: z.number().nonnegative(),
  /** Realtime USD per million output (completion) tokens. */
  output_per_1m: z.number().nonnegative(),
  /** Fraction of the realtime price the batch API takes off (0.5 = half price). */
  batch_discount: z.number().min(0).max(1).default(0.5),
});

export const PriceTableSchema = z.record(z.string().min(1), ModelPriceSchema);

export type ModelPrice = z.infer<typeof ModelPriceSchema>;
export type PriceTable = Readonly<Record<string, ModelPrice>>;

/**
 * Defaults for the simulator's models (list prices at the time of writing, rounded; the kluster ones are the
 * providers' usual realtime prices of these open models). Deployments with negotiated prices set PRICE_TABLE_FILE.
 */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  'gpt-4o-mini': { input_per_1m: 0.15, output_per_1m: 0.6, batch_discount: 0.5 },
  'gpt-4o': { input_per_1m: 2.5, output_per_1m: 10, batch_discount: 0.5 },
  'gpt-4.1-mini': { input_per_1m: 0.4, output_per_1m: 1.6, batch_discount: 0.5 },
  'gpt-4.1-nano': { input_per_1m: 0.1, output_per_1m: 0.4, batch_discount: 0.5 },
  'gpt-4.1': { input_per_1m: 2, output_per_1m: 8, batch_discount: 0.5 },
  'gpt-5-mini': { input_per_1m: 0.25, output_per_1m: 2, batch_discount: 0.5 },
  'klusterai/Meta-Llama-3.1-8B-Instruct-Turbo': { input_per_1m: 0.18, output_per_1m: 0.18, batch_discount: 0.5 },
  'klusterai/Meta-Llama-3.1-405B-Instruct-Turbo': { input_per_1m: 3.5, output_per_1m: 3.5, batch_discount: 0.5 },
  'klusterai/Meta-Llama-3.3-70B-Instruct-Turbo': { input_per_1m: 0.7, output_per_1m: 0.7, batch_discount: 0.5 },
  'deepseek-ai/DeepSeek-R1': { input_per_1m: 3, output_per_1m: 7, batch_discount: 0.5 },
  'deepseek-ai/DeepSeek-V3': { input_per_1m: 1.25, output_per_1m: 1.25, batch_discount: 0.5 },
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
  return parsed.data;
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

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

/**
 * The table entry that prices `model`: its own, else the longest entry it is a dated snapshot of (providers answer
 * `gpt-4o-mini-2024-07-18` for `gpt-4o-mini`). The name returned is the table's, so metric labels stay bounded.
 */
export function priceFor(table: PriceTable, model: string): { name: string; price: ModelPrice } | undefined {
  const own = table[model];
  if (own) return { name: model, price: own };
  let best: string | undefined;
  for (const name of Object.keys(table)) {
    if (model.startsWith(`${name}-`) && (best === undefined || name.length > best.length)) best = name;
  }
  return best === undefined ? undefined : { name: best, price: table[best]! };
}

/** What batch pricing saved on these tokens at this price, in USD (realtime price − batch price). */
export function estimateSavingsUsd(price: ModelPrice, usage: TokenUsage): number {
  const realtime = (usage.inputTokens * price.input_per_1m + usage.outputTokens * price.output_per_1m) / 1e6;
  return realtime * price.batch_discount;
}

const UsageSchema = z.object({
  model: z.string().min(1),
  usage: z.object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() }),
});

/** The model and token usage of a chat.completion body (a provider's result line), if it reports them. */
export function usageOf(body: unknown): ({ model: string } & TokenUsage) | undefined {
  const parsed = UsageSchema.safeParse(body);
  if (!parsed.success) return undefined;
  return {
    model: parsed.data.model,
    inputTokens: parsed.data.usage.prompt_tokens,
    outputTokens: parsed.data.usage.completion_tokens,
  };
}
