/**
 * The provider client: the official `openai` SDK pointed at any OpenAI-compatible Batch API, with retries switched off
 * (the queues retry, honouring Retry-After: see queues/catalog.ts) and every call counted and timed for metrics.
 */

import type { MetricsCatalog } from '@batchbridge/metrics';
import OpenAI from 'openai';
import { downloadFetch } from './download-fetch.js';

export interface ProviderClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Per-request timeout. @defaultValue 60 000 ms */
  timeoutMs?: number;
  metrics?: MetricsCatalog | undefined;
}

/** `GET /v1/batches/batch_1` → `batches.retrieve`: a bounded label for metrics. */
export function operationOf(method: string, url: string): string {
  // Mistral's jobs (`/v1/batch/jobs`) count as batches.
  const path = new URL(url).pathname.replace(
    /^.*?\/(files|batch\/jobs|batches|models|chat\/completions)/,
    (_, r: string) => (r === 'batch/jobs' ? 'batches' : r),
  );
  const parts = path.split('/').filter(Boolean);
  const [resource, id, action] = parts;
  const m = method.toUpperCase();
  if (resource === 'chat') return 'chat.completions.create';
  if (resource === 'files') {
    if (action === 'content') return 'files.content';
    if (!id) return m === 'POST' ? 'files.create' : 'files.list';
    return m === 'DELETE' ? 'files.delete' : 'files.retrieve';
  }
  if (resource === 'batches') {
    if (action === 'cancel') return 'batches.cancel';
    if (!id) return m === 'POST' ? 'batches.create' : 'batches.list';
    return 'batches.retrieve';
  }
  if (resource === 'models') return 'models.list';
  return 'other';
}

export function createProviderClient(options: ProviderClientOptions): OpenAI {
  const metrics = options.metrics;
  const instrumentedFetch: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const op = operationOf(init?.method ?? 'GET', url);
    const stop = metrics?.upstreamRequestDuration.startTimer({ operation: op });
    try {
      // A file's content streams through node:http (download-fetch.ts); everything else through Node's fetch.
      const res = await (op === 'files.content' ? downloadFetch : fetch)(input, init);
      metrics?.upstreamRequests.inc({ operation: op, status: String(res.status) });
      return res;
    } catch (err) {
      metrics?.upstreamRequests.inc({ operation: op, status: 'error' });
      throw err;
    } finally {
      stop?.();
    }
  };
  return new OpenAI({
    baseURL: options.baseUrl,
    apiKey: options.apiKey,
    maxRetries: 0,
    timeout: options.timeoutMs ?? 60_000,
    fetch: instrumentedFetch,
  });
}
