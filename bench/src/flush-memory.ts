/**
 * Memory benchmark of one flush (invariant I4): enqueues about SIZE_MB of requests into one group, lets a packer
 * flush them as one batch (JSONL streamed to a temporary file, uploaded from disk) to a provider simulator running in
 * its own process, and reports the packer process's peak memory over its baseline. Run it at two sizes to see that
 * memory does not grow with the batch:
 *
 *   node --expose-gc --import tsx bench/src/flush-memory.ts 20
 *   node --expose-gc --import tsx bench/src/flush-memory.ts 190
 *
 * With BENCH_LIVE=1 garbage is collected every 100 ms while sampling, so the peaks are live memory.
 *
 * A script, not a test: it takes a minute and moves hundreds of megabytes through Redis and the loopback.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchLine, estimateInputTokens, groupFor, newRequestId } from '@batchbridge/domain';
import { createLogger } from '@batchbridge/logger';
import { startPacker } from '@batchbridge/packer';
import { freePort } from '@batchbridge/redis';
import { createTestRuntime, waitFor } from '@batchbridge/testkit';

const MB = 1024 * 1024;
const sizeMb = Number(process.argv[2] ?? 190);
const lineBytes = 4_096;
const count = Math.floor((sizeMb * MB) / lineBytes);
const root = new URL('../../', import.meta.url).pathname;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

const scratch = mkdtempSync(join(tmpdir(), 'bb-flush-memory-'));
const port = await freePort();
const sim = spawn(process.execPath, ['--import', 'tsx', 'services/provider-sim/src/main.ts'], {
  cwd: root,
  env: { PATH: process.env.PATH ?? '', SIM_PORT: String(port), SIM_DATA_DIR: scratch, SIM_VALIDATING_MS: '600000' },
  stdio: 'ignore',
});
const simUrl = `http://127.0.0.1:${port}/v1`;
const runtime = await createTestRuntime({
  env: { UPSTREAM_BASE_URL: simUrl, BATCH_MAX_WAIT_MS: '3600000', BATCH_MAX_REQUESTS: String(count) },
  logger: createLogger({ service: 'bench', level: process.env.LOG_LEVEL ?? 'warn' }),
});
try {
  await waitFor('simulator', () =>
    fetch(`${simUrl}/models`, { headers: { authorization: 'Bearer sk-test' } }).then(
      (r) => r.ok,
      () => false,
    ),
  );
  const started = Date.now();
  // Bytes come from the `user` field, so that the token estimate (messages only) does not flush early: a 200 MB
  // file of 4 KB messages would pass the 20 M token limit first.
  const filler = 'x'.repeat(lineBytes - 190);
  const enqueue = async (i: number) => {
    const messages = [{ role: 'user', content: `question ${i}` }];
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages, user: filler });
    const id = newRequestId(0);
    const group = groupFor('/v1/chat/completions', 'gpt-4o-mini', false);
    const bytes = Buffer.byteLength(batchLine(id, body));
    const tokens = estimateInputTokens(messages);
    const r = await runtime.store.requests.enqueue(
      { id, partition: 0, tenant: 'acme', model: 'gpt-4o-mini', group, body, bytes, tokens },
      {},
    );
    if (r.kind !== 'created') throw new Error(r.kind);
  };
  for (let done = 0; done < count; ) {
    const n = Math.min(256, count - done);
    await Promise.all(Array.from({ length: n }, (_, i) => enqueue(done + i)));
    done += n;
    if (done % 8_192 === 0) console.error(`enqueued ${done}/${count}`);
  }
  const enqueued = Date.now();
  gc();
  const base = process.memoryUsage();
  const peak = { rss: base.rss, heapUsed: base.heapUsed, external: base.external, arrayBuffers: base.arrayBuffers };
  // BENCH_LIVE=1 collects garbage before every 10th sample: the peaks are then live memory, not uncollected garbage.
  let samples = 0;
  const sampler = setInterval(() => {
    if (process.env.BENCH_LIVE === '1' && ++samples % 10 === 0) gc();
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.external = Math.max(peak.external, m.external);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
  }, 10);
  const packer = await startPacker(runtime, { tickIntervalMs: 50 });
  await waitFor(
    'batch submitted',
    async () => (await runtime.store.requests.stateCounts()).submitted === count,
    600_000,
  );
  clearInterval(sampler);
  const submitted = Date.now();
  await packer.close();
  const flushCount = Number(
    (await runtime.metrics.m.batchBytes.get()).values.find((v) => v.labels.le === '+Inf')?.value,
  );
  const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;
  console.log(
    JSON.stringify({
      requests: count,
      flushes: flushCount,
      fileSize: mb(count * lineBytes),
      enqueueSeconds: (enqueued - started) / 1000,
      flushSeconds: (submitted - enqueued) / 1000,
      baseline: { rss: mb(base.rss), heapUsed: mb(base.heapUsed), external: mb(base.external) },
      peak: {
        rss: mb(peak.rss),
        heapUsed: mb(peak.heapUsed),
        external: mb(peak.external),
        arrayBuffers: mb(peak.arrayBuffers),
      },
      rssGrowth: mb(peak.rss - base.rss),
    }),
  );
} finally {
  await runtime.dispose();
  sim.kill('SIGTERM');
  await new Promise((r) => sim.once('exit', r));
  rmSync(scratch, { recursive: true, force: true });
}
