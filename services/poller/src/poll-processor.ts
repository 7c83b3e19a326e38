/**
 * The poll job: look at one provider batch; while it runs, move the same job back to delayed with a growing interval
 * (BullMQ's DelayedError pattern: no attempt is consumed and the schedule lives in Redis, so it survives restarts);
 * once it is terminal, route its results. Provider failures are thrown so that the queue retries with the provider
 * backoff (honouring Retry-After); those that no retry can fix fail the job, and the sweep retries it later.
 */
import type { PartitionId } from '@batchbridge/domain';
import {
  classifyProviderError,
  isTerminalBatch,
  type ProviderBatch,
  ProviderError,
  terminalAtMs,
} from '@batchbridge/provider';
import { PollJob, type PollJobData } from '@batchbridge/queues';
import type { Runtime } from '@batchbridge/runtime';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { BatchRouter, RouteSummary } from './batch-router.js';
import { PollerError } from './errors.js';
import type { ResolvedPollerOptions } from './options.js';
import { nextPollDelay } from './poll-schedule.js';

export type PollResult =
  | { state: 'unknown_batch' }
  | { state: 'already_routed' }
  | { state: 'routed'; summary: RouteSummary }
  | { state: 'abandoned'; retried: number };

export function createPollProcessor(runtime: Runtime, options: ResolvedPollerOptions, router: BatchRouter) {
  const { store } = runtime;

  return async (job: Job<PollJobData>, token: string | undefined, p: PartitionId): Promise<PollResult> => {
    const data = PollJob.parse(job.data);
    const polls = data.polls ?? 0;
    const base = runtime.logger.child({ queue: 'poll', jobId: job.id, partition: p, batchId: data.batchId });
    const batch = await store.batches.get(p, data.batchId);
    if (!batch) {
      // Written atomically with the job's outbox entry, so only a record past its retention gets here.
      base.warn('poll job for a batch with no record; nothing to do');
      return { state: 'unknown_batch' };
    }
    if (batch.routed_at !== undefined) return { state: 'already_routed' };
    const log = base.child({ flushId: batch.flush_id });

    if (!runtime.providers.has(batch.provider)) {
      // Its provider was taken out of PROVIDERS_FILE: nothing here can reach the batch. Kept for when it is back.
      log.error({ provider: batch.provider }, 'the provider of this batch is not configured; cannot poll it');
      throw new UnrecoverableError(`provider ${batch.provider} of batch ${data.batchId} is not configured`);
    }
    let remote: ProviderBatch;
    try {
      remote = await router.adapterOf(batch).retrieveBatch(data.batchId);
    } catch (err) {
      const info = classifyProviderError(err);
      if (info.status === 404) {
        if (job.attemptsMade + 1 < options.notFoundAttempts) {
          log.error({ attemptsMade: job.attemptsMade }, 'provider answers 404 for a live batch; retrying');
          throw new PollerError('poller.batch_not_found', `batch ${data.batchId} not found`, { cause: err });
        }
        log.error(
          { attempts: job.attemptsMade + 1 },
          'provider still does not know this batch; its requests go back to the queue',
        );
        const counts = await router.abandon(p, batch, 'batch_not_found: the provider no longer knows the batch', log);
        return { state: 'abandoned', retried: counts.retried };
      }
      throw failure(err, info, log, 'batches.retrieve');
    }

    const recorded = await store.batches.recordPoll(p, data.batchId, {
      status: remote.status,
      total: remote.request_counts?.total ?? 0,
      completed: remote.request_counts?.completed ?? 0,
      failed: remote.request_counts?.failed ?? 0,
      polls: polls + 1,
      terminalAt: terminalAtMs(remote),
    });
    // Another run routed it meanwhile, or its record expired: nothing was written, and there is nothing left to do.
    if (recorded === 'routed') return { state: 'already_routed' };
    if (recorded === 'missing') {
      log.warn('batch record gone while polling; nothing to do');
      return { state: 'unknown_batch' };
    }

    if (!isTerminalBatch(remote.status)) {
      // A provider that pushes its batch events (SPEC §13) has the batch polled at once on its event: polling is then
      // only the backstop for a lost event, and slows down to POLL_MAX_INTERVAL_MS_PUSH.
      const { intervalMs, maxIntervalMs, maxIntervalMsPush } = runtime.config.poll;
      const pushes = runtime.providers.config(batch.provider)?.push === true;
      const delay = nextPollDelay(polls, intervalMs, pushes ? maxIntervalMsPush : maxIntervalMs);
      await job.updateData({ ...job.data, polls: polls + 1 });
      await job.moveToDelayed(Date.now() + delay, token);
      throw new DelayedError();
    }

    log.info({ status: remote.status, counts: remote.request_counts }, 'batch finished at the provider; routing');
    let summary: RouteSummary;
    try {
      summary = await router.route(p, batch, remote, { logger: log, attemptsMade: job.attemptsMade });
    } catch (err) {
      if (err instanceof PollerError) {
        log.warn({ code: err.code, err: err.message }, 'routing interrupted; the job will retry');
        throw err;
      }
      throw failure(err, classifyProviderError(err), log, 'route');
    }
    log.info(
      {
        status: summary.status,
        lines: summary.lines,
        leftovers: summary.leftovers,
        unknown: summary.unknown,
        malformed: summary.malformed,
        filesMs: summary.filesMs,
        leftoversMs: summary.leftoversMs,
      },
      'batch routed',
    );
    return { state: 'routed', summary };
  };
}

/**
 * Retryable trouble (provider 408/409/429/5xx, connection and stream errors, Redis hiccups) goes back to the queue with
 * the provider's Retry-After; a refusal no retry can fix fails the job, and the sweep retries it later.
 */
function failure(
  err: unknown,
  info: ReturnType<typeof classifyProviderError>,
  log: { warn: (o: object, m: string) => void; error: (o: object, m: string) => void },
  step: string,
): Error {
  if (info.retryable) {
    log.warn(
      { step, status: info.status, retryAfterMs: info.retryAfterMs, err: info.message },
      'poll step failed; the queue retries it',
    );
    return err instanceof ProviderError ? err : new ProviderError(info, { cause: err });
  }
  log.error({ step, status: info.status, code: info.code, err: info.message }, 'provider refused a call; job failed');
  return new UnrecoverableError(`${step}: ${info.status ?? ''} ${info.message}`.trim());
}
