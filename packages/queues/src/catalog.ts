/**
 * THE queue catalog: every BullMQ queue, job name, payload schema and retry policy of batchbridge, in one file.
 *
 * Each queue exists once per partition, with the partition's hash tag as its BullMQ prefix (`{bb:p3}:deliver:…`), so a
 * queue's keys share a Redis Cluster slot with the request records of that partition (see domain/keys.ts).
 *
 * Jobs are never added directly by the code that changes a request's state: the Lua scripts write an outbox entry in
 * the same atomic step, and the outbox relay (outbox.ts) adds the job with a deterministic `jobId`, so a crash between
 * the two neither loses the job nor adds it twice.
 *
 * Retries: provider calls are retried by the queue only (the openai SDK runs with `maxRetries: 0`), with exponential
 * backoff honouring `Retry-After`, so that retries do not multiply.
 */
import { jobIds } from '@batchbridge/domain';
import type { JobsOptions } from 'bullmq';
import { z } from 'zod';

/**
 * Job ids, deterministic per job so that a job added twice is added once: `jobIds.flush(flushId)`,
 * `jobIds.poll(batchId)`, `jobIds.deliver(requestId)`, and the fresh ids of a redeliver (`jobIds.redeliver`) and of
 * the undelivered sweep (`jobIds.resweep`). Spelled in domain/job-ids.ts — the Lua scripts that write the outbox
 * entries get them from there, and this package depends on the domain, not the other way round.
 */
export { jobIds };

const partition = z.number().int().min(0).max(1023);

/** packer: upload a claimed flush as a JSONL file and create its provider batch (or adopt one after a crash). */
export const FlushJob = z.object({ partition, flushId: z.string().min(1) });
/** poller: poll one provider batch until terminal, then route its output and error files. Rescheduled, not retried. */
export const PollJob = z.object({ partition, batchId: z.string().min(1), polls: z.number().int().min(0).optional() });
/** An operational event for a tenant's operations_url (SPEC §16); its body is fixed when the event is made. */
export const OperationalEvent = z.object({
  id: z.string().min(1),
  tenant: z.string().min(1),
  type: z.enum(['endpoint.disabled', 'message.attempt.exhausted', 'budget.threshold']),
  body: z.string().min(1),
});
/**
 * dispatcher: deliver one request's outcome to its callback URL, signed; `redeliver` bypasses the delivered check.
 * With `batch: true`, `requestId` is a Batch API batch id and the event is its `batch.*` webhook (SPEC §12).
 */
export const DeliverJob = z.object({
  partition,
  requestId: z.string().min(1),
  redeliver: z.boolean().optional(),
  batch: z.boolean().optional(),
  /** Set on an operational-event job: sent to the tenant's operations_url instead of an outcome. */
  event: OperationalEvent.optional(),
  /**
   * Set on an aggregate job (SPEC §16, a tenant's `webhook_batch`): sends the buffered outcomes of one callback URL,
   * `max_events` per signed POST (`requestId` is then the job's run, not a request).
   */
  aggregate: z.object({ tenant: z.string().min(1), url: z.string().min(1), urlHash: z.string().min(1) }).optional(),
});
export type OperationalEventData = z.infer<typeof OperationalEvent>;
/**
 * lanes: one synchronous provider call of a request a fast lane claimed (SPEC §10: `flex` or `realtime`); `runId` is
 * the claim's, held in the record's `batch_id`, so a stale job (the request settled or claimed again) does nothing.
 */
export const LaneJob = z.object({
  partition,
  requestId: z.string().min(1),
  runId: z.string().min(1),
  lane: z.enum(['flex', 'realtime']),
  /** The lane the run is on now, once flex gave way to realtime (kept across the job's delays). */
  current: z.enum(['flex', 'realtime']).optional(),
  /** The request's deadline (epoch ms): lane jobs run earliest deadline first (`priorityOf`). */
  deadlineAt: z.number().optional(),
  /** The job's stalls already counted in `batchbridge_lane_calls_after_stall_total` (see the lane processor). */
  stallsSeen: z.number().int().nonnegative().optional(),
});
export type LaneJobData = z.infer<typeof LaneJob>;

export type FlushJobData = z.infer<typeof FlushJob>;
export type PollJobData = z.infer<typeof PollJob>;
export type DeliverJobData = z.infer<typeof DeliverJob>;

export interface QueueDefinition<S extends z.ZodType> {
  /** BullMQ queue name (no `:` allowed). */
  name: string;
  /** The one job name used on this queue. */
  jobName: string;
  schema: S;
  /** Default job options; `attempts` of deliver comes from WEBHOOK_RETRY_SCHEDULE at run time. */
  jobOptions: JobsOptions;
  /** Which custom backoff strategy (backoff.ts) the workers use. */
  backoff: 'provider' | 'webhook';
  /** BullMQ priority of a job (1 runs first), or undefined for the queue's plain order. */
  priorityOf?: (data: Record<string, unknown>, now: number) => number | undefined;
}

export type QueueCatalog = Record<string, QueueDefinition<z.ZodType>>;

/** BullMQ's lowest priority (priorities run from 1, the highest, to 2^21 - 1). */
const LOWEST_PRIORITY = 2_097_151;

/**
 * Lane jobs run earliest deadline first (SPEC §10): the priority is the seconds the request has left when its job is
 * added, so among waiting jobs the one due soonest runs next (jobs added seconds apart are ordered to within those
 * seconds). A job without a deadline runs after every job with one.
 */
export function lanePriority(data: Record<string, unknown>, now: number): number {
  const at = data.deadlineAt;
  if (typeof at !== 'number' || !Number.isFinite(at)) return LOWEST_PRIORITY;
  return Math.min(LOWEST_PRIORITY - 1, Math.max(1, Math.ceil((at - now) / 1000) + 1));
}

const keep = { removeOnComplete: { age: 3_600, count: 10_000 }, removeOnFail: { age: 7 * 86_400 } } as const;

export const QUEUES = {
  flush: {
    name: 'flush',
    jobName: 'submit-flush',
    schema: FlushJob,
    jobOptions: { attempts: 30, backoff: { type: 'provider' }, ...keep },
    backoff: 'provider',
  },
  poll: {
    name: 'poll',
    jobName: 'poll-batch',
    schema: PollJob,
    jobOptions: { attempts: 100, backoff: { type: 'provider' }, ...keep },
    backoff: 'provider',
  },
  lane: {
    name: 'lane',
    jobName: 'lane-call',
    schema: LaneJob,
    jobOptions: { attempts: 8, backoff: { type: 'provider' }, ...keep },
    backoff: 'provider',
    priorityOf: lanePriority,
  },
  deliver: {
    name: 'deliver',
    jobName: 'deliver-outcome',
    schema: DeliverJob,
    jobOptions: { attempts: 10, backoff: { type: 'webhook' }, ...keep },
    backoff: 'webhook',
  },
} satisfies QueueCatalog;

export type QueueKind = keyof typeof QUEUES;
export const QUEUE_KINDS = Object.keys(QUEUES) as QueueKind[];
