/**
 * S1 under REDIS_DURABILITY=replica against `none` (issue 27, SPEC §18), not part of `pnpm bench`: a private master
 * (AOF everysec, as in production) with one replica on loopback, the ingest bundle in its own process, autocannon
 * closed-loop (64 connections, 2 KB bodies as in S1). Each rep runs `none` then `replica` on the same Redis pair, so the
 * two are measured in the same run under the same load; the table gives medians over the reps. Redis' own counters
 * show how many WAITs the replica mode sent per enqueue-many call (the coalescing).
 *
 *   pnpm build && pnpm bench:durability [--reps 3] [--seconds 8]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, spawnRedisServer } from '@batchbridge/redis';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { BENCH_API_KEY, BENCH_TENANT, chatBody } from './fixtures.js';
import { REPO_ROOT } from './procs.js';

const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const reps = Number(arg('--reps') ?? 3);
const seconds = Number(arg('--seconds') ?? 8);
const bundle = resolve(REPO_ROOT, 'services/ingest-api/dist/main.mjs');

async function waitUp(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited with code ${child.exitCode}`);
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  return exited;
}

async function commandCalls(redis: Redis, name: string): Promise<number> {
  const info = await redis.info('commandstats');
  return Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const dir = mkdtempSync(join(tmpdir(), 'bb-durability-'));
const children: ChildProcess[] = [];
try {
  const tenantsFile = join(dir, 'tenants.json');
  writeFileSync(tenantsFile, JSON.stringify({ tenants: [BENCH_TENANT] }));
  const masterPort = await freePort();
  const replicaPort = await freePort();
  mkdirSync(join(dir, 'master'));
  mkdirSync(join(dir, 'replica'));
  children.push(await spawnRedisServer('redis-server', masterPort, join(dir, 'master')));
  children.push(
    await spawnRedisServer('redis-server', replicaPort, join(dir, 'replica'), [
      '--replicaof',
      '127.0.0.1',
      String(masterPort),
    ]),
  );
  const master = new Redis({ port: masterPort });
  for (let i = 0; i < 100 && !(await master.info('replication')).includes('connected_slaves:1'); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }

  const results: Record<'none' | 'replica', Array<{ perS: number; p50: number; p99: number; non2xx: number }>> = {
    none: [],
    replica: [],
  };
  let waitsPerCall = 0;
  for (let rep = 1; rep <= reps; rep++) {
    for (const mode of ['none', 'replica'] as const) {
      await master.flushall();
      const port = await freePort();
      const server = spawn(process.execPath, [bundle], {
        env: {
          PATH: process.env.PATH ?? '',
          NODE_ENV: 'production',
          REDIS_URL: `redis://127.0.0.1:${masterPort}`,
          REDIS_KEY_PREFIX: 'dur',
          REDIS_DATA_DIR: dir,
          REDIS_DURABILITY: mode,
          TENANTS_FILE: tenantsFile,
          PORT: String(port),
          LOG_LEVEL: 'warn',
          WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
        },
        stdio: 'inherit',
      });
      const base = `http://127.0.0.1:${port}`;
      try {
        await waitUp(`${base}/readyz`, server);
        const shot = (s: number) =>
          autocannon({
            url: `${base}/v1/chat/completions`,
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${BENCH_API_KEY}`,
              'x-callback-url': 'http://127.0.0.1:9/hook',
            },
            body: chatBody(1, 2048).json,
            connections: 64,
            duration: s,
          });
        await shot(2); // JIT warm-up
        await master.config('RESETSTAT');
        const r = await shot(seconds);
        const waits = await commandCalls(master, 'wait');
        const calls = await commandCalls(master, 'evalsha');
        if (mode === 'replica') waitsPerCall = waits / Math.max(1, calls);
        results[mode].push({ perS: r['2xx'] / r.duration, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx });
        process.stderr.write(
          `rep ${rep}/${reps} ${mode}: ${Math.round(r['2xx'] / r.duration)} accepted/s, p50 ${r.latency.p50} ms, ` +
            `p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}; WAIT ${waits}, EVALSHA ${calls}\n`,
        );
      } finally {
        await stop(server);
      }
    }
  }
  master.disconnect();
  const row = (mode: 'none' | 'replica') => {
    const xs = results[mode];
    return `| ${mode} | ${Math.round(median(xs.map((x) => x.perS)))} | ${median(xs.map((x) => x.p50))} | ${median(xs.map((x) => x.p99))} | ${xs.reduce((n, x) => n + x.non2xx, 0)} |`;
  };
  const ratio = median(results.replica.map((x) => x.perS)) / median(results.none.map((x) => x.perS));
  process.stdout.write(
    [
      `S1 with REDIS_DURABILITY (${reps} reps × ${seconds} s, 64 connections, 2 KB bodies; medians):`,
      '',
      '| REDIS_DURABILITY | accepted/s | p50 ms | p99 ms | non-2xx |',
      '| --- | ---: | ---: | ---: | ---: |',
      row('none'),
      row('replica'),
      '',
      `replica / none: ${Math.round(ratio * 100)} %; WAITs per enqueue script call (replica, last rep): ${waitsPerCall.toFixed(2)}`,
      '',
    ].join('\n'),
  );
} finally {
  for (const c of children.reverse()) await stop(c);
  rmSync(dir, { recursive: true, force: true });
}
