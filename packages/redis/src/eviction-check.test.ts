import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger } from '@batchbridge/logger';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, RECOMMENDED_LISTPACK_VALUE, spawnRedisServer } from './embedded.js';
import { adviseListpackValue } from './eviction-check.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('adviseListpackValue', () => {
  it('says once at start when Redis keeps records as hashtables, and nothing when it has the shipped value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bb-listpack-'));
    dirs.push(dir);
    const port = await freePort();
    const child = await spawnRedisServer('redis-server', port, dir, ['--appendonly', 'no']);
    const client = new Redis(port, '127.0.0.1');
    const sink = new PassThrough();
    const lines: string[] = [];
    sink.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const logger = createLogger({ service: 'test', level: 'info', destination: sink });
    try {
      expect(await adviseListpackValue(client, logger)).toBe(64);
      await client.config('SET', 'hash-max-listpack-value', String(RECOMMENDED_LISTPACK_VALUE));
      expect(await adviseListpackValue(client, logger)).toBe(RECOMMENDED_LISTPACK_VALUE);
      await new Promise((resolve) => setImmediate(resolve));
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] as string)).toMatchObject({ hashMaxListpackValue: 64, recommended: 8192 });
    } finally {
      client.disconnect();
      child.kill('SIGTERM');
    }
  });
});
