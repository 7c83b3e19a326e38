/**
 * Counts an adapter's calls against its provider's circuit (SPEC §11 failover): uploads, creates, polls (retrieve)
 * and downloads (opening a result stream). A failure counts when it says the provider is unwell — what
 * `classifyProviderError` calls retryable (5xx, 408, 409, 429, timeouts, connection and stream errors); a 4xx refusal
 * is about the request, not the provider. Lookups, cancels, deletes, model lists and realtime-lane calls are not counted.
 */
import type { ProviderAdapter } from './adapter.js';
import { classifyProviderError } from './errors.js';

export type HealthOp = 'upload' | 'create' | 'poll' | 'download';

export interface HealthHooks {
  success(provider: string, op: HealthOp): Promise<unknown>;
  failure(provider: string, op: HealthOp, message: string): Promise<unknown>;
  /** Where the hooks' own errors go (Redis trouble must not fail the provider call). */
  onError?(err: unknown): void;
}

export function withHealth(adapter: ProviderAdapter, hooks: HealthHooks): ProviderAdapter {
  const note = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      hooks.onError?.(err);
    }
  };
  async function tracked<T>(op: HealthOp, call: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await call();
    } catch (err) {
      const info = classifyProviderError(err);
      if (info.retryable)
        await note(hooks.failure(adapter.id, op, `${info.status ?? info.code ?? ''} ${info.message}`));
      throw err;
    }
    await note(hooks.success(adapter.id, op));
    return result;
  }
  return {
    id: adapter.id,
    profile: adapter.profile,
    inputMode: adapter.inputMode,
    uploadInput: (input) => tracked('upload', () => adapter.uploadInput(input)),
    deleteOrphanInputs: (flushId, notBeforeSec) => adapter.deleteOrphanInputs(flushId, notBeforeSec),
    createBatch: (params) => tracked('create', () => adapter.createBatch(params)),
    retrieveBatch: (batchId) => tracked('poll', () => adapter.retrieveBatch(batchId)),
    findBatchByFlushId: (flushId, options) => adapter.findBatchByFlushId(flushId, options),
    cancelBatch: (batchId) => adapter.cancelBatch(batchId),
    resultSources: (batch) =>
      adapter.resultSources(batch).map((source) => ({
        ref: source.ref,
        open: (signal: AbortSignal) => tracked('download', () => source.open(signal)),
        ...(source.toResultLine ? { toResultLine: source.toResultLine.bind(source) } : {}),
      })),
    deleteFiles: (fileIds) => adapter.deleteFiles(fileIds),
    listModels: (options) => adapter.listModels(options),
    // The realtime lane has its own budget and 429 backoff (SPEC §10); its calls do not open the batch circuit.
    ...(adapter.realtime ? { realtime: adapter.realtime.bind(adapter) } : {}),
  };
}
