/** The official openai SDK as a client of the ingest API: a drop-in base URL change is all a user needs. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, CALLBACK, startTestIngest, type TestIngest } from '../test/helpers.js';

describe('ingest API with the openai SDK', () => {
  let t: TestIngest;
  let client: OpenAI;
  beforeAll(async () => {
    t = await startTestIngest();
    client = new OpenAI({
      baseURL: `${t.url}/v1`,
      apiKey: ACME_KEY,
      maxRetries: 0,
      defaultHeaders: { 'X-Callback-URL': CALLBACK },
    });
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('chat.completions.create returns the request object', async () => {
    const created = (await client.chat.completions.create(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Summarise the night' }], temperature: 0 },
      { headers: { 'X-Custom-ID': 'sdk-1' } },
    )) as unknown as Record<string, unknown>;
    expect(created).toMatchObject({ object: 'batchbridge.request', status: 'queued', custom_id: 'sdk-1' });
    const record = await t.rt.store.requests.get(String(created.id));
    expect(record?.status).toBe('queued');
  });

  it('surfaces OpenAI-shaped errors as the SDK error classes', async () => {
    const bad = client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      temperature: 9,
    });
    await expect(bad).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(bad).rejects.toMatchObject({ status: 400, param: 'temperature' });

    const stream = client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    await expect(stream).rejects.toMatchObject({ status: 400, param: 'stream' });

    const unauthorised = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'bb_wrong_key_0123456789', maxRetries: 0 });
    await expect(unauthorised.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('models.list lists the models the key may use', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain('gpt-4o-mini');
  });
});
