/**
 * Redis unreachable: intake answers 503 with Retry-After instead of hanging (the producer connection has no offline
 * queue and a 1 s command timeout), readiness turns false, and service resumes when Redis is back.
 */
import { startRedis, type TestRedis } from '@batchbridge/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, isOpenAiError, startTestIngest, type TestIngest } from '../test/helpers.js';

describe('ingest API when Redis is unreachable', () => {
  let redis: TestRedis;
  let t: TestIngest;
  beforeAll(async () => {
    redis = await startRedis({ forceProcess: true, aof: false });
    t = await startTestIngest({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await t?.api.close();
    await t?.rt.close();
    await redis?.stop();
  });

  it('answers 503 with Retry-After, never hangs, and recovers after a restart', async () => {
    expect((await t.chat(chatBody())).status).toBe(202);
    await redis.kill();

    // Both while the dead socket is still believed open and after ioredis noticed: always an answer.
    for (let i = 0; i < 3; i++) {
      const res = await t.chat(chatBody());
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(isOpenAiError(res.json)).toBe(true);
    }
    const get = await t.call('GET', `/v1/requests/breq_00${'0'.repeat(23)}`);
    expect(get.status).toBe(503);
    expect((await t.call('GET', '/readyz', { key: null })).status).toBe(503);
    expect((await t.call('GET', '/healthz', { key: null })).status).toBe(200);

    await redis.restart();
    let status = 0;
    for (let i = 0; i < 100 && status !== 202; i++) {
      status = (await t.chat(chatBody())).status;
      if (status !== 202) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(202);
  });
});
