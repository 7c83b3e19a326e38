/**
 * Aggregated deliveries (SPEC §16): for a tenant with `webhook_batch`, outcomes for one callback URL go out together,
 * up to `max_events` per signed POST:
 *
 *   {"type":"request.outcomes","timestamp":"…","data":[{"webhook_id":"msg_…","event":<the outcome's own webhook body>},…]}
 *
 * Each `event` is byte for byte the body a single delivery of that outcome would carry, under its own `webhook-id`, so a
 * receiver dedupes per outcome as always; the envelope has a `webhook-id` of its own and is signed like any webhook.
 *
 * - `buffer` (an outcome's claimed delivery): the outcome goes into its URL's buffer (once); the first one in schedules
 *   an aggregate job `max_wait_ms` later. The delivery then stays due (parked), waking now and then until its outcome
 *   is delivered, gone or dead-lettered — so the undelivered sweep leaves it alone, and a lost aggregate job is
 *   replaced (its marker lapses; a wake-up schedules another).
 * - `run` (the aggregate job): takes envelopes from the buffer until it is empty; each is sent with the URL's circuit,
 *   host and fair-share limits, recorded in every member's delivery log, and settled for all its members at once
 *   (delivered, 410/abort, refused or, after the retry schedule, dead-lettered). A failed POST is retried by the queue
 *   on the webhook schedule with the same envelope: same id, time, members, bytes.
 */
import { randomBytes } from 'node:crypto';
import type { Tenant } from '@batchbridge/config';
import {
  aggregateRun,
  callbackUrlHash,
  isTerminal,
  type PartitionId,
  type RequestRecord,
  webhookIdFor,
} from '@batchbridge/domain';
import { type DeliverJobData, jobIds } from '@batchbridge/queues';
import { type DeliveryResult, hostKey, type ReleaseSlot, signWebhook } from '@batchbridge/webhooks';
import { DelayedError, type Job } from 'bullmq';
import type { DeliverProcessorDeps, DeliverResult } from './deliver-processor.js';
import { DeliveryRetryError } from './errors.js';

type AggregateData = NonNullable<DeliverJobData['aggregate']>;

export interface AggregatorContext {
  deps: DeliverProcessorDeps;
  secretsOf: (tenant: Tenant) => Promise<string[]>;
  backoff: (attempt: number, result: DeliveryResult) => number;
  slots: (p: PartitionId, tenant: string, host: string) => ReleaseSlot | null;
  deadLetter: (
    deps: DeliverProcessorDeps,
    p: PartitionId,
    tenant: Tenant,
    requestId: string,
    reason: string,
    attempts: number,
    last?: DeliveryResult,
  ) => Promise<void>;
  /** The answer into the endpoint's health; true when it disabled the endpoint now (its event is queued). */
  recordHealth: (
    p: PartitionId,
    tenant: Tenant,
    host: string,
    result: DeliveryResult,
    requestId: string,
  ) => Promise<boolean>;
}

/** Envelopes one aggregate job sends before it hands over to a fresh job (other buffers get worker time meanwhile). */
const ENVELOPES_PER_RUN = 50;
/** How long the buffer's marker outlives its job's silence: past it, a member's wake-up schedules a new job. */
const MARKER_GRACE_MS = 60_000;

export function createAggregator(ctx: AggregatorContext) {
  const { deps } = ctx;
  const { store, metrics: m } = deps;
  const settings = (tenant: Tenant) => tenant.webhook_batch ?? { max_events: 1, max_wait_ms: 0 };
  const markerTtl = (tenant: Tenant) => settings(tenant).max_wait_ms + MARKER_GRACE_MS;

  async function schedule(p: PartitionId, tenant: Tenant, url: string, urlHash: string, delayMs: number) {
    const run = aggregateRun(tenant.id, urlHash, Date.now());
    await deps.queues?.addBulk('deliver', p, [
      {
        jobId: jobIds.aggregate(run),
        data: { partition: p, requestId: run, aggregate: { tenant: tenant.id, url, urlHash } },
        delayMs,
      },
    ]);
  }

  return {
    /**
     * An outcome of an aggregating tenant: buffer it (once); answers when its delivery wakes next to see it settled
     * (then it ends as `skipped` or `dead_letter`) or to buffer it again — undefined when it is dead-lettered already.
     */
    async buffer(
      p: PartitionId,
      tenant: Tenant,
      record: RequestRecord,
      callbackUrl: string,
    ): Promise<number | undefined> {
      if (record.dead) return undefined;
      const urlHash = callbackUrlHash(callbackUrl);
      const { max_wait_ms: waitMs } = settings(tenant);
      const { added, schedule: mustSchedule } = await store.aggregates.add(
        p,
        tenant.id,
        urlHash,
        record.id,
        markerTtl(tenant),
      );
      if (added) m.webhookDeliveries.inc({ outcome: 'aggregated' });
      if (mustSchedule) await schedule(p, tenant, callbackUrl, urlHash, waitMs);
      const wakeMs = Math.min(60_000, Math.max(5_000, waitMs * 3));
      return Date.now() + Math.round(wakeMs * (1 + Math.random() * 0.2));
    },

    /** The aggregate job: envelopes from the buffer until it is empty. */
    async run(
      job: Job<DeliverJobData>,
      token: string | undefined,
      p: PartitionId,
      agg: AggregateData,
    ): Promise<DeliverResult> {
      const tenant = deps.tenants.get(agg.tenant);
      if (tenant === undefined || tenant.webhook_batch === undefined) {
        // The tenant stopped aggregating: its members' own jobs deliver them one by one when they wake.
        await store.aggregates.dropMarker(p, agg.tenant, agg.urlHash);
        return 'skipped';
      }
      const url = new URL(agg.url);
      const host = hostKey(url);
      const ttl = markerTtl(tenant);
      const log = () => deps.logger.child({ tenant: tenant.id, host, jobId: job.id });
      for (let round = 0; round < ENVELOPES_PER_RUN; round++) {
        const envelope = await store.aggregates.take(
          p,
          tenant.id,
          agg.urlHash,
          `msg_agg${randomBytes(10).toString('hex')}`,
          tenant.webhook_batch.max_events,
          ttl,
        );
        if (envelope === undefined) return 'delivered';
        const settle = () => store.aggregates.done(p, tenant.id, agg.urlHash, envelope.id);
        const records = await Promise.all(envelope.members.map((id) => store.requests.get(id)));
        const owed = records.filter(
          (r): r is RequestRecord =>
            r !== undefined &&
            isTerminal(r.status) &&
            r.delivered_at === undefined &&
            r.gone_at === undefined &&
            !r.dead,
        );
        if (owed.length === 0) {
          await settle();
          continue;
        }
        const deadLetterAll = async (reason: string, last?: DeliveryResult) => {
          for (const r of owed) await ctx.deadLetter(deps, p, tenant, r.id, reason, job.attemptsMade + 1, last);
          m.webhookDeliveries.inc({ outcome: 'dead_letter' }, owed.length);
          await settle();
        };

        if (deps.health) {
          const gate = await store.endpoints.gate(tenant.id, host, deps.health.probeMs);
          if (gate.kind === 'disabled') {
            await deadLetterAll('endpoint_disabled');
            log().warn({ outcomes: owed.length }, 'endpoint is disabled; aggregated outcomes dead-lettered');
            continue;
          }
          if (gate.kind === 'open') {
            m.webhookCircuit.inc({ event: 'delayed' });
            const wait = Math.max(0, gate.until - Date.now()) + Math.round(deps.parkMs * (1 + Math.random()));
            await store.aggregates.keepMarker(p, tenant.id, agg.urlHash, wait + ttl);
            await job.moveToDelayed(Date.now() + wait, token);
            throw new DelayedError();
          }
          if (gate.kind === 'probe') m.webhookCircuit.inc({ event: 'probe' });
        }
        const release = ctx.slots(p, tenant.id, host);
        if (release === null) {
          await job.moveToDelayed(Date.now() + Math.round(deps.parkMs * (0.5 + Math.random())), token);
          throw new DelayedError();
        }

        let result: DeliveryResult;
        const startedAt = new Date();
        try {
          // Each member's body rebuilt from its record, its mark fixed the first time (webhook-body.ts).
          const bodies = await Promise.all(owed.map((r) => store.requests.webhookBody(p, r)));
          const changed = bodies.filter((b) => b.how === 'changed').length;
          if (changed > 0) {
            m.webhookBodyChanged.inc(changed);
            log().error({ envelope: envelope.id, changed }, "rebuilt webhook bodies differ from the first attempt's");
          }
          const events = owed.map(
            (r, i) => `{"webhook_id":${JSON.stringify(webhookIdFor(r.id))},"event":${bodies[i]?.body}}`,
          );
          const body = `{"type":"request.outcomes","timestamp":"${new Date(envelope.at).toISOString()}","data":[${events.join(',')}]}`;
          const headers = signWebhook({
            secret: await ctx.secretsOf(tenant),
            id: envelope.id,
            timestamp: startedAt,
            body,
          });
          result = await deps.sender.send({ url, headers, body });
        } finally {
          release();
        }
        m.webhookDeliveryDuration.observe(result.durationMs / 1000);
        const attempt = job.attemptsMade + 1;
        const attempts = job.opts.attempts ?? 1;
        const nextDelayMs = result.outcome === 'retry' && attempt < attempts ? ctx.backoff(attempt, result) : undefined;

        const disabledNow = await ctx.recordHealth(p, tenant, host, result, owed[0]?.id ?? envelope.id);
        const entry = {
          at: startedAt.toISOString(),
          status_code: result.status ?? null,
          error: result.outcome === 'delivered' ? null : (result.error ?? null),
          duration_ms: result.durationMs,
          next_attempt_at:
            nextDelayMs === undefined || disabledNow ? null : new Date(Date.now() + nextDelayMs).toISOString(),
          envelope_id: envelope.id,
        };
        await Promise.all(
          owed.map((r) =>
            store.requests
              .recordAttempt(p, r.id, entry, deps.logAttempts ?? 20)
              .catch((err: Error) => log().warn({ err: err.message }, 'delivery log not written')),
          ),
        );

        switch (result.outcome) {
          case 'delivered': {
            for (const r of owed) {
              if (await store.requests.markDelivered(p, r.id)) {
                m.requestTurnaround.observe(Math.max(0, Date.now() - r.created_at) / 1000);
              }
            }
            m.webhookDeliveries.inc({ outcome: 'delivered' }, owed.length);
            await settle();
            log().info({ envelope: envelope.id, outcomes: owed.length, status: result.status }, 'webhooks delivered');
            continue;
          }
          case 'gone':
          case 'aborted':
            for (const r of owed) await store.requests.markGone(p, r.id, result.outcome);
            m.webhookDeliveries.inc({ outcome: result.outcome }, owed.length);
            await settle();
            log().warn(
              { envelope: envelope.id, status: result.status },
              `receiver answered ${result.outcome}; stopped`,
            );
            continue;
          case 'refused':
            await deadLetterAll('refused', result);
            continue;
          case 'retry':
            if (disabledNow) {
              await deadLetterAll('endpoint_disabled', result);
              continue;
            }
            if (attempt >= attempts) {
              await deadLetterAll('exhausted', result);
              // This job's attempts are used up: the rest of the buffer goes to a fresh job.
              await schedule(p, tenant, agg.url, agg.urlHash, 0);
              log().warn({ envelope: envelope.id, attempts }, 'last aggregated attempt failed; outcomes dead-lettered');
              return 'dead_letter';
            }
            m.webhookDeliveries.inc({ outcome: 'retry' }, owed.length);
            await store.aggregates.keepMarker(p, tenant.id, agg.urlHash, (nextDelayMs ?? 0) + ttl);
            throw new DeliveryRetryError(result.error ?? 'delivery failed', result.retryAfterMs, nextDelayMs);
        }
      }
      // A long buffer: a fresh job goes on with it (the marker stays with the buffer).
      await store.aggregates.keepMarker(p, tenant.id, agg.urlHash, ttl);
      await schedule(p, tenant, agg.url, agg.urlHash, 0);
      return 'delivered';
    },
  };
}
