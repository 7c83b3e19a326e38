/**
 * What a completed answer costs, for the settle script to bill (SPEC §15): the answer's usage priced in every lane the
 * price table knows for its provider (its id, then its profile name) and model. The settle script picks the request's
 * lane (`lane` on its record: batch, flex or realtime) and writes the cost with the outcome, once. Used by the poller
 * for batch lines and by the fast lanes' worker for its answers, so every lane is billed the same way.
 */
import { laneCosts, type PriceTable, priceFor, usageOf } from '@batchbridge/config';
import type { BillItem } from './request-store.js';

export function billItemFor(
  prices: PriceTable,
  providerIds: readonly string[],
  providerLabel: string,
  response: unknown,
): BillItem | undefined {
  const u = usageOf((response as { body?: unknown } | undefined)?.body);
  if (!u) return undefined;
  const usage = {
    input_tokens: u.inputTokens,
    cached_tokens: u.cachedTokens ?? 0,
    cache_write_tokens: u.cacheWriteTokens ?? 0,
    output_tokens: u.outputTokens,
  };
  const priced = priceFor(prices, providerIds, u.model);
  if (!priced) return { provider: providerLabel, model: u.model, usage, lanes: {} };
  const costs = laneCosts(priced.entry, u);
  return { provider: providerLabel, model: priced.name, usage, lanes: costs.lanes, rt: costs.realtime };
}
