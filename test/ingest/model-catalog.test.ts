// The model catalogue against the real simulator: before the provider's first list arrives, a model it does serve is
// not refused (issue 14.5 must not turn into a 400 for a real model right after start-up), and a junk name still is.
import { createLogger } from '@batchbridge/logger';
import { createProviderSim, FAST_TIMINGS, type ProviderSim } from '@batchbridge/provider-sim';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelCatalog } from '../../services/ingest-api/src/model-catalog.js';

let sim: ProviderSim;
const logger = createLogger({ service: 'test', level: 'silent' });

beforeAll(async () => {
  sim = await createProviderSim({ timings: FAST_TIMINGS, logger });
});
afterAll(async () => {
  await sim?.close();
});

describe('ModelCatalog', () => {
  it('waits for the first list instead of refusing a served model, and still refuses a junk one', async () => {
    const provider = new OpenAI({ baseURL: sim.url, apiKey: 'sim', maxRetries: 0 });
    const tenants = [{ id: 't', api_keys: ['k'.repeat(16)], webhook_secret: 'whsec_x', allowed_models: ['gpt-4o'] }];
    const catalog = new ModelCatalog(provider, ['gpt-4o-mini'], tenants, logger);
    catalog.start();
    try {
      // Not among the configured models, and the list is still on its way: `serves` alone would refuse it.
      expect(catalog.serves('text-embedding-3-small')).toBe(false);
      expect(await catalog.servesSoon('text-embedding-3-small')).toBe(true);
      expect(await catalog.servesSoon('no-such-model-anywhere')).toBe(false);
      expect(await catalog.servesSoon('gpt-4o')).toBe(true);
    } finally {
      catalog.stop();
    }
  });
});
