/**
 * The undelivered sweep (issue 14.6): a lost delivery must never mean a lost outcome. Every finished request sits in
 * its partition's `undelivered` index until its outcome is delivered, gone (410) or dead-lettered; a member older than
 * the grace whose delivery is neither due nor claimed (`T:dlv:due`, `T:dlv:lease` — removed by hand, or ended without
 * recording an outcome) is made due again. dlv-add adds a member that is due or claimed meanwhile not a second time,
 * so dispatchers sweeping at once add it once; the webhook-id is the request's, so a receiver that did get the first
 * attempt dedupes the second.
 */
import type { Logger } from '@batchbridge/logger';
import type { Runtime } from '@batchbridge/runtime';

export interface UndeliveredSweepOptions {
  /** A finished request this old with no live deliver job gets one again. @defaultValue 60 000 ms */
  graceMs?: number;
  /** Members read per round trip. @defaultValue 200 */
  limit?: number;
  /**
   * Members looked at per partition per sweep, at most (the pass stays bounded in time; the next one goes on).
   * @defaultValue 10 000
   */
  maxPerPass?: number;
}

/** One pass over every partition; answers how many deliveries it made due again. */
export async function sweepUndelivered(
  runtime: Runtime,
  logger: Logger,
  options: UndeliveredSweepOptions = {},
): Promise<number> {
  const graceMs = options.graceMs ?? 60_000;
  let recreated = 0;
  const page = options.limit ?? 200;
  const maxPerPass = options.maxPerPass ?? 10_000;
  for (const p of runtime.keys.allPartitions()) {
    // Paged: with a receiver down for hours the oldest members are all live retries, and a newer one whose job was
    // deleted must still be found in this pass, not once those have drained.
    const before = Date.now() - graceMs;
    let offset = 0;
    for (let seen = 0; seen < maxPerPass; ) {
      const ids = await runtime.store.requests.undeliveredBefore(p, before, page, offset);
      if (ids.length === 0) break;
      seen += ids.length;
      const owed = await runtime.store.requests.outcomesOwed(p, ids);
      const pending = await runtime.store.deliveries.pending(p, ids);
      let removed = 0;
      const missing: string[] = [];
      for (const [i, id] of ids.entries()) {
        if (!owed[i]) {
          // Expired, or its outcome was recorded (a mark that raced the index): nothing to deliver.
          await runtime.store.requests.forgetUndelivered(p, id);
          removed += 1;
        } else if (!pending[i]) missing.push(id);
      }
      recreated += await runtime.store.deliveries.add(p, missing);
      offset += ids.length - removed;
      if (ids.length < page) break;
    }
  }
  if (recreated > 0) logger.warn({ recreated }, 'deliveries made due again for outcomes never delivered (missing)');
  return recreated;
}
