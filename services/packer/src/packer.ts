/**
 * The packer service: a tick that claims due groups into flushes, a flush worker per partition that uploads each
 * flush and creates its provider batch, and a recovery sweep for work a dead process left behind. This is where money
 * is spent, so every step is crash-safe (see flush-processor.ts for the state machine).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backoffStrategy, type ProviderBackoffOptions, providerBackoff, startWorkerGroup } from '@batchbridge/queues';
import { buildProviderRegistry, LaneScheduler, type Runtime, type Service } from '@batchbridge/runtime';
import type { CrashPoint } from './crash-points.js';
import { BatchCreateLimiter } from './create-limiter.js';
import { createFlushProcessor } from './flush-processor.js';
import { deadlinePass } from './lanes/deadline-pass.js';
import { escalatePass } from './lanes/escalate-pass.js';
import { createLaneProcessor } from './lanes/lane-processor.js';
import { laneSweep } from './lanes/lane-sweep.js';
import { packPartition } from './pack-partition.js';
import { recoverFlushes } from './recover-flushes.js';
import { instrumentedFetch, streamingFetch } from './streaming-fetch.js';
import { ensureTempDir, removeStaleTempFiles } from './temp-files.js';

export interface PackerOptions {
  /** Time between packing passes. @defaultValue 250 ms, less when `BATCH_MAX_WAIT_MS` is small (min 20 ms) */
  tickIntervalMs?: number;
  /** Time between recovery sweeps (outbox relay, stale flushes). @defaultValue 10 000 ms */
  sweepIntervalMs?: number;
  /** Outbox entries older than this are relayed by the sweep. @defaultValue 5 000 ms */
  outboxAgeMs?: number;
  /** A flush claimed longer ago than this without a live job gets one again. @defaultValue 30 000 ms */
  staleFlushMs?: number;
  /** Flush jobs in flight per partition. @defaultValue 2 */
  concurrency?: number;
  /** BullMQ lock of an active flush job; a dead worker's job is retried after about this long. @defaultValue 30 000 ms */
  lockDurationMs?: number;
  /** How often workers look for stalled jobs. @defaultValue 30 000 ms */
  stalledIntervalMs?: number;
  /** Retry backoff of provider errors (never shorter than the provider's Retry-After). @defaultValue 1 s doubling to 60 s */
  backoff?: ProviderBackoffOptions;
  /** Provider batch creations per minute across all packers. @defaultValue the provider profile's */
  batchCreatesPerMinute?: number;
  /** Directory of temporary JSONL files. @defaultValue `<os.tmpdir()>/batchbridge-packer` */
  tmpDir?: string;
  /** The fetch that uploads input files; it must stream the body (see streaming-fetch.ts). @defaultValue `streamingFetch` */
  uploadFetch?: typeof fetch;
  /** Fault-injection hook called at each crash-sensitive step (tests only; see crash-points.ts). @defaultValue none */
  crashPoint?: (point: CrashPoint) => void;
  /** Fast-lane calls (flex, realtime; SPEC §10) in flight per partition in this process. @defaultValue 8 */
  laneConcurrency?: number;
  /** A fast-lane run unsettled this long has its job checked by the lane sweep. @defaultValue 2 × UPSTREAM_TIMEOUT_MS, at least 60 s */
  laneRunStaleMs?: number;
}

export async function startPacker(runtime: Runtime, options: PackerOptions = {}): Promise<Service> {
  if (!runtime.provider && !runtime.config.providersFile)
    throw new Error('packer: no provider configured (UPSTREAM_BASE_URL and UPSTREAM_API_KEY, or PROVIDERS_FILE)');
  const log = runtime.logger;
  const crashPoint = options.crashPoint ?? (() => undefined);
  const tickMs = options.tickIntervalMs ?? Math.max(20, Math.min(250, Math.floor(runtime.config.batch.maxWaitMs / 4)));
  const sweepMs = options.sweepIntervalMs ?? 10_000;
  const recover = { outboxAgeMs: options.outboxAgeMs ?? 5_000, staleFlushMs: options.staleFlushMs ?? 30_000 };

  const { config } = runtime;
  // The runtime's store sits on the fail-fast producer connection (1 s command timeout, right for the request path).
  // Claiming or failing a 50 000-request flush runs longer than that inside Redis, and a reply lost to the timeout
  // would leave the work to the recovery sweep; the packer is background work, so it uses the worker connection.
  const store = runtime.workerStore;
  // The packer's own adapters: uploads go through a fetch that streams the file from disk (streaming-fetch.ts).
  const providers = buildProviderRegistry(runtime, {
    uploadFetch: instrumentedFetch(options.uploadFetch ?? streamingFetch, runtime.metrics.m),
  });
  const limiters = new Map<string, BatchCreateLimiter>();
  const limiter = (providerId: string): BatchCreateLimiter => {
    let l = limiters.get(providerId);
    if (!l) {
      const perMinute =
        options.batchCreatesPerMinute ??
        providers.config(providerId)?.batchCreatesPerMinute ??
        runtime.config.upstream.profile.batchCreatesPerMinute;
      l = new BatchCreateLimiter(runtime.redis, runtime.keys, perMinute, providerId);
      limiters.set(providerId, l);
    }
    return l;
  };
  const tmpDir = options.tmpDir ?? join(tmpdir(), 'batchbridge-packer');
  await ensureTempDir(tmpDir);
  const processor = createFlushProcessor(runtime, {
    store,
    providers,
    limiter,
    crashPoint,
    tmpDir,
  });
  const group = await startWorkerGroup({
    kind: 'flush',
    keys: runtime.keys,
    connection: runtime.workerRedis,
    ping: runtime.redis,
    logger: log,
    processor,
    concurrency: options.concurrency ?? 2,
    lockDurationMs: options.lockDurationMs ?? 30_000,
    stalledIntervalMs: options.stalledIntervalMs ?? 30_000,
    backoffStrategy: backoffStrategy({ provider: providerBackoff(options.backoff) }),
    gaveUp: { message: 'flush job gave up; the recovery sweep will retry it' },
    sweeps: [
      {
        name: 'packing pass',
        everyMs: tickMs,
        run: async () => {
          for (const p of runtime.keys.allPartitions()) {
            if (group.stopped) return;
            await packPartition(runtime, store, p, crashPoint);
          }
        },
      },
      {
        name: 'recovery sweep',
        everyMs: sweepMs,
        run: async () => {
          await recoverFlushes(runtime, store, recover);
          const removed = await removeStaleTempFiles(tmpDir);
          if (removed > 0) log.info({ removed, tmpDir }, 'removed temporary files left by a dead packer');
        },
      },
    ],
  });
  // The fast lanes (SPEC §10): their provider calls, and the pass that moves queued requests whose deadline is at risk.
  const scheduler = new LaneScheduler(runtime);
  const escalationAsks = new Map<string, number>();
  const lanes = await startWorkerGroup({
    kind: 'lane',
    keys: runtime.keys,
    connection: runtime.workerRedis,
    ping: runtime.redis,
    logger: log,
    processor: createLaneProcessor(runtime, { store }),
    // As many calls in flight as the largest realtime/flex concurrency budget lets (8 to 64): the budget, not the
    // worker, is the limit that is meant to bind.
    concurrency: options.laneConcurrency ?? laneWorkerConcurrency(runtime),
    lockDurationMs: Math.max(30_000, config.upstream.timeoutMs + 10_000),
    stalledIntervalMs: options.stalledIntervalMs ?? 30_000,
    backoffStrategy: backoffStrategy({ provider: providerBackoff(options.backoff) }),
    gaveUp: { message: 'fast-lane job gave up' },
    sweeps: [
      {
        name: 'deadline pass',
        everyMs: config.deadlines.passMs,
        run: async () => {
          for (const p of runtime.keys.allPartitions()) {
            if (lanes.stopped) return;
            await deadlinePass(runtime, store, scheduler, p);
          }
        },
      },
      ...(config.deadlines.escalate.enabled
        ? [
            {
              name: 'escalation pass',
              everyMs: Math.max(config.deadlines.passMs, 1_000),
              run: async () => {
                for (const p of runtime.keys.allPartitions()) {
                  if (lanes.stopped) return;
                  await escalatePass(runtime, store, scheduler, p, escalationAsks);
                }
              },
            },
          ]
        : []),
      {
        name: 'lane sweep',
        everyMs: sweepMs,
        atStart: false,
        run: () => laneSweep(runtime, store, options.laneRunStaleMs ?? Math.max(60_000, 2 * config.upstream.timeoutMs)),
      },
    ],
  });
  return {
    name: 'packer',
    ready: async () => (await group.ready()) && (await lanes.ready()),
    close: async () => {
      await Promise.all([group.close(), lanes.close()]);
    },
  };
}

/** The lane workers' concurrency: the largest provider concurrency budget, at least 8 and at most 64. */
function laneWorkerConcurrency(runtime: Runtime): number {
  const budgets = runtime.providers.configs.map((c) => c.realtime?.concurrency ?? 0);
  return Math.min(64, Math.max(8, ...budgets));
}
