/**
 * One debug line per settled request (request id, tenant, outcome) so that grepping a request id finds its result
 * (issue 7: one grep tells a request's whole life). The logger given is the poll job's, which already carries the
 * batch and flush ids. Only at debug level: the tenant read is one more Redis round trip per chunk, and a 50 000-line
 * batch would otherwise write 50 000 info lines.
 */
import type { PartitionId, SettleOutcome, Store } from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';

export async function logSettled(
  store: Store,
  log: Logger,
  p: PartitionId,
  items: ReadonlyArray<{ id: string; kind: string }>,
  outcomes: readonly SettleOutcome[],
): Promise<void> {
  if (!log.isLevelEnabled('debug') || items.length === 0) return;
  try {
    const tenants = await store.requests.tenantsOf(
      p,
      items.map((i) => i.id),
    );
    items.forEach((item, i) => {
      log.debug(
        { requestId: item.id, tenant: tenants[i], outcome: outcomes[i], verdict: item.kind },
        'request settled',
      );
    });
  } catch (err) {
    // The results are applied already; a log line is never a reason to fail routing.
    log.warn({ err: (err as Error).message }, 'could not log settled requests');
  }
}
