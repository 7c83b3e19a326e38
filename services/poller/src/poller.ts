/**
 * The poller service: one poll worker per partition (concurrency 8 each) and a periodic sweep. See poll-processor.ts
 * for a job's life and batch-router.ts for how results reach their requests.
 */
import type { PartitionId } from '@batchbridge/domain';
import { backoffStrategy, type PollJobData, providerBackoff, startWorkers } from '@batchbridge/queues';
import type { Runtime, Service } from '@batchbridge/runtime';
import type { Job, Worker } from 'bullmq';
import { BatchRouter } from './batch-router.js';
import { type PollerOptions, resolvePollerOptions } from './options.js';
import { createPollProcessor } from './poll-processor.js';
import { sweepPolls } from './poll-sweep.js';

export async function startPoller(runtime: Runtime, options: PollerOptions = {}): Promise<Service> {
  if (!runtime.provider) throw new Error('poller: no provider configured (UPSTREAM_BASE_URL and UPSTREAM_API_KEY)');
  const resolved = resolvePollerOptions(options, runtime.config.upstream.timeoutMs);
  const log = runtime.logger.child({ component: 'poller' });
  const router = new BatchRouter(runtime, options);
  const processPoll = createPollProcessor(runtime, resolved, router);

  const workers: Worker[] = startWorkers<PollJobData>(
    'poll',
    runtime.keys,
    runtime.workerRedis,
    (job: Job<PollJobData>, token: string | undefined, p: PartitionId) => processPoll(job, token, p),
    {
      concurrency: resolved.concurrency,
      lockDuration: resolved.lockDurationMs,
      stalledInterval: resolved.stalledIntervalMs,
      // A poll is idempotent (routing a file twice changes nothing): a job whose process died is always run again
      // rather than failed after BullMQ's default single stall.
      maxStalledCount: 100,
      settings: { backoffStrategy: backoffStrategy({ provider: providerBackoff(resolved.backoff) }) },
    },
  );
  for (const worker of workers) {
    // Without an 'error' listener an EventEmitter error would crash the process; BullMQ reconnects by itself.
    worker.on('error', (err) => log.warn({ err: err.message }, 'poll worker error'));
    worker.on('failed', (job, err) => {
      const final =
        err.name === 'UnrecoverableError' || (job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1));
      if (job && final) {
        log.error({ jobId: job.id, err: err.message }, 'poll job failed for good; the sweep will retry it');
      }
    });
  }

  let sweeping: Promise<unknown> = Promise.resolve();
  const sweep = () => {
    sweeping = sweepPolls(runtime, log).catch((err: unknown) =>
      log.warn({ err: (err as Error).message }, 'poll sweep failed'),
    );
  };
  const timer = setInterval(sweep, resolved.sweepIntervalMs);
  timer.unref();
  sweep();

  let closing: Promise<void> | undefined;
  return {
    name: 'poller',
    ready: async () => {
      if (closing) return false;
      try {
        await runtime.redis.ping();
      } catch {
        return false;
      }
      return workers.every((w) => w.isRunning());
    },
    close: () => {
      closing ??= (async () => {
        clearInterval(timer);
        // Active jobs finish first (Worker.close waits); a route cut short would be retried anyway.
        await Promise.allSettled(workers.map((w) => w.close()));
        await sweeping;
      })();
      return closing;
    },
  };
}
