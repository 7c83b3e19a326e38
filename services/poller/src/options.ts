/** Options of `startPoller`, with their defaults. */
import type { ProviderBackoffOptions } from '@batchbridge/queues';

/**
 * V8 heap growing percent the poller process runs with (RunMainOptions.heapGrowingPercent): issue 6 asks for flat RSS
 * while routing 200 MB result files. 200 (the heap within 3× of the live set): the downloaded chunks that settle
 * chunks hold while Redis answers (external memory) set off a full GC every few MB at lower values. Routing a 972 MB
 * embeddings file (S3, busy 2-core box): 7.8 s of poller CPU at 50, 5.1–6.6 s at 100, 4.7–4.8 s at 200; RSS peaks
 * 178, 180–195 and 206–220 MB (204 MB chat file: 181 MB at 100, 201 MB at 200).
 */
export const POLLER_HEAP_GROWING_PERCENT = 200;

export interface PollerOptions {
  /** Poll jobs processed at once per partition. @defaultValue 8 */
  concurrency?: number;
  /** How often the sweep relays stale outbox entries and re-creates missing poll jobs. @defaultValue 30 000 ms */
  sweepIntervalMs?: number;
  /**
   * How long a poll job's lock lives without renewal; a job held by a process that died comes back after about this
   * plus `stalledIntervalMs` (BullMQ renews the lock of a running job every half of it). @defaultValue 30 000 ms
   */
  lockDurationMs?: number;
  /** How often a worker looks for jobs whose lock expired (their process died). @defaultValue 30 000 ms */
  stalledIntervalMs?: number;
  /** Result lines settled per store round (one SETTLE_MANY call per 100, sent concurrently). @defaultValue 500 */
  settleChunk?: number;
  /** Chunks settled at once while the next lines are read (4 keeps Redis busy while the poller parses). @defaultValue 4 */
  settleInFlight?: number;
  /** How long a group is held back after the provider's enqueued-token limit failed its batch. @defaultValue 300 000 ms */
  groupHoldMs?: number;
  /** Attempts of a job that keeps getting 404 for its batch (or a result file) before the poller gives up on it. @defaultValue 10 */
  notFoundAttempts?: number;
  /** Retry backoff of failed polls and downloads (provider errors, truncated files). @defaultValue base 1 s, cap 60 s */
  backoff?: ProviderBackoffOptions;
  /** A result download that delivers no bytes for this long is aborted and retried. @defaultValue UPSTREAM_TIMEOUT_MS */
  downloadIdleTimeoutMs?: number;
}

export type ResolvedPollerOptions = Required<Omit<PollerOptions, 'backoff' | 'downloadIdleTimeoutMs'>> & {
  backoff: ProviderBackoffOptions;
  downloadIdleTimeoutMs: number;
};

export function resolvePollerOptions(options: PollerOptions, upstreamTimeoutMs: number): ResolvedPollerOptions {
  return {
    concurrency: options.concurrency ?? 8,
    sweepIntervalMs: options.sweepIntervalMs ?? 30_000,
    lockDurationMs: options.lockDurationMs ?? 30_000,
    stalledIntervalMs: options.stalledIntervalMs ?? 30_000,
    settleChunk: options.settleChunk ?? 500,
    settleInFlight: options.settleInFlight ?? 4,
    groupHoldMs: options.groupHoldMs ?? 300_000,
    notFoundAttempts: options.notFoundAttempts ?? 10,
    backoff: options.backoff ?? {},
    downloadIdleTimeoutMs: options.downloadIdleTimeoutMs ?? upstreamTimeoutMs,
  };
}
