/**
 * THE Redis key layout of batchbridge — every key the system writes is named here and nowhere else.
 *
 * Requests and their queues are spread over P partitions (REDIS_PARTITIONS). Every key of partition N carries the hash
 * tag `{<prefix>:p<N>}`, so all keys of one partition live in one Redis Cluster slot: each Lua script and MULTI touches
 * one partition only, and partitions (not keys) are what a cluster spreads over its shards. BullMQ queues of a
 * partition use the same tag as their BullMQ prefix. A request id embeds its partition (`breq_<pp>…`), so any replica
 * finds a request without a lookup, and P may change for new requests without losing old ones.
 *
 * Per partition, with T = `{<prefix>:p<N>}`:
 *
 * | key                          | type   | holds                                                                    |
 * | ---------------------------- | ------ | ------------------------------------------------------------------------ |
 * | T:req:<requestId>            | hash   | the request record (fields in request-record.ts); EXPIREs after retention |
 * | T:pending:<group>            | zset   | queued request ids of a group, score = enqueue time (ms)                 |
 * | T:group:<group>              | hash   | count, bytes, tokens of the group's queued requests (flush triggers)     |
 * | T:groups                     | set    | groups that have queued requests                                         |
 * | T:hold:<group>               | string | set while a group is held back (provider token limit); PX = hold time     |
 * | T:flushes                    | zset   | flushes claimed but not yet submitted, score = claim time (recovery)     |
 * | T:flush:<flushId>            | hash   | flush state: group, count, bytes, tokens, reason, file_id, batch_id, ... |
 * | T:flush:<flushId>:ids        | list   | request ids of the flush, in JSONL line order (line n = index n-1)       |
 * | T:batches                    | zset   | live provider batches (submitted, not yet routed), score = submit time   |
 * | T:batch:<batchId>            | hash   | batch record: flush_id, group, count, submitted_at, status, routed_at,   |
 * |                              |        | and on routing n_completed, n_failed, n_retried (outcome counts);        |
 * |                              |        | terminal_at (the provider's terminal time, ms) from the terminal poll    |
 * | T:recent                     | zset   | routed batches, newest 200, score = routing time (operator page)         |
 * | T:idem:<tenant>:<key>        | string | `<requestId> <bodyHash>` for Idempotency-Key, PX = idempotency TTL       |
 * | T:open                       | string | non-terminal requests in the partition (global capacity)                 |
 * | T:open:<tenant>              | string | non-terminal requests of a tenant in the partition (max_queued)          |
 * | T:counts                     | hash   | requests per non-terminal state (queued, batched, submitted)             |
 * | T:outbox                     | zset   | jobs to hand to BullMQ (transactional outbox), score = time written      |
 * | T:dlv:due                    | zset   | outcome deliveries due (member `<requestId>`, or `r:<requestId>` for a   |
 * |                              |        | redeliver), score = next attempt time (ms); written by the settle and   |
 * |                              |        | cancel scripts themselves (no outbox hop), claimed N at a time (dlv-claim)|
 * | T:dlv:lease                  | zset   | deliveries a dispatcher claimed, score = lease end (ms, also the fence of |
 * |                              |        | its completion); past it, the next claim moves them back to due          |
 * | T:dlv:tries                  | hash   | attempts made per delivery member (absent: none yet); out when it ends   |
 * | T:dead                       | zset   | dead-lettered outcomes (request ids), score = time                       |
 * | T:undelivered                | zset   | finished requests whose outcome is not delivered, gone or dead-lettered  |
 * |                              |        | yet, score = finish time (the dispatcher's undelivered sweep)            |
 * | T:redeliver:<requestId>      | string | a redeliver was asked for in the last REDELIVER_GAP_MS (rate gate), PX   |
 * | T:outcomes                   | pubsub | channel (not a key): the ids of the requests one script call finished,   |
 * |                              |        | space-separated, for the ingests holding connections that wait (SPEC §8) |
 * | T:ffile:<fileId>             | hash   | an uploaded Batch API input file (SPEC §12): tenant, filename, bytes, lines,  |
 * |                              |        | chunks, urls (first line of each url), enqueuing (batches still reading it)   |
 * | T:ffile:<fileId>:c:<n>       | list   | chunk n of its checked lines (≤ 1 000 lines / 4 MB each): no huge key        |
 * | T:ffiles:<tenant>            | zset   | the tenant's uploaded files, score = upload time (ms)                    |
 * | T:fbatch:<batchId>           | hash   | a Batch API batch (facade): status, times, counts, enqueue cursor         |
 * |                              |        | (next_chunk), end pass (ending, end_cursor); its lines are the requests   |
 * |                              |        | `breq_<batch id stem><line index, base 36>` (no list of ids is stored)    |
 * | T:fbatches:<tenant>          | zset   | the tenant's batches, score = creation time (ms) (list, newest first)    |
 * | T:fbatches-live              | zset   | batches not yet terminal, score = when the driver should look next (ms)  |
 * | T:fbatch:<batchId>:lease     | string | the driver holding a batch (token), PX: one process drives it at a time   |
 * | T:attempts:<requestId>       | list   | the outcome's delivery log: newest attempt first, JSON each, trimmed to  |
 * |                              |        | WEBHOOK_LOG_ATTEMPTS, PEXPIRE = the record's remaining TTL (SPEC §16)    |
 * | T:finished                   | zset   | finished requests, score = finish time, pruned past RESULT_RETENTION     |
 * |                              |        | (time-range replay, SPEC §16)                                            |
 * | T:deadlines                  | zset   | queued requests with a deadline, score = deadline (ms): the scheduler's   |
 * |                              |        | pass reads the ones due soon (SPEC §10); out when claimed by a lane or    |
 * |                              |        | seen not queued, back when a batch sends the request back to the queue   |
 * | T:live-deadlines             | zset   | requests with a deadline seen in a flush or live batch (ESCALATE_CANCEL_ |
 * |                              |        | BATCHES only), score = deadline (ms): the escalation pass's at-risk count |
 * |                              |        | ; out when the request finishes, goes back to the queue or to a lane     |
 * |                              |        | (settle scripts), or is seen elsewhere by the pass                      |
 * | T:lane-runs                  | zset   | requests a fast lane claimed and has not settled, score = claim time (ms) |
 * |                              |        | (the lane sweep gives a run whose job is gone its job again)             |
 * | T:deadline-stats             | hash   | deadlines met and missed: `<lane>|met|missed|<group>` → count (metrics)   |
 * | T:escalation-stats           | hash   | escalation cancels `cancels|<prov>|<result>` and the requests they       |
 * |                              |        | marked `requests|<prov>|<lane>` → count (operator page, SPEC §10)         |
 * | T:ledger:<tenant>            | zset   | the tenant's ledger periods in this partition: member `YYYY-MM-DD` (a    |
 * |                              |        | day) or `YYYY-MM` (days rolled up past LEDGER_DAYS), score = epoch day   |
 * | T:ledger:<tenant>:<period>   | hash   | one period's money per `<provider>|<model>|<lane>`: fields `n|…` (billed |
 * |                              |        | requests), `up|…` (unpriced ones), `usd|…`, `rt|…` (nano-USD, realtime)  |
 * | T:spend:<tenant>             | hash   | the tenant's spend in this partition: `d:<day>`, `m:<month>` (nano-USD), |
 * |                              |        | `c:<month>` (priced requests); budgets, summed over partitions at intake |
 * | T:agg:<tenant>:<urlHash>     | zset   | aggregated deliveries (SPEC §16): outcome ids waiting for the next signed |
 * |                              |        | POST to one callback URL (hash = its SHA-256, 16 hex), score = added (ms) |
 * | T:agg:<tenant>:<urlHash>:in  | set    | ids in that buffer or in its envelope being sent (no id twice)            |
 * | T:agg:<tenant>:<urlHash>:cur | hash   | the envelope being sent: id, at (ms), members (ids, space-separated); the |
 * |                              |        | same id, time and members on every retry, so the same bytes               |
 * | T:agg:<tenant>:<urlHash>:job | string | set while an aggregate job is scheduled or running for the buffer, PX     |
 * | T:<queue>:…                  | BullMQ | the flush, poll and deliver queues of the partition (queues package)    |
 *
 * Global keys (not per partition), with G = `{<prefix>:g}`:
 *
 * | G:rate:<tenant>:<unixSecond> | string | tenant's accepted requests in that second (rate limit), PX 2 s         |
 * | G:creates:[<id>:]<unixMinute> | string | batches created at a provider in that minute, all packers (profile limit), PX 2 m |
 * | G:admin:session:<sha256>     | string | an operator-page session (digest of its cookie), PX 12 h                 |
 * | G:admin:fail:<ip>            | string | failed admin logins from an address, PX 15 min (10 → 429)                |
 * | G:join:<tenant>:<bodyHash>   | string | the request id a waiting request without Idempotency-Key created, so an   |
 * |                              |        | SDK's own retry of the same body joins it (X-Stainless-Retry-Count), PX  |
 * | G:partitions                 | string | REDIS_PARTITIONS this prefix was first started with (checked at start)   |
 * | G:provider:<id>              | hash   | a provider's circuit (SPEC §11 failover): state closed|open, failures,  |
 * |                              |        | until (ms), opened (count), last_failure, last_failure_at, probe_at      |
 * | G:savings                    | hash   | estimated savings per model: `usd_micro:<model>`, `in:<model>`, `out:<model>` |
 * |                              |        | (micro-dollars and tokens of completed results; operator page)         |
 * | G:whsec:<tenant>             | zset   | the tenant's rotated signing secrets, score = valid until (ms; `inf` for |
 * |                              |        | the current one); read by every dispatcher (SPEC §16)                   |
 * | G:endpoint:<tenant>:<host>   | hash   | health of one callback host of a tenant: fails, failing_since,          |
 * |                              |        | open_until, disabled_at, last_error (circuit, SPEC §16)                 |
 * | G:endpoints                  | zset   | `<tenant> <host>` of endpoints failing or disabled, score = failing     |
 * |                              |        | since (operator page, re-enable)                                        |
 * | G:replay:<replayId>          | hash   | a replay job: tenant, since, until, status, state, scanned, queued, ... |
 * |                              |        | PX 24 h                                                                 |
 * | G:replaygate:<tenant>        | string | a replay was started recently (one per tenant per minute), PX            |
 * | G:turnaround:<prov>:<model>  | list   | the last 50 observed batch turnarounds (ms, submit → routed), newest     |
 * |                              |        | first: the scheduler's p90 (SPEC §10)                                    |
 * | G:canceldelay:<prov>         | list   | the last 20 observed escalation cancels (ms, marked → routed as          |
 * |                              |        | cancelled), newest first: the escalation pass's p90 (SPEC §10)           |
 * | G:lanebudget:<prov>:<minute> | hash   | realtime/flex calls started in that minute: `req`, `tok` (all replicas),  |
 * |                              |        | PX 2 min                                                                 |
 * | G:laneinflight:<prov>        | zset   | realtime/flex calls in flight (run id), score = lease end (ms)           |
 * | G:lanebackoff:<prov>:<lane>  | string | set while the provider asked us to wait (429 Retry-After), PX            |
 * | G:pevent:<provider>:<eventId> | string | a provider batch event (SPEC §13) was handled: its batch's poll was      |
 * |                              |        | triggered; written after the trigger (SET NX PX 3 days), so a crash     |
 * |                              |        | between the two lets the provider's retry trigger again                  |
 * | G:budget:<tenant>:<period>:<pct> | string | the budget event of that period (`YYYY-MM`, `YYYY-MM-DD`) and threshold |
 * |                              |        | (80, 100) was queued, PX 40 days (SPEC §15)                             |
 */

export type PartitionId = number;

export class KeySpace {
  readonly prefix: string;
  readonly partitions: number;

  constructor(prefix: string, partitions: number) {
    this.prefix = prefix;
    this.partitions = partitions;
  }

  /** The hash tag of a partition; also the BullMQ prefix of its queues. */
  tag(p: PartitionId): string {
    return `{${this.prefix}:p${p}}`;
  }

  partitionKeys(p: PartitionId): PartitionKeys {
    return new PartitionKeys(this.tag(p));
  }

  globalTag(): string {
    return `{${this.prefix}:g}`;
  }

  rate(tenant: string, unixSecond: number): string {
    return `${this.globalTag()}:rate:${tenant}:${unixSecond}`;
  }

  /** Provider `batches.create` calls in one minute, counted across packer replicas (`batchCreatesPerMinute`). */
  batchCreates(unixMinute: number, providerId = 'default'): string {
    // The one provider of UPSTREAM_* keeps the key it always had.
    const who = providerId === 'default' ? '' : `${providerId}:`;
    return `${this.globalTag()}:creates:${who}${unixMinute}`;
  }

  /** An operator-page session (the SHA-256 of its cookie value), PX = session lifetime. */
  adminSession(digest: string): string {
    return `${this.globalTag()}:admin:session:${digest}`;
  }

  /** Failed operator-page logins (or wrong bearer keys) from one client address, PX = the counting window. */
  adminLoginFailures(ip: string): string {
    return `${this.globalTag()}:admin:fail:${ip}`;
  }

  /** A waiting request's id by tenant and body digest, for an SDK retry without Idempotency-Key to join (SPEC §8). */
  retryJoin(tenant: string, bodyHash: string): string {
    return `${this.globalTag()}:join:${tenant}:${bodyHash}`;
  }

  /** The REDIS_PARTITIONS this prefix was first started with: Idempotency-Keys and request ids depend on it. */
  partitionCount(): string {
    return `${this.globalTag()}:partitions`;
  }

  /** A provider's health: its circuit over uploads, creates, polls and downloads, shared by every replica. */
  providerHealth(providerId: string): string {
    return `${this.globalTag()}:provider:${providerId}`;
  }

  /** Estimated savings of completed results per model, across all pollers (price table; operator page). */
  savings(): string {
    return `${this.globalTag()}:savings`;
  }

  /** A tenant's rotated webhook secrets, score = valid until in ms (`inf`: the current one). */
  webhookSecrets(tenant: string): string {
    return `${this.globalTag()}:whsec:${tenant}`;
  }

  /** Health (circuit) of one callback host of a tenant. */
  endpoint(tenant: string, host: string): string {
    return `${this.globalTag()}:endpoint:${tenant}:${host}`;
  }

  /** Endpoints failing or disabled, member `<tenant> <host>`, score = failing since (ms). */
  unhealthyEndpoints(): string {
    return `${this.globalTag()}:endpoints`;
  }

  /** A replay job's state and progress. */
  replay(replayId: string): string {
    return `${this.globalTag()}:replay:${replayId}`;
  }

  /** Set while a tenant may not start another replay (rate limit), PX. */
  replayGate(tenant: string): string {
    return `${this.globalTag()}:replaygate:${tenant}`;
  }

  /** Recent batch turnarounds of a provider and model (ms), newest first (SPEC §10). */
  turnaround(providerId: string, model: string): string {
    return `${this.globalTag()}:turnaround:${providerId}:${model}`;
  }

  /** Recent escalation cancels of a provider (ms from the mark to the cancelled batch routed), newest first. */
  cancelDelay(providerId: string): string {
    return `${this.globalTag()}:canceldelay:${providerId}`;
  }

  /** Realtime/flex calls started at a provider in one minute (`req`, `tok`), counted across replicas. */
  laneBudget(providerId: string, unixMinute: number): string {
    return `${this.globalTag()}:lanebudget:${providerId}:${unixMinute}`;
  }

  /** Realtime/flex calls in flight at a provider, score = lease end (ms). */
  laneInflight(providerId: string): string {
    return `${this.globalTag()}:laneinflight:${providerId}`;
  }

  /** Set while a provider's lane asked us to wait (429 with Retry-After), PX. */
  laneBackoff(providerId: string, lane: string): string {
    return `${this.globalTag()}:lanebackoff:${providerId}:${lane}`;
  }

  /** A provider's batch event already handled (dedupe on its id, SPEC §13), PX. */
  providerEvent(providerId: string, eventId: string): string {
    return `${this.globalTag()}:pevent:${providerId}:${eventId}`;
  }

  /** Set once a tenant's budget event of a period and threshold is queued (one event each). */
  budgetAlert(tenant: string, period: string, percent: number): string {
    return `${this.globalTag()}:budget:${tenant}:${period}:${percent}`;
  }

  allPartitions(): PartitionId[] {
    return Array.from({ length: this.partitions }, (_, i) => i);
  }
}

/**
 * The key names of a partition, as suffixes of its tag with `<name>` placeholders: the one spelling of every partition
 * key, for TypeScript (PartitionKeys below) and for Lua (a `key_<name>(tag, ...)` function each in the scripts'
 * generated prelude, lua.ts).
 */
export const PARTITION_KEYS = {
  req: 'req:<id>',
  pending: 'pending:<group>',
  group: 'group:<group>',
  groups: 'groups',
  hold: 'hold:<group>',
  flushes: 'flushes',
  flush: 'flush:<flushId>',
  flushIds: 'flush:<flushId>:ids',
  batches: 'batches',
  batch: 'batch:<batchId>',
  recentBatches: 'recent',
  idem: 'idem:<tenant>:<key>',
  open: 'open',
  openTenant: 'open:<tenant>',
  counts: 'counts',
  outbox: 'outbox',
  dlvDue: 'dlv:due',
  dlvLease: 'dlv:lease',
  dlvTries: 'dlv:tries',
  dead: 'dead',
  undelivered: 'undelivered',
  outcomes: 'outcomes',
  redeliverGate: 'redeliver:<requestId>',
  facadeFile: 'ffile:<fileId>',
  facadeFileChunk: 'ffile:<fileId>:c:<n>',
  facadeFiles: 'ffiles:<tenant>',
  facadeBatch: 'fbatch:<batchId>',
  facadeBatches: 'fbatches:<tenant>',
  facadeLive: 'fbatches-live',
  facadeLease: 'fbatch:<batchId>:lease',
  attempts: 'attempts:<requestId>',
  finished: 'finished',
  deadlines: 'deadlines',
  deadlineStats: 'deadline-stats',
  escalationStats: 'escalation-stats',
  liveDeadlines: 'live-deadlines',
  laneRuns: 'lane-runs',
  ledger: 'ledger:<tenant>',
  ledgerPeriod: 'ledger:<tenant>:<period>',
  spend: 'spend:<tenant>',
  aggBuffer: 'agg:<tenant>:<urlHash>',
  aggMembers: 'agg:<tenant>:<urlHash>:in',
  aggEnvelope: 'agg:<tenant>:<urlHash>:cur',
  aggScheduled: 'agg:<tenant>:<urlHash>:job',
} as const;

export type PartitionKeyName = keyof typeof PARTITION_KEYS;

/** A key template split at its placeholders: literal parts and the parameter names between them. */
export interface KeyTemplate {
  literals: string[];
  params: string[];
}

export function parseKeyTemplate(template: string): KeyTemplate {
  const literals: string[] = [];
  const params: string[] = [];
  const re = /<(\w+)>/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    literals.push(template.slice(last, m.index));
    params.push(m[1] as string);
    last = m.index + m[0].length;
  }
  literals.push(template.slice(last));
  return { literals, params };
}

/** Builds `<tag>:<suffix>` from a template, its placeholders filled in order. */
function keyBuilder(template: string): (tag: string, ...args: string[]) => string {
  const { literals } = parseKeyTemplate(template);
  const head = `:${literals[0]}`;
  if (literals.length === 1) return (tag) => tag + head;
  if (literals.length === 2) {
    const tail = literals[1] as string;
    return (tag, a) => `${tag}${head}${a}${tail}`;
  }
  return (tag, ...args) => {
    let out = tag + head;
    for (let i = 0; i < args.length; i++) out += (args[i] as string) + literals[i + 1];
    return out;
  };
}

const KEY = Object.fromEntries(
  Object.entries(PARTITION_KEYS).map(([name, template]) => [name, keyBuilder(template)]),
) as Record<PartitionKeyName, (tag: string, ...args: string[]) => string>;

export class PartitionKeys {
  readonly tag: string;
  constructor(tag: string) {
    this.tag = tag;
  }
  req(id: string): string {
    return KEY.req(this.tag, id);
  }
  pending(group: string): string {
    return KEY.pending(this.tag, group);
  }
  group(group: string): string {
    return KEY.group(this.tag, group);
  }
  get groups(): string {
    return KEY.groups(this.tag);
  }
  hold(group: string): string {
    return KEY.hold(this.tag, group);
  }
  get flushes(): string {
    return KEY.flushes(this.tag);
  }
  flush(flushId: string): string {
    return KEY.flush(this.tag, flushId);
  }
  flushIds(flushId: string): string {
    return KEY.flushIds(this.tag, flushId);
  }
  get batches(): string {
    return KEY.batches(this.tag);
  }
  batch(batchId: string): string {
    return KEY.batch(this.tag, batchId);
  }
  /** Routed batches, newest first by routing time, trimmed to the last few hundred (operator page). */
  get recentBatches(): string {
    return KEY.recentBatches(this.tag);
  }
  idem(tenant: string, key: string): string {
    return KEY.idem(this.tag, tenant, key);
  }
  get open(): string {
    return KEY.open(this.tag);
  }
  openTenant(tenant: string): string {
    return KEY.openTenant(this.tag, tenant);
  }
  get counts(): string {
    return KEY.counts(this.tag);
  }
  get outbox(): string {
    return KEY.outbox(this.tag);
  }
  get dead(): string {
    return KEY.dead(this.tag);
  }
  /** Outcome deliveries due, score = next attempt time (ms): claimed in bulk by the dispatchers (dlv-claim-1.lua). */
  get dlvDue(): string {
    return KEY.dlvDue(this.tag);
  }
  /** Claimed deliveries, score = lease end (ms); an expired lease goes back to due at the next claim. */
  get dlvLease(): string {
    return KEY.dlvLease(this.tag);
  }
  /** Attempts made per delivery member. */
  get dlvTries(): string {
    return KEY.dlvTries(this.tag);
  }
  /** Finished requests whose outcome is not yet delivered, gone or dead-lettered, score = finish time (issue 14.6). */
  get undelivered(): string {
    return KEY.undelivered(this.tag);
  }
  /** Pub/sub channel (no key is stored): ids of requests of the partition that just finished (transparent mode). */
  get outcomes(): string {
    return KEY.outcomes(this.tag);
  }
  /** Set (PX) while a redeliver of this request was asked for recently: one per request per few seconds. */
  redeliverGate(requestId: string): string {
    return KEY.redeliverGate(this.tag, requestId);
  }
  /** An uploaded Batch API input file (SPEC §12). */
  facadeFile(fileId: string): string {
    return KEY.facadeFile(this.tag, fileId);
  }
  /** Chunk `n` of an uploaded file's checked lines. */
  facadeFileChunk(fileId: string, n: number): string {
    return KEY.facadeFileChunk(this.tag, fileId, String(n));
  }
  facadeFiles(tenant: string): string {
    return KEY.facadeFiles(this.tag, tenant);
  }
  facadeBatch(batchId: string): string {
    return KEY.facadeBatch(this.tag, batchId);
  }
  facadeBatches(tenant: string): string {
    return KEY.facadeBatches(this.tag, tenant);
  }
  get facadeLive(): string {
    return KEY.facadeLive(this.tag);
  }
  facadeLease(batchId: string): string {
    return KEY.facadeLease(this.tag, batchId);
  }
  /** The delivery log of a request's outcome, newest attempt first (bounded, expires with the record). */
  attempts(requestId: string): string {
    return KEY.attempts(this.tag, requestId);
  }
  /** Finished requests by finish time (time-range replay). */
  get finished(): string {
    return KEY.finished(this.tag);
  }
  /** Queued requests with a deadline, score = deadline (ms). */
  get deadlines(): string {
    return KEY.deadlines(this.tag);
  }
  /** Deadlines met and missed, `<lane>|met|<group>` / `<lane>|missed|<group>` → count. */
  get deadlineStats(): string {
    return KEY.deadlineStats(this.tag);
  }
  /**
   * What the escalation pass did (ESCALATE_CANCEL_BATCHES): `cancels|<provider>|<requested|refused|error>` and
   * `requests|<provider>|<lane>` → count, all replicas (operator page).
   */
  get escalationStats(): string {
    return KEY.escalationStats(this.tag);
  }
  /** Requests with a deadline seen in a flush or a live batch, score = deadline (ms): the escalation pass's list. */
  get liveDeadlines(): string {
    return KEY.liveDeadlines(this.tag);
  }
  /** Requests on a fast lane (claimed, not yet settled), score = claim time (ms): the lane sweep's list. */
  get laneRuns(): string {
    return KEY.laneRuns(this.tag);
  }
  /** The tenant's ledger periods in this partition (SPEC §15), score = epoch day of the period's start. */
  ledger(tenant: string): string {
    return KEY.ledger(this.tag, tenant);
  }
  /** One ledger period (`YYYY-MM-DD` or, rolled up, `YYYY-MM`) of a tenant in this partition. */
  ledgerPeriod(tenant: string, period: string): string {
    return KEY.ledgerPeriod(this.tag, tenant, period);
  }
  /** The tenant's spend per day and month in this partition (nano-USD), for budgets. */
  spend(tenant: string): string {
    return KEY.spend(this.tag, tenant);
  }
  /** Outcome ids waiting for the next aggregated delivery to one callback URL of a tenant. */
  aggBuffer(tenant: string, urlHash: string): string {
    return KEY.aggBuffer(this.tag, tenant, urlHash);
  }
  aggMembers(tenant: string, urlHash: string): string {
    return KEY.aggMembers(this.tag, tenant, urlHash);
  }
  aggEnvelope(tenant: string, urlHash: string): string {
    return KEY.aggEnvelope(this.tag, tenant, urlHash);
  }
  aggScheduled(tenant: string, urlHash: string): string {
    return KEY.aggScheduled(this.tag, tenant, urlHash);
  }
}
