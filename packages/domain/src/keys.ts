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
 * |                              |        | and on routing n_completed, n_failed, n_retried (outcome counts)         |
 * | T:recent                     | zset   | routed batches, newest 200, score = routing time (operator page)         |
 * | T:idem:<tenant>:<key>        | string | `<requestId> <bodyHash>` for Idempotency-Key, PX = idempotency TTL       |
 * | T:open                       | string | non-terminal requests in the partition (global capacity)                 |
 * | T:open:<tenant>              | string | non-terminal requests of a tenant in the partition (max_queued)          |
 * | T:counts                     | hash   | requests per non-terminal state (queued, batched, submitted)             |
 * | T:outbox                     | zset   | jobs to hand to BullMQ (transactional outbox), score = time written      |
 * | T:dead                       | zset   | dead-lettered outcomes (request ids), score = time                       |
 * | T:undelivered                | zset   | finished requests whose outcome is not delivered, gone or dead-lettered  |
 * |                              |        | yet, score = finish time (the dispatcher's undelivered sweep)            |
 * | T:redeliver:<requestId>      | string | a redeliver was asked for in the last REDELIVER_GAP_MS (rate gate), PX   |
 * | T:outcomes                   | pubsub | channel (not a key): the id of each request that just finished, for the  |
 * |                              |        | ingest processes holding connections that wait for it (SPEC §8)         |
 * | T:<queue>:…                  | BullMQ | the flush, poll and deliver queues of the partition (queues package)    |
 *
 * Global keys (not per partition), with G = `{<prefix>:g}`:
 *
 * | G:rate:<tenant>:<unixSecond> | string | tenant's accepted requests in that second (rate limit), PX 2 s         |
 * | G:creates:<unixMinute>       | string | provider batches created in that minute, all packers (profile limit), PX 2 m |
 * | G:admin:session:<sha256>     | string | an operator-page session (digest of its cookie), PX 12 h                 |
 * | G:admin:fail:<ip>            | string | failed admin logins from an address, PX 15 min (10 → 429)                |
 * | G:join:<tenant>:<bodyHash>   | string | the request id a waiting request without Idempotency-Key created, so an   |
 * |                              |        | SDK's own retry of the same body joins it (X-Stainless-Retry-Count), PX  |
 * | G:partitions                 | string | REDIS_PARTITIONS this prefix was first started with (checked at start)   |
 * | G:savings                    | hash   | estimated savings per model: `usd_micro:<model>`, `in:<model>`, `out:<model>` |
 * |                              |        | (micro-dollars and tokens of completed results; operator page)         |
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
  batchCreates(unixMinute: number): string {
    return `${this.globalTag()}:creates:${unixMinute}`;
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

  /** Estimated savings of completed results per model, across all pollers (price table; operator page). */
  savings(): string {
    return `${this.globalTag()}:savings`;
  }

  allPartitions(): PartitionId[] {
    return Array.from({ length: this.partitions }, (_, i) => i);
  }
}

export class PartitionKeys {
  readonly tag: string;
  constructor(tag: string) {
    this.tag = tag;
  }
  /** Key-name prefix for the record of a request; scripts append the id (`T:req:` .. id). */
  get reqPrefix(): string {
    return `${this.tag}:req:`;
  }
  req(id: string): string {
    return `${this.tag}:req:${id}`;
  }
  get pendingPrefix(): string {
    return `${this.tag}:pending:`;
  }
  pending(group: string): string {
    return `${this.tag}:pending:${group}`;
  }
  get groupPrefix(): string {
    return `${this.tag}:group:`;
  }
  group(group: string): string {
    return `${this.tag}:group:${group}`;
  }
  get groups(): string {
    return `${this.tag}:groups`;
  }
  hold(group: string): string {
    return `${this.tag}:hold:${group}`;
  }
  get flushes(): string {
    return `${this.tag}:flushes`;
  }
  flush(flushId: string): string {
    return `${this.tag}:flush:${flushId}`;
  }
  flushIds(flushId: string): string {
    return `${this.tag}:flush:${flushId}:ids`;
  }
  get batches(): string {
    return `${this.tag}:batches`;
  }
  batch(batchId: string): string {
    return `${this.tag}:batch:${batchId}`;
  }
  /** Routed batches, newest first by routing time, trimmed to the last few hundred (operator page). */
  get recentBatches(): string {
    return `${this.tag}:recent`;
  }
  idem(tenant: string, key: string): string {
    return `${this.tag}:idem:${tenant}:${key}`;
  }
  get open(): string {
    return `${this.tag}:open`;
  }
  get openTenantPrefix(): string {
    return `${this.tag}:open:`;
  }
  openTenant(tenant: string): string {
    return `${this.tag}:open:${tenant}`;
  }
  get counts(): string {
    return `${this.tag}:counts`;
  }
  get outbox(): string {
    return `${this.tag}:outbox`;
  }
  get dead(): string {
    return `${this.tag}:dead`;
  }
  /** Finished requests whose outcome is not yet delivered, gone or dead-lettered, score = finish time (issue 14.6). */
  get undelivered(): string {
    return `${this.tag}:undelivered`;
  }
  /** Pub/sub channel (no key is stored): ids of requests of the partition that just finished (transparent mode). */
  get outcomes(): string {
    return `${this.tag}:outcomes`;
  }
  /** Set (PX) while a redeliver of this request was asked for recently: one per request per few seconds. */
  redeliverGate(requestId: string): string {
    return `${this.tag}:redeliver:${requestId}`;
  }
}
