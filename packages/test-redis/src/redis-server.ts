/**
 * A private Redis for a test: testcontainers' Redis module when a Docker engine answers, else a `redis-server` spawned
 * on a free loopback port. Both support kill -9 and restart (with AOF the data survives, as in production).
 */

import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, pingRedis, spawnRedisServer } from '@batchbridge/redis';

export interface TestRedis {
  url: string;
  port: number;
  /** `'container'` or `'process'`. */
  kind: 'container' | 'process';
  /** SIGKILL the server (no shutdown save). */
  kill(): Promise<void>;
  /** Start it again on the same port and data dir. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Append-only file, fsync every second. @defaultValue `true` */
  aof?: boolean;
  /** Extra redis-server arguments, e.g. `['--maxmemory-policy', 'allkeys-lru']`. */
  args?: string[];
  /** Force a spawned process even when Docker answers. @defaultValue `false` */
  forceProcess?: boolean;
}

async function dockerAnswers(): Promise<boolean> {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  if (!options.forceProcess && (await dockerAnswers())) return startContainer(options);
  return startProcess(options);
}

async function startContainer(options: StartRedisOptions): Promise<TestRedis> {
  const { RedisContainer } = await import('@testcontainers/redis');
  const args = ['redis-server', '--maxmemory-policy', 'noeviction', ...(options.args ?? [])];
  if (options.aof !== false) args.push('--appendonly', 'yes', '--appendfsync', 'everysec');
  const container = await new RedisContainer('redis:7').withCommand(args).start();
  const port = container.getPort();
  const url = `redis://127.0.0.1:${port}`;
  return {
    url,
    port,
    kind: 'container',
    kill: async () => {
      await container.exec(['sh', '-c', 'kill -9 1']).catch(() => undefined);
    },
    restart: async () => {
      await container.restart();
    },
    stop: async () => {
      await container.stop();
    },
  };
}

async function startProcess(options: StartRedisOptions): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bb-redis-'));
  const extra = [...(options.args ?? [])];
  if (options.aof === false) extra.push('--appendonly', 'no');
  let child: ChildProcess = await spawnRedisServer('redis-server', port, dir, extra);
  const url = `redis://127.0.0.1:${port}`;
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((done) => {
      child.once('exit', () => done());
      child.kill('SIGKILL');
    });
  };
  return {
    url,
    port,
    kind: 'process',
    kill,
    restart: async () => {
      await kill();
      child = await spawnRedisServer('redis-server', port, dir, extra);
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Set by the vitest global setup (test/global-setup/redis.ts) to the private Redis the whole run shares. */
export const TEST_REDIS_URL_ENV = 'BATCHBRIDGE_TEST_REDIS_URL';

/**
 * The Redis most tests share: the run's private Redis (BATCHBRIDGE_TEST_REDIS_URL, started by the vitest global setup),
 * else REDIS_URL, else 127.0.0.1:6379 when it answers (only outside the global setup), else a private one (stopped by
 * the returned function). Tests isolate themselves with a fresh key prefix (see `freshPrefix`) and delete it after.
 */
export async function sharedRedisUrl(): Promise<{ url: string; stop: () => Promise<void> }> {
  const url = testRedisUrl();
  if (url) return { url, stop: async () => undefined };
  if (await pingRedis('127.0.0.1', 6379)) return { url: 'redis://127.0.0.1:6379', stop: async () => undefined };
  const r = await startRedis({ aof: false });
  return { url: r.url, stop: r.stop };
}

/** The shared test Redis URL when one is configured (global setup or REDIS_URL), without probing 6379. */
export function testRedisUrl(): string | undefined {
  return process.env[TEST_REDIS_URL_ENV] || process.env.REDIS_URL || undefined;
}

/** Minimal client surface for `deletePrefixKeys` (an ioredis `Redis`, or each master of a `Cluster`). */
interface ScanUnlink {
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
  unlink(...keys: string[]): Promise<number>;
}

/**
 * Deletes every key of a test prefix: `{<prefix>:…}` (domain keys and BullMQ queues) and `<prefix>:…`. SCAN + UNLINK,
 * key by key so it also works against one Cluster master. Returns how many keys were deleted.
 */
export async function deletePrefixKeys(redis: ScanUnlink, prefix: string): Promise<number> {
  let deleted = 0;
  for (const pattern of [`{${prefix}:*`, `${prefix}:*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) deleted += await redis.unlink(key);
    } while (cursor !== '0');
  }
  return deleted;
}

// Every prefix handed out in this worker, until the per-file cleanup (test/global-setup/clean-prefixes.ts) takes them.
// On globalThis so that one list survives the module being loaded under two paths.
const CREATED = Symbol.for('batchbridge.testkit.createdPrefixes');
function createdPrefixes(): Set<string> {
  const g = globalThis as { [CREATED]?: Set<string> };
  g[CREATED] ??= new Set<string>();
  return g[CREATED];
}

/** A key prefix no other test uses. Recorded, so the test file's cleanup deletes its keys after its last hook. */
export function freshPrefix(label = 't'): string {
  const prefix = `${label}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  createdPrefixes().add(prefix);
  return prefix;
}

/** The prefixes `freshPrefix` handed out since the last call (and forgets them). */
export function takeCreatedPrefixes(): string[] {
  const set = createdPrefixes();
  const list = [...set];
  set.clear();
  return list;
}
