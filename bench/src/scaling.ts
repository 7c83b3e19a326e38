/**
 * Scaling of intake (issue 10, docs/scaling.md §4): accepted requests per second with 1 and 2 ingest-api replicas,
 * on one standalone Redis and on a 3-master Redis Cluster. Every ingest replica is its own process
 * (`node --import tsx services/ingest-api/src/main.ts`); no packer runs, so nothing is flushed and the figure is intake
 * alone. Load: one autocannon instance in this process, closed loop, its connections split evenly over the replicas'
 * URLs. CPU time of the ingest processes, the Redis processes and this process is read from /proc around the measured
 * window, so the report shows where the cores went — on a 2-core box the load generator, the services and Redis
 * compete for the same two cores, and the table says so rather than hiding it.
 *
 * Every Redis (the standalone one and each cluster master) runs with the same settings: persistence off (the figures
 * compare code paths, not disks, as the other benchmarks do), `noeviction`. Redis is emptied before every measured run.
 *
 *   pnpm bench:scaling                       # 3 runs of 10 s per setup
 *   pnpm bench:scaling --seconds 5 --reps 1  # quick look
 *   options: --seconds N --warmup N --reps N --connections N (even) --body-bytes N --out FILE.json
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { freePort, spawnRedisServer } from '@batchbridge/redis';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { BENCH_API_KEY, BENCH_TENANT, chatBody } from './fixtures.js';
import { type Child, REPO_ROOT, spawnTs, waitHttpOk } from './procs.js';

const run = promisify(execFile);

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    reps: { type: 'string', default: '3' },
    connections: { type: 'string', default: '64' },
    'body-bytes': { type: 'string', default: '1024' },
    out: { type: 'string', default: join(REPO_ROOT, 'bench/results/scaling.json') },
  },
});
const SECONDS = Number(args.seconds);
const WARMUP = Number(args.warmup);
const REPS = Number(args.reps);
const CONNECTIONS = Number(args.connections);
const BODY = chatBody(1, Number(args['body-bytes'])).json;
if (CONNECTIONS % 2 !== 0) throw new Error('--connections must be even (split over 2 replicas)');

/** Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`; 100 on Linux). */
const CLK_TCK = 100;

function cpuSeconds(pid: number): number {
  try {
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

// --- Redis ----------------------------------------------------------------------------------------------------------

interface RedisSetup {
  kind: 'standalone' | 'cluster';
  url: string;
  pids: number[];
  /** Empties every master. */
  flush(): Promise<void>;
  /** `used_memory` summed over the masters (bytes). */
  usedMemory(): Promise<number>;
  stop(): Promise<void>;
}

const REDIS_ARGS = ['--appendonly', 'no', '--save', ''];

async function usedMemory(nodes: Redis[]): Promise<number> {
  const infos = await Promise.all(nodes.map((n) => n.info('memory')));
  return infos.reduce((sum, info) => sum + Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0), 0);
}

async function startStandalone(dir: string): Promise<RedisSetup> {
  const port = await freePort();
  const data = join(dir, `standalone-${port}`);
  mkdirSync(data);
  const proc = await spawnRedisServer('redis-server', port, data, REDIS_ARGS);
  const admin = new Redis({ port, host: '127.0.0.1' });
  return {
    kind: 'standalone',
    url: `redis://127.0.0.1:${port}`,
    pids: [proc.pid!],
    flush: async () => void (await admin.flushall()),
    usedMemory: () => usedMemory([admin]),
    stop: async () => {
      admin.disconnect();
      proc.kill('SIGKILL');
    },
  };
}

/** Three masters, slots split evenly, no Redis replicas; bus ports chosen explicitly (`--cluster-port`). */
async function startCluster(dir: string): Promise<RedisSetup> {
  const procs: Awaited<ReturnType<typeof spawnRedisServer>>[] = [];
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const bus = await freePort();
    const data = join(dir, `cluster-${port}`);
    mkdirSync(data);
    procs.push(
      await spawnRedisServer('redis-server', port, data, [
        ...REDIS_ARGS,
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(bus),
        '--cluster-config-file',
        join(data, 'nodes.conf'),
      ]),
    );
    ports.push(port);
  }
  await run('redis-cli', [
    '--cluster',
    'create',
    ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  const admins = ports.map((port) => new Redis({ port, host: '127.0.0.1' }));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const infos = await Promise.all(admins.map((a) => a.call('CLUSTER', 'INFO')));
    if (infos.every((i) => /cluster_state:ok/.test(String(i)))) break;
    if (Date.now() > deadline) throw new Error('cluster did not reach cluster_state:ok');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    kind: 'cluster',
    url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','),
    pids: procs.map((p) => p.pid!),
    flush: async () => {
      await Promise.all(admins.map((a) => a.flushall()));
    },
    usedMemory: () => usedMemory(admins),
    stop: async () => {
      for (const a of admins) a.disconnect();
      for (const p of procs) p.kill('SIGKILL');
    },
  };
}

// --- one measured run -----------------------------------------------------------------------------------------------

interface Shot {
  acceptedPerS: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** CPU used during the measured window, in cores (1.0 = one core busy all the time). */
  cpu: { ingest: number; redis: number; loadGenerator: number };
  loadAvg1: number;
  /** Growth of Redis `used_memory` over the run divided by the requests it accepted (all queued: no packer runs). */
  redisBytesPerQueuedRequest: number;
}

async function measure(urls: string[], ingest: Child[], redis: RedisSetup): Promise<Shot> {
  const headers = {
    'content-type': 'application/json',
    authorization: `Bearer ${BENCH_API_KEY}`,
    'x-callback-url': 'http://127.0.0.1:9/hook',
  };
  const cannon = (duration: number) =>
    autocannon({
      // autocannon spreads connections over several URLs (README: `url`); its types only name one.
      url: urls.map((u) => `${u}/v1/chat/completions`) as unknown as string,
      method: 'POST',
      headers,
      body: BODY,
      connections: CONNECTIONS,
      duration,
    });
  await cannon(WARMUP); // JIT and connection warm-up, not recorded
  await redis.flush();
  const memoryBefore = await redis.usedMemory();
  const before = {
    ingest: ingest.map((c) => cpuSeconds(c.pid)),
    redis: redis.pids.map(cpuSeconds),
    self: selfCpuSeconds(),
    at: performance.now(),
  };
  const r = await cannon(SECONDS);
  const wall = (performance.now() - before.at) / 1000;
  const memoryAfter = await redis.usedMemory();
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    acceptedPerS: r['2xx'] / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    cpu: {
      ingest: (sum(ingest.map((c) => cpuSeconds(c.pid))) - sum(before.ingest)) / wall,
      redis: (sum(redis.pids.map(cpuSeconds)) - sum(before.redis)) / wall,
      loadGenerator: (selfCpuSeconds() - before.self) / wall,
    },
    loadAvg1: loadavg()[0]!,
    redisBytesPerQueuedRequest: r['2xx'] > 0 ? (memoryAfter - memoryBefore) / r['2xx'] : 0,
  };
}

// --- main -----------------------------------------------------------------------------------------------------------

interface Setup {
  name: string;
  redis: 'standalone' | 'cluster';
  partitions: number;
  replicas: number;
}

const SETUPS: Setup[] = [
  { name: 'baseline', redis: 'standalone', partitions: 1, replicas: 1 },
  { name: 'replicas', redis: 'standalone', partitions: 1, replicas: 2 },
  { name: 'standalone, P=16', redis: 'standalone', partitions: 16, replicas: 1 },
  { name: 'standalone, P=16, replicas', redis: 'standalone', partitions: 16, replicas: 2 },
  { name: 'cluster', redis: 'cluster', partitions: 16, replicas: 1 },
  { name: 'both', redis: 'cluster', partitions: 16, replicas: 2 },
];

const dir = mkdtempSync(join(tmpdir(), 'bb-scaling-'));
const tenantsFile = join(dir, 'tenants.json');
writeFileSync(tenantsFile, JSON.stringify({ tenants: [BENCH_TENANT] }));
const children: Child[] = [];
const redises: RedisSetup[] = [];
const stopEverything = async () => {
  await Promise.all(children.splice(0).map((c) => c.stop(3_000)));
  for (const r of redises.splice(0)) await r.stop();
  rmSync(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void stopEverything().then(() => process.exit(130)));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const results: Array<Setup & { runs: Shot[] }> = [];
const startedAt = new Date().toISOString();
try {
  const standalone = await startStandalone(dir);
  const cluster = await startCluster(dir);
  redises.push(standalone, cluster);
  const versionClient = new Redis(standalone.url);
  const version = /redis_version:(\S+)/.exec(await versionClient.info('server'))?.[1];
  versionClient.disconnect();
  say(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}, redis ${version ?? '?'}; ` +
      `body ${Buffer.byteLength(BODY)} B, ${CONNECTIONS} connections, ${SECONDS} s × ${REPS} runs per setup`,
  );
  for (const setup of SETUPS) results.push({ ...setup, runs: [] });
  // Round-robin over the setups, one run of each per round: whatever else the box is doing at the time weighs on
  // every setup alike instead of on whichever happened to run during a busy minute.
  for (let rep = 1; rep <= REPS; rep++) {
    for (const entry of results) {
      const setup: Setup = entry;
      const redis = setup.redis === 'cluster' ? cluster : standalone;
      const prefix = `sc${rep}${Date.now().toString(36).slice(-5)}`;
      const ingest: Child[] = [];
      const urls: string[] = [];
      for (let i = 0; i < setup.replicas; i++) {
        const port = await freePort();
        const child = spawnTs(`ingest-${i + 1}`, 'services/ingest-api/src/main.ts', {
          env: {
            REDIS_URL: redis.url,
            REDIS_MODE: setup.redis,
            REDIS_PARTITIONS: String(setup.partitions),
            REDIS_KEY_PREFIX: prefix,
            REDIS_DATA_DIR: join(dir, 'unused-redis-data'),
            TENANTS_FILE: tenantsFile,
            WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
            LOG_LEVEL: 'warn',
            PORT: String(port),
          },
        });
        children.push(child);
        ingest.push(child);
        urls.push(`http://127.0.0.1:${port}`);
        await waitHttpOk(child, `http://127.0.0.1:${port}/readyz`, 60_000);
      }
      const shot = await measure(urls, ingest, redis);
      entry.runs.push(shot);
      say(
        `${setup.name.padEnd(28)} run ${rep}/${REPS}: ${Math.round(shot.acceptedPerS)}/s accepted, ` +
          `p50 ${shot.p50} ms, p99 ${shot.p99} ms, non-2xx ${shot.non2xx}, errors ${shot.errors}, ` +
          `CPU ingest ${shot.cpu.ingest.toFixed(2)} / redis ${shot.cpu.redis.toFixed(2)} / ` +
          `load generator ${shot.cpu.loadGenerator.toFixed(2)} cores, ${Math.round(shot.redisBytesPerQueuedRequest)} Redis bytes per ` +
          `queued request, load average ${shot.loadAvg1.toFixed(1)}`,
      );
      for (const c of ingest) {
        await c.stop();
        children.splice(children.indexOf(c), 1);
      }
    }
  }
} finally {
  await stopEverything();
}

say(
  '\n| setup | ingest replicas | Redis | P | accepted requests/s (median, min–max) | p50 / p99 latency (ms) | accepted/s per ingest CPU core | Redis CPU µs per accepted request | CPU cores: ingest / Redis / load generator | Redis bytes per queued request | box load average |',
);
say('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  const acc = r.runs.map((x) => x.acceptedPerS);
  const pick = (f: (s: Shot) => number) => median(r.runs.map(f));
  say(
    `| ${r.name} | ${r.replicas} | ${r.redis === 'cluster' ? '3-master cluster' : '1 standalone'} | ${r.partitions} | ` +
      `${Math.round(median(acc))} (${Math.round(Math.min(...acc))}–${Math.round(Math.max(...acc))}) | ` +
      `${pick((s) => s.p50)} / ${pick((s) => s.p99)} | ${Math.round(pick((s) => s.acceptedPerS / s.cpu.ingest))} | ` +
      `${Math.round(pick((s) => (s.cpu.redis / s.acceptedPerS) * 1e6))} | ` +
      `${pick((s) => s.cpu.ingest).toFixed(2)} / ${pick((s) => s.cpu.redis).toFixed(2)} / ${pick((s) => s.cpu.loadGenerator).toFixed(2)} | ` +
      `${Math.round(pick((s) => s.redisBytesPerQueuedRequest))} | ${pick((s) => s.loadAvg1).toFixed(1)} |`,
  );
}
mkdirSync(join(args.out, '..'), { recursive: true });
writeFileSync(
  args.out,
  `${JSON.stringify(
    {
      startedAt,
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      options: {
        seconds: SECONDS,
        warmup: WARMUP,
        reps: REPS,
        connections: CONNECTIONS,
        bodyBytes: Buffer.byteLength(BODY),
      },
      results,
    },
    null,
    2,
  )}\n`,
);
say(`\nwritten ${args.out}`);
