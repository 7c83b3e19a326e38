/**
 * Custom BullMQ backoff strategies. Errors may carry `retryAfterMs` (a provider's or receiver's Retry-After); the delay
 * is never shorter than that.
 */
import type { BackoffStrategy } from 'bullmq';

export interface RetryAfterCarrier {
  retryAfterMs?: number | undefined;
}

function retryAfterOf(err: unknown): number {
  const v = (err as RetryAfterCarrier | undefined)?.retryAfterMs;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}

function jitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.9 + 0.2 * random()));
}

export interface ProviderBackoffOptions {
  /** First retry delay. @defaultValue 1 000 ms */
  baseMs?: number;
  /** Largest delay. @defaultValue 60 000 ms */
  capMs?: number;
}

/** Exponential with jitter, capped; at least the error's Retry-After. */
export function providerBackoff(options: ProviderBackoffOptions = {}): (attemptsMade: number, err?: unknown) => number {
  const base = options.baseMs ?? 1_000;
  const cap = options.capMs ?? 60_000;
  return (attemptsMade, err) => {
    const exp = Math.min(cap, base * 2 ** Math.max(0, attemptsMade - 1));
    return Math.max(jitter(exp), retryAfterOf(err));
  };
}

/** The webhook schedule (WEBHOOK_RETRY_SCHEDULE) with jitter; at least the receiver's Retry-After. */
export function webhookBackoff(scheduleMs: readonly number[]): (attemptsMade: number, err?: unknown) => number {
  return (attemptsMade, err) => {
    // The delay the processor already chose (and wrote into the delivery log as the next attempt's time).
    const chosen = (err as { delayMs?: unknown } | undefined)?.delayMs;
    if (typeof chosen === 'number' && Number.isFinite(chosen) && chosen >= 0) return chosen;
    const base = scheduleMs[Math.min(scheduleMs.length - 1, Math.max(0, attemptsMade - 1))] ?? 5_000;
    return Math.max(jitter(base), retryAfterOf(err));
  };
}

/** A BullMQ `settings.backoffStrategy` that dispatches on the job's backoff type. */
export function backoffStrategy(strategies: {
  provider?: (attemptsMade: number, err?: unknown) => number;
  webhook?: (attemptsMade: number, err?: unknown) => number;
}): BackoffStrategy {
  return (attemptsMade, type, err) => {
    const fn = type === 'webhook' ? strategies.webhook : strategies.provider;
    return fn ? fn(attemptsMade, err) : 1_000;
  };
}
