/**
 * One debug line per request when its flush is submitted as a provider batch, so that grepping a request id finds the
 * batch it went into (issue 7: one grep tells a request's whole life). Only at debug level: a 50 000-line batch would
 * otherwise write 50 000 info lines, and the ids and tenant reads cost Redis round trips.
 */
import type { PartitionId } from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import type { Runtime } from '@batchbridge/runtime';

const SLICE = 1_000;

export async function logSubmittedRequests(
  runtime: Runtime,
  log: Logger,
  p: PartitionId,
  flushId: string,
  batchId: string,
): Promise<void> {
  if (!log.isLevelEnabled('debug')) return;
  try {
    for (let start = 0; ; start += SLICE) {
      const ids = await runtime.store.flushIds(p, flushId, start, start + SLICE - 1);
      const tenants = await runtime.store.tenantsOf(p, ids);
      ids.forEach((requestId, i) => {
        log.debug({ requestId, tenant: tenants[i], batchId, line: start + i + 1 }, 'request submitted in batch');
      });
      if (ids.length < SLICE) break;
    }
  } catch (err) {
    // Logging must never fail a submission that has already been recorded.
    log.warn({ batchId, err: (err as Error).message }, 'could not log the requests of a submitted batch');
  }
}
