/**
 * CPU per accepted request of the ingest API (not part of `pnpm bench`): a private redis-server, the ingest bundle alone
 * in its own process, autocannon closed-loop (64 connections, 2 KB bodies as in S1) for a warm-up and a measured shot,
 * then the CPU time the ingest process and Redis used during the shot ÷ the requests answered. On this shared 2-core
 * box that is a much steadier measure of a code change than throughput: alternate the old and the new bundle.
 *
 *   pnpm build && pnpm exec tsx bench/src/ingest-cpu.ts [--bundle services/ingest-api/dist/main.mjs] [--seconds 8]
 *   pnpm exec tsx bench/src/ingest-cpu.ts --baseline      # the bare node:http + RPUSH baseline of S1, same measure
 *   pnpm exec tsx bench/src/ingest-cpu.ts --cpu-prof DIR  # also write a V8 CPU profile of the ingest process
 *   pnpm exec tsx bench/src/ingest-cpu.ts --node-args "--max-semi-space-size=1"  # node flags for the ingest process
 *
 * Linux only (reads /proc/<pid>/stat).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '@batchbridge/redis';
import autocannon from 'autocannon';
import { BENCH_API_KEY, BENCH_TENANT, chatBody } from './fixtures.js';
import { REPO_ROOT } from './procs.js';

const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const baseline = argv.includes('--baseline');
const bundle = resolve(REPO_ROOT, arg('--bundle') ?? 'services/ingest-api/dist/main.mjs');
const seconds = Number(arg('--seconds') ?? 8);
const cpuProfDir = arg('--cpu-prof');
/** Extra node flags for the ingest process, space-separated (e.g. `--node-args "--max-semi-space-size=32"`). */
const nodeArgs = (arg('--node-args') ?? '').split(' ').filter((a) => a !== '');

/** utime + stime of a process, in milliseconds (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function waitUp(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
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

const dir = mkdtempSync(join(tmpdir(), 'bb-ingest-cpu-'));
const children: ChildProcess[] = [];
try {
  const tenantsFile = join(dir, 'tenants.json');
  writeFileSync(tenantsFile, JSON.stringify({ tenants: [BENCH_TENANT] }));
  const redisPort = await freePort();
  const redis = spawn('redis-server', ['--port', String(redisPort), '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  children.push(redis);
  const port = await freePort();
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const server = baseline
    ? spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/src/children/ingest-baseline.ts')], {
        env: { PATH: process.env.PATH ?? '', REDIS_URL: redisUrl, PORT: String(port) },
        stdio: 'inherit',
      })
    : spawn(
        process.execPath,
        [...nodeArgs, ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []), bundle],
        {
          env: {
            PATH: process.env.PATH ?? '',
            NODE_ENV: 'production',
            REDIS_URL: redisUrl,
            REDIS_KEY_PREFIX: 'cpu',
            REDIS_DATA_DIR: dir,
            TENANTS_FILE: tenantsFile,
            PORT: String(port),
            LOG_LEVEL: 'warn',
            WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
          },
          stdio: 'inherit',
        },
      );
  children.push(server);
  const base = `http://127.0.0.1:${port}`;
  await waitUp(baseline ? `${base}/` : `${base}/readyz`, server);

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
  const warm = await shot(2); // JIT warm-up
  const [server0, redis0] = [cpuMs(server.pid as number), cpuMs(redis.pid as number)];
  const r = await shot(seconds);
  const [server1, redis1] = [cpuMs(server.pid as number), cpuMs(redis.pid as number)];
  const answered = r['2xx'];
  const perReq = (ms: number) => ((ms * 1000) / Math.max(1, answered)).toFixed(1);
  process.stdout.write(
    `${baseline ? 'baseline' : bundle}: ${Math.round(answered / r.duration)} accepted/s (non-2xx ${r.non2xx}), ` +
      `CPU per request: server ${perReq(server1 - server0)} µs, Redis ${perReq(redis1 - redis0)} µs ` +
      `(answered since start: ${warm['2xx'] + answered})\n`,
  );
} finally {
  for (const c of children.reverse()) {
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
