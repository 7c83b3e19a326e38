/**
 * The poller service: one poll worker per partition (concurrency 8 each) and a periodic sweep. See poll-processor.ts
 * for a job's life and batch-router.ts for how results reach their requests.
 */
import { backoffStrategy, type PollJobData, providerBackoff, startWorkerGroup } from '@batchbridge/queues';
import type { Runtime, Service } from '@batchbridge/runtime';
import { BatchRouter } from './batch-router.js';
import { type PollerOptions, resolvePollerOptions } from './options.js';
import { createPollProcessor } from './poll-processor.js';
import { sweepPolls } from './poll-sweep.js';

export async function startPoller(runtime: Runtime, options: PollerOptions = {}): Promise<Service> {
  if (!runtime.provider && !runtime.config.providersFile)
    throw new Error('poller: no provider configured (UPSTREAM_BASE_URL and UPSTREAM_API_KEY, or PROVIDERS_FILE)');
  const resolved = resolvePollerOptions(options, runtime.config.upstream.timeoutMs);
  const log = runtime.logger.child({ component: 'poller' });
  const router = new BatchRouter(runtime, options);
  const processPoll = createPollProcessor(runtime, resolved, router);

  const group = await startWorkerGroup<PollJobData>({
    kind: 'poll',
    keys: runtime.keys,
    connection: runtime.workerRedis,
    ping: runtime.redis,
    logger: log,
    processor: processPoll,
    concurrency: resolved.concurrency,
    lockDurationMs: resolved.lockDurationMs,
    stalledIntervalMs: resolved.stalledIntervalMs,
    backoffStrategy: backoffStrategy({ provider: providerBackoff(resolved.backoff) }),
    gaveUp: { message: 'poll job failed for good; the sweep will retry it' },
    sweeps: [{ name: 'poll sweep', everyMs: resolved.sweepIntervalMs, run: () => sweepPolls(runtime, log) }],
  });
  return { name: 'poller', ready: group.ready, close: group.close };
}
