/**
 * THE BullMQ job ids of batchbridge, spelled once. They are deterministic, so that a job added twice (outbox relay
 * after a crash, recovery sweeps) is added once: BullMQ ignores an `add` whose job id exists.
 *
 * They live in the domain, not in the queue catalog, because the Lua scripts (which write the outbox entries) are
 * here and the queues package depends on this one; the catalog re-exports them (`jobIds` in queues/catalog.ts). The
 * scripts get `job_id_<name>(...)` functions generated from JOB_ID_PREFIXES (lua.ts).
 */

/** Job id = prefix + the id of what the job works on. */
export const JOB_ID_PREFIXES = {
  /** The flush job of a claimed flush (packer). */
  flush: 'flush-',
  /** The poll job of a submitted batch (poller). */
  poll: 'poll-',
  /** The deliver job of a finished request (dispatcher). */
  deliver: 'dlv-',
  /** The fast-lane call of a request (flex or realtime, SPEC §10), by its run id (one per lane claim). */
  lane: 'lane-',
  /** An operational event of a tenant (`endpoint.disabled`, `message.attempt.exhausted`, `budget.threshold`). */
  event: 'evt-',
  /** An aggregated delivery run: sends a tenant's buffered outcomes for one callback URL, N per signed POST. */
  aggregate: 'agg-',
} as const;

export type JobIdKind = keyof typeof JOB_ID_PREFIXES;

/** Marks after the deliver id of a deliver job that is not the request's first one. */
const REDELIVER_MARK = '-r';
const RESWEEP_MARK = '-s';

export const jobIds = {
  flush: (flushId: string): string => JOB_ID_PREFIXES.flush + flushId,
  poll: (batchId: string): string => JOB_ID_PREFIXES.poll + batchId,
  deliver: (requestId: string): string => JOB_ID_PREFIXES.deliver + requestId,
  event: (eventId: string): string => JOB_ID_PREFIXES.event + eventId,
  lane: (runId: string): string => JOB_ID_PREFIXES.lane + runId,
  /** An aggregate job of one buffer's run (`aggregateRun`): a fresh id each time the buffer is scheduled. */
  aggregate: (run: string): string => JOB_ID_PREFIXES.aggregate + run,
  /**
   * A redeliver asked for at `at` (ms): a fresh id, since the first deliver job may still be kept as completed and
   * BullMQ would ignore an add with its id. `nonce` separates redelivers asked for in the same millisecond.
   */
  redeliver: (requestId: string, at: number, nonce?: string): string =>
    `${jobIds.deliver(requestId)}${REDELIVER_MARK}${at}${nonce ? `-${nonce}` : ''}`,
  /** The undelivered sweep's deliver job after a deliver job that finished (at `finishedOn`) without an outcome. */
  resweep: (requestId: string, finishedOn: number): string =>
    `${jobIds.deliver(requestId)}${RESWEEP_MARK}${finishedOn}`,
} as const;

/** The run of an aggregate job: its buffer (tenant, callback URL hash) and when it was scheduled (ms). */
export function aggregateRun(tenant: string, urlHash: string, at: number): string {
  return `${tenant}-${urlHash}-${at}`;
}
