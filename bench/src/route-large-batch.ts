/**
 * Benchmark (not a test): routes one large completed batch (default ~230 000 lines, a ~200 MB output file) and reports
 * the router's peak RSS and lines per second. Invariant I4 asks for flat memory (peak RSS ≤ 256 MB) at ≥ 10 000 lines/s.
 *
 *   pnpm exec tsx bench/src/route-large-batch.ts            # BENCH_LINES=230000 by default
 *   BENCH_NO_HEAP=1 …   # without the poller's heap growing percent (V8's default), for comparison
 *
 * The parent process starts a private redis-server and the provider simulator, enqueues the requests, submits them as
 * one batch and waits until the simulator has written the output file; a child process then runs only the poller, so
 * that its RSS is the router's alone.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { parseConfig } from '@batchbridge/config';
import { batchLine, estimateInputTokens, groupFor, newFlushId, newRequestId, Store } from '@batchbridge/domain';
import { createLogger, silentLogger } from '@batchbridge/logger';
import { POLLER_HEAP_GROWING_PERCENT, startPoller } from '@batchbridge/poller';
import { FLUSH_METADATA_KEY } from '@batchbridge/provider';
import { createProviderSim } from '@batchbridge/provider-sim';
import { createRuntime, type Runtime, TenantDirectory } from '@batchbridge/runtime';
import { startRedis, TEST_TENANTS } from '@batchbridge/testkit';

const MODEL = 'gpt-4o-mini';
const out = (line: string) => process.stdout.write(`${line}\n`);

async function runtimeFor(redisUrl: string, prefix: string, upstream: string, service: string): Promise<Runtime> {
  const parsed = parseConfig({
    REDIS_KEY_PREFIX: prefix,
    UPSTREAM_BASE_URL: upstream,
    UPSTREAM_API_KEY: 'sk-bench',
    POLL_INTERVAL_MS: '50',
    DELETE_PROVIDER_FILES: 'false',
    LOG_LEVEL: 'warn',
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return createRuntime({
    config: parsed.config,
    redisUrl,
    logger:
      service === 'bench-router'
        ? createLogger({ service, level: process.env.BENCH_LOG_LEVEL ?? 'warn', pretty: false })
        : silentLogger(),
    service,
    tenants: new TenantDirectory(TEST_TENANTS),
  });
}

async function enqueueAll(store: Store, n: number): Promise<string> {
  const group = groupFor('/v1/chat/completions', MODEL, false);
  const chunk = 2_000;
  for (let start = 0; start < n; start += chunk) {
    const jobs: Array<Promise<unknown>> = [];
    for (let i = start; i < Math.min(n, start + chunk); i++) {
      const id = newRequestId(0);
      const content = `Summarise item ${i}: ${'the quick brown fox jumps over the lazy dog '.repeat(2)}`;
      const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }] });
      jobs.push(
        store.requests.enqueue(
          {
            id,
            partition: 0,
            tenant: 'acme',
            model: MODEL,
            group,
            body,
            bytes: Buffer.byteLength(batchLine(id, body)),
            tokens: estimateInputTokens([{ content }]),
          },
          {},
        ),
      );
    }
    await Promise.all(jobs);
  }
  return group;
}

async function parent(): Promise<void> {
  const lines = Number(process.env.BENCH_LINES ?? 230_000);
  const redis = await startRedis({ aof: false, forceProcess: true });
  const dir = await mkdtemp(join(tmpdir(), 'poller-bench-'));
  const sim = await createProviderSim({
    timings: { validatingMs: 0, linesPerSecond: 0, finalizingMs: 0, cancellingMs: 0 },
    maxLines: lines + 1,
    maxBytes: 2 * 1024 ** 3,
    dataDir: dir,
  });
  const prefix = `bench${Date.now().toString(36)}`;
  const rt = await runtimeFor(redis.url, prefix, sim.url, 'bench-setup');
  try {
    // The producer connection has a 1 s command timeout; bulk setup on a busy machine needs the worker connection.
    const slowStore = new Store(rt.workerRedis, rt.keys, { retentionMs: 86_400_000, maxAttempts: 3 });
    let t = Date.now();
    const group = await enqueueAll(slowStore, lines);
    out(`enqueued ${lines} requests in ${Date.now() - t} ms`);
    const flushId = newFlushId();
    const claim = await slowStore.flushes.claim(
      0,
      group,
      flushId,
      { maxRequests: lines, maxBytes: 1e12, maxTokens: 1e12, maxWaitMs: 0 },
      true,
    );
    if (!claim.claimed) throw new Error(`claim: ${claim.why}`);
    await rt.redis.zrem(rt.keys.partitionKeys(0).outbox, claim.outbox);
    const flush = await slowStore.flushes.get(0, flushId);
    if (!flush) throw new Error('no flush');
    const inputPath = join(dir, 'input.jsonl');
    const input = createWriteStream(inputPath);
    for (let start = 0; start < lines; start += 5_000) {
      const ids = await slowStore.flushes.ids(0, flushId, start, start + 4_999);
      const bodies = await slowStore.requests.bodies(0, ids);
      if (!input.write(ids.map((id, i) => batchLine(id, bodies[i] ?? '{}')).join(''))) {
        await new Promise<void>((resolve) => input.once('drain', () => resolve()));
      }
    }
    await new Promise<void>((resolve, reject) => input.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const provider = rt.provider!;
    const { openAsBlob } = await import('node:fs');
    const file = await provider.files.create({
      file: new File([await openAsBlob(inputPath)], 'input.jsonl'),
      purpose: 'batch',
    });
    const batch = await provider.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { [FLUSH_METADATA_KEY]: flushId },
    });
    const entry = await slowStore.flushes.recordSubmission(0, flush, batch.id, file.id);
    await rt.redis.config('RESETSTAT');
    t = Date.now();
    for (;;) {
      const b = await provider.batches.retrieve(batch.id);
      if (b.status === 'completed') {
        const meta = await provider.files.retrieve(b.output_file_id!);
        out(`simulator finished in ${Date.now() - t} ms; output file ${(meta.bytes / 1024 ** 2).toFixed(1)} MB`);
        break;
      }
      if (b.status === 'failed') throw new Error(`batch failed: ${JSON.stringify(b.errors)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    // Leave the poll entry in the outbox for the router process to relay, as a crashed packer would.
    const child = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/poller-prof'] : []),
        ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        'route',
      ],
      {
        env: {
          ...process.env,
          BENCH_REDIS: redis.url,
          BENCH_PREFIX: prefix,
          BENCH_UPSTREAM: sim.url,
          BENCH_BATCH: batch.id,
          BENCH_ENTRY: entry,
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
    if (code !== 0) throw new Error(`router process exited ${code}`);
    const counts = await rt.store.requests.stateCounts();
    out(`after routing: ${JSON.stringify(counts)} non-terminal requests`);
  } finally {
    await rt.close();
    await sim.close();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
    void stat;
  }
}

async function router(): Promise<void> {
  // As the poller's main does (runMain's heapGrowingPercent), so that this child's RSS is what production sees.
  if (!process.env.BENCH_NO_HEAP) setFlagsFromString(`--heap-growing-percent=${POLLER_HEAP_GROWING_PERCENT}`);
  const env = process.env;
  const rt = await runtimeFor(env.BENCH_REDIS!, env.BENCH_PREFIX!, env.BENCH_UPSTREAM!, 'bench-router');
  const batchId = env.BENCH_BATCH!;
  let peak = 0;
  let peakHeap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  const sampler = setInterval(sample, 50);
  sample();
  const baseline = process.memoryUsage().rss;
  const poller = await startPoller(rt, {
    sweepIntervalMs: 60_000,
    ...(env.BENCH_IN_FLIGHT ? { settleInFlight: Number(env.BENCH_IN_FLIGHT) } : {}),
  });
  const started = Date.now();
  await rt.relay.relay(0, [env.BENCH_ENTRY!]);
  let routedAt = 0;
  for (;;) {
    const b = await rt.store.batches.get(0, batchId);
    if (b?.routed_at !== undefined) {
      routedAt = Date.now();
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  clearInterval(sampler);
  sample();
  const completed = (await rt.metrics.m.results.get()).values.find((v) => v.labels.outcome === 'completed')?.value ?? 0;
  const seconds = (routedAt - started) / 1000;
  out(
    `routed ${completed} lines in ${seconds.toFixed(1)} s = ${Math.round(completed / seconds)} lines/s (incl. the missing-line sweep); ` +
      `RSS baseline ${(baseline / 1024 ** 2).toFixed(0)} MB, peak ${(peak / 1024 ** 2).toFixed(0)} MB (heap used peak ${(peakHeap / 1024 ** 2).toFixed(0)} MB)`,
  );
  if (env.BENCH_REDIS_STATS) {
    // Where Redis spent its time (microseconds per command type), to tell Redis-bound from Node-bound.
    const stats = String(await rt.redis.info('commandstats'))
      .split('\n')
      .flatMap((l) => {
        const m = /^cmdstat_(\w+):calls=(\d+),usec=(\d+)/.exec(l);
        return m ? [{ cmd: m[1], calls: Number(m[2]), ms: Math.round(Number(m[3]) / 1000) }] : [];
      })
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 8);
    out(`redis time: ${JSON.stringify(stats)}`);
  }
  await poller.close();
  await rt.close();
}

if (process.argv[2] === 'route') await router();
else await parent();
