/**
 * Message Batches of the Anthropic mode, in memory: a batch is `in_progress` for `processingMs`, then `ended`, when
 * every request's result is decided at once (Anthropic counts only `processing` until a batch ends). A cancel moves it
 * to `canceling` for `cancellingMs`; the requests that the elapsed share of `processingMs` had reached succeed, the
 * others are `canceled`. Faults: `expireAfterFraction` (requests past that share end `expired`), `lineErrorFraction`
 * (`errored` with the type of `lineErrorStatus`); `[sim:error=NNN]` in a request errors that request.
 */
import { randomBytes } from 'node:crypto';
import type { SimCounters } from '../counters.js';
import type { SimFaults } from '../faults.js';
import type { Rng } from '../rng.js';
import {
  anthropicErrorType,
  invalidParamsReason,
  type SimMessageParams,
  simErrorStatus,
  simulatedMessage,
} from './message.js';

export interface SimBatchRequest {
  custom_id: string;
  params: unknown;
}

export interface SimRequestCounts {
  processing: number;
  succeeded: number;
  errored: number;
  canceled: number;
  expired: number;
}

interface SimBatch {
  id: string;
  createdAt: number;
  requests: SimBatchRequest[];
  status: 'in_progress' | 'canceling' | 'ended';
  endedAt: number | null;
  cancelInitiatedAt: number | null;
  counts: SimRequestCounts;
  /** Result lines (JSON text), once ended. */
  results: string[] | null;
  timer: NodeJS.Timeout | null;
}

export interface AnthropicStoreDeps {
  models: () => readonly string[];
  faults: () => SimFaults;
  counters: () => SimCounters;
  rng: () => Rng;
  processingMs: number;
  cancellingMs: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function errorResult(status: number, message: string) {
  return {
    type: 'errored',
    error: { type: 'error', error: { type: anthropicErrorType(status), message }, request_id: null },
  };
}

export class AnthropicBatchStore {
  readonly #deps: AnthropicStoreDeps;
  /** Newest last. */
  #batches: SimBatch[] = [];
  #byId = new Map<string, SimBatch>();

  constructor(deps: AnthropicStoreDeps) {
    this.#deps = deps;
  }

  create(requests: SimBatchRequest[]): SimBatch {
    const batch: SimBatch = {
      id: `msgbatch_sim${randomBytes(12).toString('hex')}`,
      createdAt: Date.now(),
      requests,
      status: 'in_progress',
      endedAt: null,
      cancelInitiatedAt: null,
      counts: { processing: requests.length, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      results: null,
      timer: null,
    };
    this.#batches.push(batch);
    this.#byId.set(batch.id, batch);
    const counters = this.#deps.counters();
    counters.batchCreated();
    counters.linesReceived(requests.length);
    batch.timer = setTimeout(() => this.#end(batch, requests.length), this.#deps.processingMs);
    return batch;
  }

  get(id: string): SimBatch | undefined {
    return this.#byId.get(id);
  }

  /** Newest first, from after `afterId` (older) or before `beforeId` (newer). */
  list(options: { limit: number; afterId?: string | undefined; beforeId?: string | undefined }) {
    const newestFirst = [...this.#batches].reverse();
    let start = 0;
    let end = newestFirst.length;
    if (options.afterId !== undefined) start = newestFirst.findIndex((b) => b.id === options.afterId) + 1;
    if (options.beforeId !== undefined)
      end = Math.max(
        0,
        newestFirst.findIndex((b) => b.id === options.beforeId),
      );
    let page: SimBatch[];
    let hasMore: boolean;
    if (options.beforeId !== undefined && options.afterId === undefined) {
      page = newestFirst.slice(Math.max(0, end - options.limit), end);
      hasMore = end - options.limit > 0;
    } else {
      page = newestFirst.slice(start, Math.min(end, start + options.limit));
      hasMore = start + options.limit < end;
    }
    return { page, hasMore };
  }

  cancel(batch: SimBatch): void {
    if (batch.status !== 'in_progress') return;
    const now = Date.now();
    const elapsed = now - batch.createdAt;
    const share = this.#deps.processingMs > 0 ? Math.min(1, elapsed / this.#deps.processingMs) : 1;
    const reached = Math.floor(share * batch.requests.length);
    if (batch.timer) clearTimeout(batch.timer);
    batch.status = 'canceling';
    batch.cancelInitiatedAt = now;
    batch.timer = setTimeout(() => this.#end(batch, reached), this.#deps.cancellingMs);
  }

  /** Decides every request: the first `reached` are answered, the rest canceled. */
  #end(batch: SimBatch, reached: number): void {
    batch.timer = null;
    const faults = this.#deps.faults();
    const counters = this.#deps.counters();
    const rng = this.#deps.rng();
    const models = this.#deps.models();
    const n = batch.requests.length;
    const expireFrom = faults.expireAfterFraction === null ? n : Math.ceil(faults.expireAfterFraction * n);
    const counts: SimRequestCounts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
    const results: string[] = [];
    batch.requests.forEach((req, i) => {
      let result: unknown;
      if (i >= reached) {
        result = { type: 'canceled' };
        counts.canceled++;
      } else if (i >= expireFrom) {
        result = { type: 'expired' };
        counts.expired++;
      } else {
        const invalid = invalidParamsReason(req.params, models);
        const params = req.params as SimMessageParams;
        const marked = invalid === null ? simErrorStatus(params) : null;
        if (invalid !== null) {
          result = errorResult(400, invalid);
        } else if (marked !== null) {
          result = errorResult(marked, `Simulated error ${marked} requested by [sim:error=${marked}].`);
        } else if (faults.lineErrorFraction > 0 && rng() < faults.lineErrorFraction) {
          result = errorResult(faults.lineErrorStatus, `Simulated error ${faults.lineErrorStatus}.`);
        } else {
          result = { type: 'succeeded', message: simulatedMessage(params) };
        }
        if ((result as { type: string }).type === 'succeeded') {
          counts.succeeded++;
          counters.outputLine(req.custom_id, batch.id);
        } else {
          counts.errored++;
          const status = invalid !== null ? 400 : (marked ?? faults.lineErrorStatus);
          counters.errorLine(req.custom_id, status);
        }
      }
      results.push(JSON.stringify({ custom_id: req.custom_id, result }));
    });
    batch.results = results;
    batch.counts = counts;
    batch.status = 'ended';
    batch.endedAt = Date.now();
    batch.requests = [];
  }

  render(batch: SimBatch, origin: string) {
    return {
      id: batch.id,
      type: 'message_batch',
      processing_status: batch.status,
      request_counts: { ...batch.counts },
      ended_at: iso(batch.endedAt),
      created_at: iso(batch.createdAt),
      expires_at: iso(batch.createdAt + DAY_MS),
      archived_at: null,
      cancel_initiated_at: iso(batch.cancelInitiatedAt),
      results_url: batch.status === 'ended' ? `${origin}/v1/messages/batches/${batch.id}/results` : null,
    };
  }

  /** Stops every timer and forgets every batch. */
  clear(): void {
    for (const b of this.#batches) if (b.timer) clearTimeout(b.timer);
    this.#batches = [];
    this.#byId = new Map();
  }
}

export type { SimBatch };
