// Issue 14.5 / 16.5: `allowed_models: ["*"]` means the models the provider serves. A junk name is a 400
// `model_not_found` at the door, not its own provider batch failing a minute later (and its own metric series).
import { startIngestApi } from '@batchbridge/ingest-api';
import { createProviderSim, type ProviderSim } from '@batchbridge/provider-sim';
import { createTestRuntime, TEST_TENANTS, type TestRuntime } from '@batchbridge/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const KEY = TEST_TENANTS[0]!.api_keys[0]!; // acme: allowed_models ['*']

describe('model catalogue', () => {
  let sim: ProviderSim;
  let rt: TestRuntime;
  let api: Awaited<ReturnType<typeof startIngestApi>>;

  beforeAll(async () => {
    sim = await createProviderSim({ models: ['gpt-4o-mini', 'sim-special-1'] });
    rt = await createTestRuntime({ env: { UPSTREAM_BASE_URL: sim.url, UPSTREAM_API_KEY: 'sk-test' } });
    api = await startIngestApi(rt, { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await api?.close();
    await rt?.dispose();
    await sim?.close();
  });

  const chat = (model: string) =>
    fetch(`${api.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${KEY}`,
        'content-type': 'application/json',
        'x-callback-url': 'http://192.0.2.10/hook',
      },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
  const listed = async () => {
    const res = await fetch(`${api.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
    return ((await res.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
  };

  it("lists the provider's models and accepts one the profile does not know", async () => {
    await expect.poll(listed, { timeout: 10_000 }).toContain('sim-special-1');
    // 422: the documentation-range callback is refused by the address policy — the model check passed before it.
    const res = await chat('sim-special-1');
    expect(res.status).toBe(422);
  });

  it('refuses a model no provider serves with 400 model_not_found, before anything is stored', async () => {
    const res = await chat('gpt-junk-name-1234');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; param: string } };
    expect(body.error).toMatchObject({ code: 'model_not_found', param: 'model' });
    expect(await rt.store.requests.stateCounts()).toMatchObject({ queued: 0 });
  });
});
