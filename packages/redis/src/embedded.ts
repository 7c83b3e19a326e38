/**
 * The embedded default of SPEC §5: with no REDIS_URL, use 127.0.0.1:6379 if it answers; else start `redis-server` on
 * a free loopback port with AOF under `.data/redis`; else explain how to get Redis.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from '@batchbridge/logger';
import { RedisSetupError } from './errors.js';

export interface ResolvedRedis {
  url: string;
  /** `'configured'` (REDIS_URL), `'local'` (127.0.0.1:6379 answered) or `'embedded'` (spawned here). */
  source: 'configured' | 'local' | 'embedded';
  /** Stops the embedded server (no-op otherwise). */
  stop(): Promise<void>;
}

export interface ResolveRedisOptions {
  url?: string | undefined;
  dataDir?: string;
  logger?: Logger;
  /** Port to probe for a local Redis. @defaultValue `6379` */
  localPort?: number;
  /** `sentinel`: the Sentinels name the master; nothing is probed or started here. */
  mode?: 'standalone' | 'cluster' | 'sentinel';
  /** The redis-server binary. @defaultValue `'redis-server'` */
  redisServerBin?: string;
}

export async function resolveRedis(options: ResolveRedisOptions = {}): Promise<ResolvedRedis> {
  const noop = async () => undefined;
  if (options.url) return { url: options.url, source: 'configured', stop: noop };
  if (options.mode === 'sentinel') return { url: '', source: 'configured', stop: noop };
  const localPort = options.localPort ?? 6379;
  if (await pingRedis('127.0.0.1', localPort)) {
    return { url: `redis://127.0.0.1:${localPort}`, source: 'local', stop: noop };
  }
  const dataDir = resolve(options.dataDir ?? '.data/redis');
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const bin = options.redisServerBin ?? 'redis-server';
  let child: ChildProcess;
  try {
    // Request records (2 KB bodies, 1 KB answers) kept one listpack each, as docker-compose.yml sets it
    // (docs/scaling.md: about a quarter less memory queued, nearly half finished; bench S10).
    child = await spawnRedisServer(bin, port, dataDir, [
      '--hash-max-listpack-value',
      String(RECOMMENDED_LISTPACK_VALUE),
    ]);
  } catch (err) {
    throw new RedisSetupError(
      'redis.unavailable',
      'No Redis found: REDIS_URL is unset, nothing answers on 127.0.0.1:6379, and `redis-server` could not be started ' +
        `(${(err as Error).message}). Install Redis 7 (e.g. \`apt-get install redis-server\` or \`brew install redis\`), ` +
        'run `docker run -p 6379:6379 redis:7`, or set REDIS_URL=redis://host:port.',
      { cause: err },
    );
  }
  options.logger?.info({ port, dataDir }, 'started embedded redis-server (AOF on)');
  return {
    url: `redis://127.0.0.1:${port}`,
    source: 'embedded',
    stop: () => stopChild(child),
  };
}

export function pingRedis(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const socket = new Socket();
    let buf = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) finish(buf.startsWith('+PONG') || buf.startsWith('-NOAUTH'));
    });
    socket.connect(port, host, () => socket.write('PING\r\n'));
  });
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

/** The `hash-max-listpack-value` batchbridge's shipped Redis configurations set (docker-compose, k8s, embedded). */
export const RECOMMENDED_LISTPACK_VALUE = 8192;

/** Starts `redis-server` with AOF (everysec) and noeviction on 127.0.0.1:port; resolves once it answers PING. */
export async function spawnRedisServer(
  bin: string,
  port: number,
  dataDir: string,
  extraArgs: string[] = [],
): Promise<ChildProcess> {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dataDir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
    '--protected-mode',
    'yes',
    ...extraArgs,
  ];
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}`)));
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const up = await Promise.race([pingRedis('127.0.0.1', port, 200), failed]);
    if (up) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port} within 10 s`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
  });
}
