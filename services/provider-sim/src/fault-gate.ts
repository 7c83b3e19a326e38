/**
 * The per-call faults and limits in front of every `/v1` operation: concurrency and requests-per-minute limits and
 * random 429s (all answered with `Retry-After`), random 5xx, then added latency.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { SimHttpError } from './errors.js';
import { forOperation, type SimOperation } from './faults.js';
import type { SimState } from './sim-state.js';

const MINUTE_MS = 60_000;

/** What the gate reads of a simulator's state (the Anthropic mode passes its own). */
export type FaultGateState = Pick<SimState, 'faults' | 'counters' | 'rng'>;

export class FaultGate {
  readonly #state: FaultGateState;
  /** Accepted call times within the last minute, per operation. */
  #recent = new Map<SimOperation, number[]>();
  #inFlight = new Map<SimOperation, number>();

  constructor(state: FaultGateState) {
    this.#state = state;
  }

  /** Forgets rate-limit windows (calls in flight still release their slot). */
  reset(): void {
    this.#recent = new Map();
  }

  /** Express middleware for one operation. */
  for(op: SimOperation): RequestHandler {
    return (_req: Request, res: Response, next: NextFunction) => {
      this.#enter(op, res).then(
        () => next(),
        (err: unknown) => next(err),
      );
    };
  }

  async #enter(op: SimOperation, res: Response): Promise<void> {
    const state = this.#state;
    const faults = state.faults;
    state.counters.request(op);

    const maxConcurrent = forOperation(faults.maxConcurrent, op);
    const inFlight = this.#inFlight.get(op) ?? 0;
    if (maxConcurrent !== undefined && inFlight >= maxConcurrent) {
      throw this.#tooMany(
        `Too many concurrent requests for ${op}: limit ${maxConcurrent}.`,
        Math.max(faults.retryAfterMs, 1000),
      );
    }

    const rpm = forOperation(faults.requestsPerMinute, op);
    if (rpm !== undefined) {
      const now = Date.now();
      const window = (this.#recent.get(op) ?? []).filter((t) => t > now - MINUTE_MS);
      this.#recent.set(op, window);
      if (window.length >= rpm) {
        const oldest = window[0] ?? now;
        throw this.#tooMany(
          `Rate limit reached for ${op}: limit ${rpm} requests per minute.`,
          oldest + MINUTE_MS - now,
        );
      }
      window.push(now);
    }

    const limitFraction = forOperation(faults.rateLimitFraction, op) ?? 0;
    if (limitFraction > 0 && state.rng() < limitFraction) {
      throw this.#tooMany(`Rate limit reached for ${op} (simulated).`, faults.retryAfterMs);
    }

    const errorFraction = forOperation(faults.serverErrorFraction, op) ?? 0;
    if (errorFraction > 0 && state.rng() < errorFraction) {
      state.counters.serverError();
      throw new SimHttpError(
        faults.serverErrorStatus,
        'The server had an error while processing your request. Sorry about that!',
      );
    }

    this.#inFlight.set(op, inFlight + 1);
    res.once('close', () => this.#inFlight.set(op, (this.#inFlight.get(op) ?? 1) - 1));

    const latency = forOperation(faults.latencyMs, op) ?? 0;
    if (latency > 0) await sleep(latency);
  }

  #tooMany(message: string, retryAfterMs: number): SimHttpError {
    this.#state.counters.rateLimited();
    const ms = Math.max(0, Math.ceil(retryAfterMs));
    return new SimHttpError(429, message, {
      type: 'requests',
      code: 'rate_limit_exceeded',
      headers: { 'retry-after': String(Math.ceil(ms / 1000)), 'retry-after-ms': String(ms) },
    });
  }
}
