import { describe, expect, it } from 'vitest';
import { redactRedisUrl } from './banner.js';

describe('the start banner', () => {
  it('never prints the Redis password', () => {
    expect(redactRedisUrl('redis://:s3cret-pw@127.0.0.1:6379')).toBe('redis://:***@127.0.0.1:6379');
    expect(redactRedisUrl('rediss://app:p%40ss@redis.internal:6380/0')).toBe('rediss://app:***@redis.internal:6380/0');
    expect(redactRedisUrl('redis://a:x@h1:7000,redis://a:y@h2:7001')).toBe(
      'redis://a:***@h1:7000,redis://a:***@h2:7001',
    );
    expect(redactRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});

describe('pnpm start defaults', () => {
  it('flushes after 2 s with the bundled simulator and says so; shows /admin when ADMIN_KEY is set', async () => {
    const { parseConfig } = await import('@batchbridge/config');
    const { banner } = await import('./banner.js');
    const { embeddedEnvForTest } = await import('./embedded.js');
    const parsed = parseConfig(embeddedEnvForTest({ ADMIN_KEY: 'admin-key-0123456789abcdef' }));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.config.batch.maxWaitMs).toBe(2000);
    const text = banner({
      url: 'http://127.0.0.1:8080',
      config: parsed.config,
      redis: { url: 'redis://:pw-secret@127.0.0.1:6379', source: 'configured', stop: async () => undefined },
      sim: undefined,
      devTenant: undefined,
    } as never);
    expect(text).toMatch(/within 2 s \(BATCH_MAX_WAIT_MS\)/);
    expect(text).toContain('http://127.0.0.1:8080/admin');
    expect(text).not.toContain('pw-secret');
  });
});
