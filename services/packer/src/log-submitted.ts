/**
 * One debug line per request when its flush is submitted as a provider batch (or refused for good), so that grepping
 * a request id finds the batch it went into (issue 7: one grep tells a request's whole life). Only at debug level: a
 * 50 000-line batch would otherwise write 50 000 info lines, and the ids and tenant reads cost Redis round trips.
 */
import type { PartitionId } from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import type { Runtime } from '@batchbridge/runtime';

const SLICE = 1_000;

/** Logs every request of a flush, in line order, with its tenant and `fields`. Never throws. */
export async function logFlushRequests(
  runtime: Runtime,
  log: Logger,
  p: PartitionId,
  flushId: string,
  message: string,
  fields: Record<string, unknown> = {},
): Promise<void> {
  if (!log.isLevelEnabled('debug')) return;
  try {
    for (let start = 0; ; start += SLICE) {
      const ids = await runtime.store.flushes.ids(p, flushId, start, start + SLICE - 1);
      const tenants = await runtime.store.requests.tenantsOf(p, ids);
      ids.forEach((requestId, i) => {
        log.debug({ requestId, tenant: tenants[i], ...fields, line: start + i + 1 }, message);
      });
      if (ids.length < SLICE) break;
    }
  } catch (err) {
    // Logging must never fail a step that has already been recorded.
    log.warn({ err: (err as Error).message }, `could not log the requests of a flush (${message})`);
  }
}

export function logSubmittedRequests(
  runtime: Runtime,
  log: Logger,
  p: PartitionId,
  flushId: string,
  batchId: string,
): Promise<void> {
  return logFlushRequests(runtime, log, p, flushId, 'request submitted in batch', { batchId });
}
