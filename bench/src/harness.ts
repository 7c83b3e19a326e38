/**
 * The stage every scenario runs on: a private `redis-server` (persistence off, for the system and its baselines
 * alike), a scratch directory, the tenants file, and starters for the services and the simulator (their bundles, with
 * plain node) and the receiver as child processes. The benchmark also keeps an in-process runtime per key prefix for
 * set-up and inspection (seeding queued requests, submitting a batch, reading counters) — never for the part being
 * measured.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '@batchbridge/config';
import { silentLogger } from '@batchbridge/logger';
import { freePort, spawnRedisServer } from '@batchbridge/redis';
import { createRuntime, type Runtime, TenantDirectory } from '@batchbridge/runtime';
import { Redis } from 'ioredis';
import { BENCH_TENANT } from './fixtures.js';
import { type Child, spawnService, spawnTs, waitHttpOk } from './procs.js';
import { RssSampler } from './rss.js';

export type ServiceKind = 'ingest-api' | 'packer' | 'poller' | 'dispatcher';

export interface RunningService {
  child: Child;
  /** Ingest: the API base URL; others: the health server. */
  url: string;
}

export interface Sim {
  child: Child;
  /** `http://127.0.0.1:<port>/v1` */
  url: string;
  adminUrl: string;
  counters(): Promise<SimCounters>;
}

export interface SimCounters {
  filesCreated: number;
  batchesCreated: number;
  chatCompletions: number;
  rateLimited: number;
  outputLines: number;
}

export interface Receiver {
  child: Child;
  url: string;
  stats(): Promise<ReceiverStats>;
  /** Arrival time (ms epoch) of each webhook by request id (record mode only). */
  arrivals(): Promise<Record<string, number>>;
  reset(): Promise<void>;
}

export interface ReceiverStats {
  count: number;
  firstAt: number;
  lastAt: number;
  bytes: number;
}

export class Harness {
  readonly dir = mkdtempSync(join(tmpdir(), 'bb-bench-'));
  readonly tenantsFile = join(this.dir, 'tenants.json');
  redisUrl = '';
  redisVersion = '';
  redisRss: RssSampler | undefined;
  private redisStop: (() => Promise<void>) | undefined;
  private admin: Redis | undefined;
  private runtimes: Runtime[] = [];
  private counter = 0;
  /** Where CPU profiles of services go when profiling is on. */
  cpuProfDir: string | undefined;

  async start(): Promise<void> {
    writeFileSync(this.tenantsFile, JSON.stringify({ tenants: [BENCH_TENANT] }));
    const port = await freePort();
    const redisDir = join(this.dir, 'redis');
    writeFileSync(join(this.dir, '.keep'), '');
    rmSync(redisDir, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(redisDir);
    // Persistence off for the system and the baselines alike: the figures compare code paths, not disks.
    const proc = await spawnRedisServer('redis-server', port, redisDir, ['--appendonly', 'no', '--save', '']);
    this.redisStop = async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      });
    };
    this.redisUrl = `redis://127.0.0.1:${port}`;
    if (proc.pid !== undefined) this.redisRss = new RssSampler(proc.pid);
    this.admin = new Redis(this.redisUrl, { lazyConnect: false });
    const info = await this.admin.info('server');
    this.redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  }

  /** A key prefix no earlier run used. */
  prefix(label: string): string {
    this.counter += 1;
    return `${label}${this.counter}${Date.now().toString(36).slice(-4)}`;
  }

  /** Empties the private Redis between runs (nothing else uses it). */
  async flush(): Promise<void> {
    for (const rt of this.runtimes.splice(0)) await rt.close().catch(() => undefined);
    await this.admin?.flushall();
  }

  /** Environment every service of one run shares. */
  serviceEnv(prefix: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      REDIS_URL: this.redisUrl,
      REDIS_KEY_PREFIX: prefix,
      REDIS_DATA_DIR: join(this.dir, 'unused-redis-data'),
      TENANTS_FILE: this.tenantsFile,
      WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
      LOG_LEVEL: 'warn',
      UPSTREAM_API_KEY: 'sk-bench',
      ...extra,
    };
  }

  /** An in-process runtime on the same Redis and prefix, for set-up and inspection only. */
  async runtime(prefix: string, extra: Record<string, string> = {}): Promise<Runtime> {
    const parsed = parseConfig(this.serviceEnv(prefix, { UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1', ...extra }));
    if (!parsed.ok) throw new Error(parsed.message);
    const rt = await createRuntime({
      config: parsed.config,
      redisUrl: this.redisUrl,
      logger: silentLogger(),
      service: 'bench',
      tenants: new TenantDirectory([BENCH_TENANT]),
    });
    // Set-up commands (a 50 000-request claim, bulk reads) may run longer than the producer's 1 s command timeout,
    // which is meant for the request path; the benchmark's own set-up waits for them.
    (rt.redis.options as { commandTimeout?: number | undefined }).commandTimeout = undefined;
    this.runtimes.push(rt);
    return rt;
  }

  async startService(
    kind: ServiceKind,
    prefix: string,
    extra: Record<string, string>,
    options: { profile?: boolean } = {},
  ): Promise<RunningService> {
    const port = await freePort();
    const env = this.serviceEnv(
      prefix,
      kind === 'ingest-api' ? { PORT: String(port), ...extra } : { METRICS_PORT: String(port), ...extra },
    );
    // The service's bundle with plain node, as deployed (procs.ts).
    const child = spawnService(kind, kind, {
      env,
      cpuProfDir: options.profile && this.cpuProfDir ? join(this.cpuProfDir, kind) : undefined,
    });
    const url = `http://127.0.0.1:${port}`;
    await waitHttpOk(child, `${url}/readyz`);
    return { child, url };
  }

  async startSim(env: Record<string, string>): Promise<Sim> {
    const port = await freePort();
    const dataDir = mkdtempSync(join(this.dir, 'sim-'));
    const child = spawnService('provider-sim', 'provider-sim', {
      env: { SIM_PORT: String(port), SIM_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
    });
    const adminUrl = `http://127.0.0.1:${port}/_sim`;
    await waitHttpOk(child, `${adminUrl}/counters`);
    return {
      child,
      url: `http://127.0.0.1:${port}/v1`,
      adminUrl,
      counters: async () => (await (await fetch(`${adminUrl}/counters`)).json()) as SimCounters,
    };
  }

  /** A bare node:http 200 responder in its own process; `record` keeps each webhook's arrival time. */
  async startReceiver(record: boolean): Promise<Receiver> {
    const port = await freePort();
    const child = spawnTs('receiver', 'bench/src/children/receiver.ts', {
      env: { RECEIVER_PORT: String(port), RECEIVER_RECORD: record ? '1' : '0' },
    });
    const url = `http://127.0.0.1:${port}`;
    await waitHttpOk(child, `${url}/stats`);
    return {
      child,
      url: `${url}/hook`,
      stats: async () => (await (await fetch(`${url}/stats`)).json()) as ReceiverStats,
      arrivals: async () => (await (await fetch(`${url}/arrivals`)).json()) as Record<string, number>,
      reset: async () => {
        await (await fetch(`${url}/reset`, { method: 'POST' })).arrayBuffer();
      },
    };
  }

  async close(): Promise<void> {
    for (const rt of this.runtimes.splice(0)) await rt.close().catch(() => undefined);
    this.admin?.disconnect();
    this.redisRss?.stop();
    await this.redisStop?.();
    // BENCH_KEEP_DIR=1 keeps the run's directory (CPU profiles, logs) for a closer look.
    if (process.env.BENCH_KEEP_DIR === '1') process.stderr.write(`bench directory kept: ${this.dir}\n`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}
