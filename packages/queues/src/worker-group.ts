/**
 * The one worker skeleton of every queue service (packer, poller, dispatcher): a BullMQ worker per partition with the
 * shared stall policy, the listeners, the periodic sweeps, readiness and an idempotent close. A service says only what
 * is its own: the processor, its options, its sweeps and what it closes after the workers.
 */
import type { KeySpace, PartitionId } from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import type { BackoffStrategy, Job, Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { QueueKind } from './catalog.js';
import { startWorkers } from './queues.js';

/** A periodic task of a service: never overlaps itself; an error is logged and the loop goes on. */
export interface Sweep {
  /** Named in the log line of a failed run ("<name> failed"). */
  name: string;
  everyMs: number;
  run: () => Promise<unknown>;
  /** Run once right at start, before the first interval. @defaultValue true */
  atStart?: boolean;
}

export interface WorkerGroupOptions<T> {
  kind: QueueKind;
  keys: KeySpace;
  /** A worker-role connection (`maxRetriesPerRequest: null`); BullMQ duplicates it for the blocking client. */
  connection: Redis | Cluster;
  /** The fail-fast connection whose PING decides readiness. */
  ping: Redis | Cluster;
  logger: Logger;
  processor: (job: Job<T>, token: string | undefined, partition: PartitionId) => Promise<unknown>;
  /** Jobs in flight per partition. */
  concurrency: number;
  /** BullMQ job lock: how long a job of a dead process stays claimed before another worker takes it over. */
  lockDurationMs: number;
  /** How often workers look for jobs whose lock expired (their process died). */
  stalledIntervalMs: number;
  backoffStrategy: BackoffStrategy;
  /** The error log of a job that failed for good (out of attempts, or unrecoverable). */
  gaveUp: {
    message: string;
    /** Failures the processor has already reported itself. @defaultValue none */
    ignore?: (err: Error) => boolean;
    /** Extra log bindings taken from the job. @defaultValue none */
    bindings?: (job: Job<T>) => Record<string, unknown>;
  };
  /** @defaultValue none */
  sweeps?: Sweep[];
}

export interface WorkerGroup {
  workers: readonly Worker[];
  /** True once close() was called; long sweeps check it between steps. */
  readonly stopped: boolean;
  /** Not closing, Redis answers PING, every worker runs. */
  ready(): Promise<boolean>;
  /** Stops the sweeps (a running one finishes), then closes the workers (active jobs finish); idempotent. */
  close(): Promise<void>;
}

export async function startWorkerGroup<T>(options: WorkerGroupOptions<T>): Promise<WorkerGroup> {
  const { logger: log, kind, gaveUp } = options;
  const workers = startWorkers<T>(kind, options.keys, options.connection, options.processor, {
    concurrency: options.concurrency,
    lockDuration: options.lockDurationMs,
    stalledInterval: options.stalledIntervalMs,
    // BullMQ fails a job that stalls twice (default maxStalledCount 1) without running the processor. Every job here is
    // safe to run again (flush steps are idempotent, routing a file twice changes nothing, a resent webhook keeps its
    // webhook-id), and a failed-by-stall deliver job left an outcome neither delivered nor dead-lettered while its job
    // id blocked the outbox relay (found by the fault suite, test/faults): a job whose process died always runs again.
    maxStalledCount: 100,
    settings: { backoffStrategy: options.backoffStrategy },
  });
  for (const worker of workers) {
    // Without an 'error' listener an EventEmitter error would crash the process; BullMQ reconnects by itself, and
    // connection trouble also shows in readiness.
    worker.on('error', (err) => log.warn({ err: err.message }, `${kind} worker error`));
    // Catches a job that failed for good on something its processor did not report (Redis unreachable, a bug), which
    // would otherwise vanish silently; the services' sweeps give such work a job again.
    worker.on('failed', (job, err) => {
      if (!job || gaveUp.ignore?.(err)) return;
      if (err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1)) {
        log.error({ jobId: job.id, ...gaveUp.bindings?.(job as Job<T>), err: err.message }, gaveUp.message);
      }
    });
  }

  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const running = new Set<Promise<unknown>>();
  const schedule = (sweep: Sweep, delayMs: number) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (stopped) return;
      const done = sweep
        .run()
        .catch((err: unknown) => log.warn({ err: (err as Error).message }, `${sweep.name} failed`))
        .finally(() => {
          running.delete(done);
          if (!stopped) schedule(sweep, sweep.everyMs);
        });
      running.add(done);
    }, delayMs);
    timer.unref();
    timers.add(timer);
  };
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  for (const sweep of options.sweeps ?? []) schedule(sweep, sweep.atStart === false ? sweep.everyMs : 0);

  let closing: Promise<void> | undefined;
  return {
    workers,
    get stopped() {
      return stopped;
    },
    ready: async () => {
      if (stopped || !workers.every((w) => w.isRunning())) return false;
      return (await options.ping.ping().catch(() => '')) === 'PONG';
    },
    close: () => {
      closing ??= (async () => {
        stopped = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        await Promise.allSettled([...running]);
        // Worker.close() lets the active jobs finish; a job cut short would be retried anyway.
        const results = await Promise.allSettled(workers.map((w) => w.close()));
        for (const r of results) {
          if (r.status === 'rejected')
            log.warn({ err: (r.reason as Error).message }, `closing a ${kind} worker failed`);
        }
      })();
      return closing;
    },
  };
}
