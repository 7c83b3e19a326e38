import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, pingRedis, resolveRedis } from './embedded.js';
import { RedisSetupError } from './errors.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('resolveRedis (the embedded default of SPEC §5)', () => {
  it('uses REDIS_URL as given', async () => {
    const r = await resolveRedis({ url: 'redis://example:6380' });
    expect(r).toMatchObject({ url: 'redis://example:6380', source: 'configured' });
  });

  it('starts its own redis-server with AOF when nothing answers on the local port', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bb-embedded-'));
    dirs.push(dataDir);
    const closedPort = await freePort();
    const r = await resolveRedis({ localPort: closedPort, dataDir });
    try {
      expect(r.source).toBe('embedded');
      const client = new Redis(r.url);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      expect(await client.config('GET', 'hash-max-listpack-value')).toEqual(['hash-max-listpack-value', '8192']);
      await client.set('k', 'v');
      await client.quit();
      expect(existsSync(dataDir)).toBe(true);
    } finally {
      await r.stop();
    }
    expect(await pingRedis('127.0.0.1', Number(new URL(r.url).port))).toBe(false);
  });

  it('explains how to get Redis when none answers and redis-server cannot start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bb-embedded-'));
    dirs.push(dataDir);
    const err = await resolveRedis({
      localPort: await freePort(),
      dataDir,
      redisServerBin: '/nonexistent/redis-server',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisSetupError);
    expect((err as Error).message).toMatch(/No Redis found.*Install Redis 7.*REDIS_URL=redis:\/\/host:port/s);
  });
});
