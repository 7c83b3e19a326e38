/**
 * One packing pass over a partition: every group that is not held and whose queued requests reach a flush trigger
 * (count, bytes, estimated tokens, inputs, age of the oldest) is claimed into flushes by the CLAIM script, which re-checks the
 * trigger atomically and takes at most the limits — so each request lands in exactly one flush even with several
 * packer replicas ticking at once. Large flushes are claimed in slices (CLAIM_MORE) so that Redis is never held long.
 * A group keeps being claimed while a full batch is still waiting.
 */
import { endpointOfGroup, type FlushLimits, newFlushId, type PartitionId, type Store } from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import type { CrashPoint } from './crash-points.js';

/** Bound on claims per group and pass, so that one busy group cannot starve the others. */
const MAX_CLAIMS_PER_GROUP = 100;

function due(
  g: { count: number; bytes: number; tokens: number; inputs: number; oldestAt: number | undefined },
  limits: FlushLimits,
  now: number,
) {
  return (
    g.count >= limits.maxRequests ||
    g.bytes >= limits.maxBytes ||
    g.tokens >= limits.maxTokens ||
    (limits.maxInputs !== undefined && g.inputs >= limits.maxInputs) ||
    (g.oldestAt !== undefined && now - g.oldestAt >= limits.maxWaitMs)
  );
}

/** Returns the number of flushes claimed. */
export async function packPartition(
  runtime: Runtime,
  store: Store,
  p: PartitionId,
  crashPoint: (point: CrashPoint) => void,
): Promise<number> {
  const { relay, config } = runtime;
  const m = runtime.metrics.m;
  let flushes = 0;
  for (const group of await store.flushes.groups(p)) {
    // The limits of the group's endpoint (profile `endpointLimits`: OpenAI caps embedding inputs per batch).
    const limits: FlushLimits = {
      ...config.batch.endpoints[endpointOfGroup(group.group)],
      maxWaitMs: config.batch.maxWaitMs,
    };
    // Held after a provider token-limit failure (set by the poller); CLAIM checks the hold too.
    if (group.held || !due(group, limits, Date.now())) continue;
    for (let i = 0; i < MAX_CLAIMS_PER_GROUP; i++) {
      const claim = await store.flushes.claim(p, group.group, newFlushId(), limits);
      if (!claim.claimed) break;
      crashPoint('after-claim');
      // No entry when recovery sealed the flush while this claim was still adding to it (recovery re-added the job).
      if (claim.outbox) await relay.relay(p, [claim.outbox]);
      m.batchFlushes.inc({ reason: claim.reason });
      m.batchRequests.observe(claim.count);
      m.batchBytes.observe(claim.bytes);
      runtime.logger.info(
        { flushId: claim.flushId, partition: p, group: group.group, count: claim.count, reason: claim.reason },
        'flush claimed',
      );
      flushes += 1;
    }
  }
  return flushes;
}
