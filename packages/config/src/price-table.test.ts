import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './env.js';
import {
  costOf,
  DEFAULT_PRICE_TABLE,
  estimateSavingsUsd,
  laneCosts,
  laneRate,
  loadPriceTable,
  type ModelEntry,
  parsePriceTable,
  priceFor,
  usageOf,
} from './price-table.js';
import { hasFlex, PROVIDER_PROFILES } from './provider-profiles.js';

function file(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'bb-prices-')), 'prices.json');
  writeFileSync(path, content);
  return path;
}

describe('price table', () => {
  it('defaults price the simulator models of the priced providers', () => {
    const table = loadPriceTable(undefined);
    for (const model of ['gpt-4o-mini', 'gpt-4.1-mini', 'gpt-5-mini', 'text-embedding-3-small']) {
      expect(priceFor(table, 'openai', model)?.name).toBe(model);
    }
    expect(priceFor(table, 'kluster', 'klusterai/Meta-Llama-3.1-8B-Instruct-Turbo')?.provider).toBe('kluster');
    expect(priceFor(table, 'anthropic', 'claude-sonnet-4-5-20250929')?.name).toBe('claude-sonnet-4-5');
    // A provider the table does not price is not priced by another provider's figures.
    expect(priceFor(table, 'together', 'gpt-4o-mini')).toBeUndefined();
    expect(priceFor(table, 'doubleword', 'Qwen/Qwen3-30B-A3B-Instruct-2507-FP8')).toBeUndefined();
  });

  it('looks a provider up by id, then profile, then any provider', () => {
    const table = parsePriceTable(
      JSON.stringify({
        'openai-eu': { 'gpt-4o-mini': { realtime: { input_per_1m: 9, output_per_1m: 9 } } },
        '*': { 'gpt-4o-mini': { realtime: { input_per_1m: 1, output_per_1m: 1 } } },
      }),
    );
    expect(priceFor(table, ['openai-eu', 'openai'], 'gpt-4o-mini')?.provider).toBe('openai-eu');
    expect(priceFor(table, ['openai-us', 'openai'], 'gpt-4o-mini')?.provider).toBe('*');
  });

  it('prices a dated snapshot by its base entry, the longest one, and nothing it does not know', () => {
    const table = loadPriceTable(undefined);
    expect(priceFor(table, 'openai', 'gpt-4o-mini-2024-07-18')?.name).toBe('gpt-4o-mini');
    expect(priceFor(table, 'openai', 'gpt-4o-2024-08-06')?.name).toBe('gpt-4o');
    expect(priceFor(table, 'openai', 'mystery-model')).toBeUndefined();
  });

  it('costs each lane: batch at half, flex by its own price, realtime at list, cached input at its price', () => {
    const entry: ModelEntry = {
      realtime: { input_per_1m: 2, cached_input_per_1m: 0.5, output_per_1m: 8 },
      batch: { discount: 0.5 },
      flex: { input_per_1m: 1.5, output_per_1m: 6 },
    };
    const priced = { provider: 'openai', name: 'm', entry };
    // 1M input of which 200k cached, 500k output.
    const usage = { inputTokens: 1_000_000, cachedTokens: 200_000, outputTokens: 500_000 };
    // realtime: 800k × 2 + 200k × 0.5 + 500k × 8 = 1.6 + 0.1 + 4 = 5.7
    expect(costOf(priced, 'realtime', usage)).toEqual({
      usd: 5.7,
      realtime_usd: 5.7,
      saved_usd: 0,
      lane: 'realtime',
      priced: true,
    });
    expect(costOf(priced, 'batch', usage)).toEqual({
      usd: 2.85,
      realtime_usd: 5.7,
      saved_usd: 2.85,
      lane: 'batch',
      priced: true,
    });
    // flex: cached input has no flex price of its own, so it is charged at the flex input price: 1M × 1.5 + 3 = 4.5.
    expect(costOf(priced, 'flex', usage)).toMatchObject({ usd: 4.5, saved_usd: 1.2, priced: true });
    expect(laneCosts(entry, usage)).toEqual({
      realtime: 5_700_000_000,
      lanes: { batch: 2_850_000_000, flex: 4_500_000_000, realtime: 5_700_000_000 },
    });
  });

  it('says unpriced, never free, for a lane or a model without a price', () => {
    const entry: ModelEntry = { realtime: { input_per_1m: 1, output_per_1m: 1 } };
    const usage = { inputTokens: 10, outputTokens: 10 };
    const unpriced = { usd: null, realtime_usd: null, saved_usd: null, priced: false };
    expect(costOf({ provider: 'groq', name: 'm', entry }, 'batch', usage)).toEqual({ ...unpriced, lane: 'batch' });
    expect(costOf(undefined, 'realtime', usage)).toEqual({ ...unpriced, lane: 'realtime' });
    expect(laneCosts(entry, usage).lanes).toEqual({ realtime: 20_000 });
  });

  it('prices Anthropic cache writes and reads, and a batch window of its own (Doubleword 1 h)', () => {
    const claude = priceFor(DEFAULT_PRICE_TABLE, 'anthropic', 'claude-haiku-4-5-20251001');
    // 100k fresh at $1, 100k cache write at $1.25, 800k cache read at $0.10, 10k output at $5 (batch: half).
    const usage = { inputTokens: 1_000_000, cacheWriteTokens: 100_000, cachedTokens: 800_000, outputTokens: 10_000 };
    expect(costOf(claude, 'realtime', usage).usd).toBeCloseTo(0.1 + 0.125 + 0.08 + 0.05, 9);
    expect(costOf(claude, 'batch', usage).usd).toBeCloseTo((0.1 + 0.125 + 0.08 + 0.05) / 2, 9);
    const dw: ModelEntry = {
      realtime: { input_per_1m: 1, output_per_1m: 1 },
      batch: { discount: 0.75 },
      batch_windows: { '1h': { discount: 0.5 } },
    };
    expect(laneRate(dw, 'batch', '1h')?.input_per_1m).toBe(0.5);
    expect(laneRate(dw, 'batch', '24h')?.input_per_1m).toBe(0.25);
  });

  it('estimates savings as realtime minus batch price of the tokens', () => {
    // 1M input at $2.50 and 1M output at $10, half price in batch: $12.50 realtime, $6.25 saved.
    const entry = DEFAULT_PRICE_TABLE.openai?.['gpt-4o'] as ModelEntry;
    expect(estimateSavingsUsd(entry, { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBeCloseTo(6.25, 9);
    expect(estimateSavingsUsd({ realtime: entry.realtime }, { inputTokens: 5, outputTokens: 5 })).toBe(0);
  });

  it('loads PRICE_TABLE_FILE in the first format too, as any provider with a batch discount of one half', () => {
    const table = loadPriceTable(file('{"my-model":{"input_per_1m":1,"output_per_1m":3}}'));
    expect(table).toEqual({
      '*': { 'my-model': { realtime: { input_per_1m: 1, output_per_1m: 3 }, batch: { discount: 0.5 } } },
    });
    expect(priceFor(table, 'openai', 'gpt-4o-mini')).toBeUndefined();
    expect(priceFor(table, 'openai', 'my-model')?.provider).toBe('*');
  });

  it('refuses a bad file with a message naming the file and the field', () => {
    expect(() => loadPriceTable(file('{"m":{"input_per_1m":-1,"output_per_1m":1}}'))).toThrow(
      /PRICE_TABLE_FILE .*prices\.json: m/,
    );
    expect(() =>
      loadPriceTable(file('{"openai":{"m":{"realtime":{"input_per_1m":1},"batch":{"discount":2}}}}')),
    ).toThrow(/PRICE_TABLE_FILE .*prices\.json: openai/);
    expect(() => loadPriceTable(file('not json'))).toThrow(/PRICE_TABLE_FILE .*: not valid JSON/);
    expect(() => loadPriceTable('/nonexistent/prices.json')).toThrow(/PRICE_TABLE_FILE: cannot read .*ENOENT/);
  });

  it('reads model and usage (cached tokens included) from chat, responses and embeddings bodies', () => {
    expect(
      usageOf({
        model: 'gpt-4o',
        usage: {
          prompt_tokens: 7,
          completion_tokens: 3,
          total_tokens: 10,
          prompt_tokens_details: { cached_tokens: 2 },
        },
      }),
    ).toEqual({ model: 'gpt-4o', inputTokens: 7, outputTokens: 3, cachedTokens: 2 });
    // An Anthropic answer as the adapter translates it: cache writes apart from cache reads.
    expect(
      usageOf({
        model: 'claude-haiku-4-5',
        usage: {
          prompt_tokens: 18,
          completion_tokens: 4,
          total_tokens: 22,
          prompt_tokens_details: { cached_tokens: 6, audio_tokens: 0, cache_creation_tokens: 2 },
        },
      }),
    ).toEqual({ model: 'claude-haiku-4-5', inputTokens: 18, outputTokens: 4, cachedTokens: 6, cacheWriteTokens: 2 });
    expect(
      usageOf({
        model: 'gpt-4o',
        usage: { input_tokens: 5, output_tokens: 4, input_tokens_details: { cached_tokens: 1 } },
      }),
    ).toEqual({ model: 'gpt-4o', inputTokens: 5, outputTokens: 4, cachedTokens: 1 });
    expect(usageOf({ model: 'text-embedding-3-small', usage: { prompt_tokens: 8, total_tokens: 8 } })).toEqual({
      model: 'text-embedding-3-small',
      inputTokens: 8,
      outputTokens: 0,
    });
    expect(usageOf({ model: 'gpt-4o' })).toBeUndefined();
    expect(usageOf('text')).toBeUndefined();
  });

  it('is configured by PRICE_TABLE_FILE', () => {
    const r = parseConfig({ PRICE_TABLE_FILE: '/etc/bb/prices.json' });
    expect(r.ok && r.config.priceTableFile).toBe('/etc/bb/prices.json');
  });
});

describe('flex per model (SPEC §10)', () => {
  const openai = PROVIDER_PROFILES.openai;

  it('offers flex for the gpt-5 family, o3 and o4-mini only (with their snapshots)', () => {
    for (const model of [
      'gpt-5',
      'gpt-5-mini',
      'gpt-5-nano',
      'gpt-5-mini-2025-08-07',
      'o3',
      'o3-2025-04-16',
      'o4-mini',
    ])
      expect(hasFlex(openai, model), model).toBe(true);
    for (const model of ['gpt-4o-mini', 'gpt-4.1', 'o3-mini', 'o1', 'text-embedding-3-small', 'gpt-50'])
      expect(hasFlex(openai, model), model).toBe(false);
    // A profile without flex offers it for nothing; one with flex and no list, for every model.
    expect(hasFlex(PROVIDER_PROFILES.doubleword, 'gpt-5-mini')).toBe(false);
    const { flexModels: _, ...anyModel } = openai;
    expect(hasFlex(anyModel, 'gpt-4o-mini')).toBe(true);
  });

  it('ships no flex price for a model without flex, and prices flex where it has it', () => {
    for (const [model, entry] of Object.entries(DEFAULT_PRICE_TABLE.openai ?? {})) {
      if (entry.flex !== undefined) expect(hasFlex(openai, model), model).toBe(true);
      if (hasFlex(openai, model)) expect(laneRate(entry, 'flex'), model).toBeDefined();
    }
    for (const [provider, models] of Object.entries(DEFAULT_PRICE_TABLE)) {
      if (provider === 'openai') continue;
      for (const [model, entry] of Object.entries(models)) expect(entry.flex, `${provider} ${model}`).toBeUndefined();
    }
  });
});
