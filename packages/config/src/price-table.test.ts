import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './env.js';
import { DEFAULT_PRICE_TABLE, estimateSavingsUsd, loadPriceTable, priceFor, usageOf } from './price-table.js';

function file(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'bb-prices-')), 'prices.json');
  writeFileSync(path, content);
  return path;
}

describe('price table', () => {
  it('defaults price every model of the simulator', () => {
    for (const model of ['gpt-4o-mini', 'gpt-4.1-mini', 'klusterai/Meta-Llama-3.1-8B-Instruct-Turbo']) {
      expect(priceFor(loadPriceTable(undefined), model)?.name).toBe(model);
    }
  });

  it('estimates savings as realtime minus batch price of the tokens', () => {
    // 1M input at $2.50 and 1M output at $10, half price in batch: $12.50 realtime, $6.25 saved.
    const price = DEFAULT_PRICE_TABLE['gpt-4o']!;
    expect(estimateSavingsUsd(price, { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBeCloseTo(6.25, 10);
    expect(estimateSavingsUsd({ ...price, batch_discount: 0 }, { inputTokens: 5, outputTokens: 5 })).toBe(0);
  });

  it('prices a dated snapshot by its base entry, the longest one, and nothing it does not know', () => {
    const table = loadPriceTable(undefined);
    expect(priceFor(table, 'gpt-4o-mini-2024-07-18')?.name).toBe('gpt-4o-mini');
    expect(priceFor(table, 'gpt-4o-2024-08-06')?.name).toBe('gpt-4o');
    expect(priceFor(table, 'mystery-model')).toBeUndefined();
  });

  it('loads PRICE_TABLE_FILE, defaulting the discount to one half', () => {
    const table = loadPriceTable(file('{"my-model":{"input_per_1m":1,"output_per_1m":3}}'));
    expect(table).toEqual({ 'my-model': { input_per_1m: 1, output_per_1m: 3, batch_discount: 0.5 } });
    expect(priceFor(table, 'gpt-4o-mini')).toBeUndefined();
  });

  it('refuses a bad file with a message naming the file and the field', () => {
    expect(() => loadPriceTable(file('{"m":{"input_per_1m":-1,"output_per_1m":1}}'))).toThrow(
      /PRICE_TABLE_FILE .*prices\.json: m\.input_per_1m/,
    );
    expect(() => loadPriceTable(file('not json'))).toThrow(/PRICE_TABLE_FILE .*: not valid JSON/);
    expect(() => loadPriceTable('/nonexistent/prices.json')).toThrow(/PRICE_TABLE_FILE: cannot read .*ENOENT/);
  });

  it('reads model and usage from a chat.completion body, and nothing from other shapes', () => {
    expect(usageOf({ model: 'gpt-4o', usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } })).toEqual({
      model: 'gpt-4o',
      inputTokens: 7,
      outputTokens: 3,
    });
    expect(usageOf({ model: 'gpt-4o' })).toBeUndefined();
    expect(usageOf('text')).toBeUndefined();
  });

  it('is configured by PRICE_TABLE_FILE', () => {
    const r = parseConfig({ PRICE_TABLE_FILE: '/etc/bb/prices.json' });
    expect(r.ok && r.config.priceTableFile).toBe('/etc/bb/prices.json');
  });
});
