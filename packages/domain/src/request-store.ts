/**
 * The request aggregate: creating, reading, cancelling and settling requests, and recording their delivery. Every
 * status change goes through a script of `scripts/` (enqueue-many, cancel, settle-many; the packer's moves are the
 * flush store's), so the request lifecycle of lifecycle.ts holds in Redis itself.
 */
import { partitionOfRequestId, webhookIdFor } from './ids.js';
import type { PartitionId } from './keys.js';
import type { OPEN_STATUSES, RequestStatus } from './lifecycle.js';
import { parseRecord, type RequestObject, type RequestRecord, toRequestObject } from './request-record.js';
import { evalSpread, type SpreadArg, type SpreadValue } from './spread-eval.js';
import type { StoreContext } from './store-context.js';
import { type WebhookBodyChoice, webhookBodyFor } from './webhook-body.js';

export interface NewRequest {
  id: string;
  partition: PartitionId;
  tenant: string;
  model: string;
  group: string;
  body: string;
  bytes: number;
  tokens: number;
  /** Inputs it holds (countInputs), for per-batch input limits. @defaultValue `1` */
  inputs?: number | undefined;
  clientRef?: string | undefined;
  callbackUrl?: string | undefined;
  idempotencyKey?: string | undefined;
  bodyHash?: string | undefined;
  /** Its deadline (ms since the epoch, SPEC §10): the record keeps it and the deadline index holds the request. */
  deadlineAt?: number | undefined;
  /** The JSON schema's text that every answer must follow (structured outputs, SPEC §14). */
  schema?: string | undefined;
}

/**
 * What the answer to a waiting client needs of a request (`RequestStore.outcomes`): its status and the stored answer
 * and error as the JSON text they are stored as — parsed only by a caller that needs the values.
 */
export interface RequestOutcome {
  id: string;
  status: RequestStatus;
  /** The `response` field: `{"status_code":…,"body":…}` as JSON text; undefined when there is none. */
  response: string | undefined;
  /** The `error` field: `{"code":…,"message":…}` as JSON text; undefined when there is none. */
  error: string | undefined;
}

export type EnqueueResult =
  | { kind: 'created'; id: string }
  | { kind: 'replayed'; id: string; sameBody: boolean }
  | { kind: 'quota_tenant' }
  | { kind: 'quota_global' };

/** One entry of an outcome's delivery log (SPEC §16), as `GET /v1/requests/{id}/deliveries` shows it. */
export interface DeliveryAttempt {
  attempt: number;
  /** RFC 3339 time the attempt started. */
  at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  /** RFC 3339 time of the next attempt, null when none is due (delivered, stopped, dead-lettered). */
  next_attempt_at: string | null;
}

export type DeliveryAttemptInput = Omit<DeliveryAttempt, 'attempt'>;

/** `invalid`: an answer that breaks its request's JSON schema (SPEC §14): retried, then `schema_validation_failed`. */
export type SettleKind = 'completed' | 'rejected' | 'retry' | 'requeue' | 'invalid' | 'escalate';

/**
 * What a completed answer costs, priced by the poller for the settle script to bill (includes/bill.lua): the
 * script picks the request's lane, so every lane the price table knows is priced (nano-USD).
 */
export interface BillItem {
  provider: string;
  model: string;
  usage: { input_tokens: number; cached_tokens: number; cache_write_tokens: number; output_tokens: number };
  /** nano-USD per lane priced; a lane missing is unpriced. */
  lanes: Partial<Record<'batch' | 'flex' | 'realtime' | `batch@${string}`, number>>;
  /** nano-USD at realtime prices; absent when the model is unpriced. */
  rt?: number;
}

/** A billed request as the settle script answers it. */
export interface Billed {
  tenant: string;
  lane: string;
  usdNano: number;
  realtimeNano: number;
  priced: boolean;
}

/** The ledger day of a moment (UTC): `YYYY-MM-DD`, `YYYY-MM` and the epoch day. */
export function ledgerDay(ms: number): { day: string; month: string; epochDay: number } {
  const day = new Date(ms).toISOString().slice(0, 10);
  return { day, month: day.slice(0, 7), epochDay: Math.floor(ms / 86_400_000) };
}
export type SettleOutcome = 'completed' | 'failed' | 'retried' | 'stale' | 'unknown';

/** Results settled per settle-many call: the poller's whole chunk (POLLER settleChunk, 500) in one script call,
 * which also makes the chunk's deliveries due (issue 26); a call of 500 lines holds Redis for a few milliseconds. */
const SETTLE_SLICE = 500;

/** Separators of the compact item options (settle-many.lua): control characters, escaped in any JSON text. */
const SEP = '\x01';
const PAIR = '\x02';
const plainText = (v: string) => !v.includes(SEP) && !v.includes(PAIR);
const plainNumber = (v: number | undefined) => v === undefined || Number.isFinite(v);

/**
 * The options of a `completed` item without message, group or lane — nearly every routed line — in the positional
 * form settle-many reads without a JSON decode per line (issue 26: Redis CPU per line):
 * `SEP truncated` without billing, else `SEP truncated SEP provider SEP model SEP rt SEP usage` followed by
 * `SEP lane PAIR nano` per lane priced (`rt` empty when unpriced). Numbers as JSON writes them, so Lua reads the same
 * values. Undefined for anything else (the JSON form).
 */
function compactOptions(item: {
  kind: SettleKind;
  message?: string | undefined;
  group?: string | undefined;
  lane?: string | undefined;
  truncated?: boolean | undefined;
  bill?: BillItem | undefined;
}): string | undefined {
  if (item.kind !== 'completed' || item.message || item.group || item.lane) return undefined;
  const head = SEP + (item.truncated ? '1' : '0');
  const b = item.bill;
  if (!b) return head;
  if (!plainText(b.provider) || !plainText(b.model) || !plainNumber(b.rt)) return undefined;
  let text = `${head}${SEP}${b.provider}${SEP}${b.model}${SEP}${b.rt === undefined ? '' : String(b.rt)}${SEP}${JSON.stringify(b.usage)}`;
  for (const [lane, nano] of Object.entries(b.lanes)) {
    if (nano === undefined) continue;
    if (!plainText(lane) || !plainNumber(nano)) return undefined;
    text += `${SEP}${lane}${PAIR}${String(nano)}`;
  }
  return text;
}

/** One settle-many item's options argument, as `settle` sends it (also built by bench S12): compact or JSON. */
export function settleItemOptions(item: Parameters<typeof compactOptions>[0]): string {
  return (
    compactOptions(item) ??
    JSON.stringify({
      kind: item.kind,
      message: item.message ?? '',
      group: item.group ?? '',
      ...(item.truncated ? { truncated: true } : {}),
      ...(item.lane ? { lane: item.lane } : {}),
      // `usage` as JSON text: stored as it is (bill.lua), not decoded and encoded again per line.
      bill: item.bill && { ...item.bill, usage: JSON.stringify(item.bill.usage) },
    })
  );
}

/**
 * The stored response of each item that brings its body as bytes (`responseBody`, with an integer
 * `response.status_code`): `{"status_code":<code>,"body":<bytes>}`, as pieces that go to the socket as they are
 * (spread-eval.ts: the bytes are views of the downloaded file, never copied in this process).
 */
function wrapBody(item: { response?: unknown; responseBody?: Buffer }): SpreadArg | undefined {
  if (item.responseBody === undefined) return undefined;
  const code = (item.response as { status_code?: unknown } | undefined)?.status_code;
  if (typeof code !== 'number' || !Number.isInteger(code)) return undefined;
  return { parts: [`{"status_code":${code},"body":`, item.responseBody, '}'] };
}

/** Requests created per enqueue-many call at most, and the body bytes after which a call is sent at once. */
const ENQUEUE_SLICE = 128;
const ENQUEUE_SLICE_BYTES = 2 * 1024 * 1024;

/** Requests of one partition waiting for the next enqueue-many call. */
interface EnqueueBatch {
  keys: string[];
  ids: string[];
  args: string[];
  waiters: Array<{ resolve: (r: EnqueueResult) => void; reject: (err: unknown) => void }>;
  bytes: number;
}

export class RequestStore {
  private readonly ctx: StoreContext;
  /** Requests waiting for this turn's enqueue-many call, per partition. */
  private readonly enqueueBatches = new Map<PartitionId, EnqueueBatch>();
  private enqueueScheduled = false;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /** The partition a request id belongs to, if the id is well-formed and the partition exists here. */
  partitionOf(id: string): PartitionId | undefined {
    const p = partitionOfRequestId(id);
    return p !== undefined && p < this.ctx.keys.partitions ? p : undefined;
  }

  /**
   * Creates a request (record + pending entry + counters + Idempotency-Key, atomically), or answers why not. Requests
   * enqueued in the same turn of the event loop are written by one enqueue-many call per partition — one script call
   * and one reply instead of one per request, which is most of intake's Redis cost — and each promise settles only
   * once that call has answered, so a caller that answers 202 after it still answers only for a durable request.
   * `created_at` is the moment of this call (read synchronously, before any await).
   */
  enqueue(
    req: NewRequest,
    limits: {
      tenantMax?: number | undefined;
      tenantOpenElsewhere?: number;
      globalMax?: number;
      globalOpenElsewhere?: number;
    },
  ): Promise<EnqueueResult> {
    const now = Date.now();
    const k = this.ctx.keys.partitionKeys(req.partition);
    return new Promise<EnqueueResult>((resolve, reject) => {
      let batch = this.enqueueBatches.get(req.partition);
      if (!batch) {
        const call = JSON.stringify({ tag: k.tag, idemTtl: this.ctx.options.idempotencyTtlMs });
        batch = { keys: [], ids: [], args: [call], waiters: [], bytes: 0 };
        this.enqueueBatches.set(req.partition, batch);
      }
      const n =
        4 +
        (req.clientRef ? 2 : 0) +
        (req.callbackUrl ? 2 : 0) +
        (req.idempotencyKey ? 2 : 0) +
        (req.schema ? 2 : 0) +
        (req.deadlineAt ? 4 : 0);
      batch.keys.push(k.req(req.id));
      batch.ids.push(req.id);
      // The request's options (see enqueue-many.lua), then its record's field/value strings.
      batch.args.push(
        JSON.stringify({
          id: req.id,
          tenant: req.tenant,
          group: req.group,
          now,
          idemKey: req.idempotencyKey ?? '',
          bodyHash: req.bodyHash ?? '',
          tenantLimit: limits.tenantMax ?? 0,
          tenantElsewhere: limits.tenantOpenElsewhere ?? 0,
          globalLimit: limits.globalMax ?? 0,
          globalElsewhere: limits.globalOpenElsewhere ?? 0,
          bytes: req.bytes,
          tokens: req.tokens,
          inputs: req.inputs ?? 1,
          deadlineAt: req.deadlineAt ?? 0,
          n,
        }),
        'model',
        req.model,
        'body',
        req.body,
      );
      if (req.clientRef) batch.args.push('client_ref', req.clientRef);
      if (req.callbackUrl) batch.args.push('callback_url', req.callbackUrl);
      if (req.idempotencyKey) batch.args.push('idem_key', req.idempotencyKey);
      if (req.schema) batch.args.push('schema', req.schema);
      if (req.deadlineAt) batch.args.push('deadline_at', String(req.deadlineAt), 'lane', 'batch');
      batch.waiters.push({ resolve, reject });
      batch.bytes += req.body.length;
      if (batch.keys.length >= ENQUEUE_SLICE || batch.bytes >= ENQUEUE_SLICE_BYTES) {
        this.enqueueBatches.delete(req.partition);
        this.sendEnqueues(batch);
      } else if (!this.enqueueScheduled) {
        this.enqueueScheduled = true;
        // setImmediate runs after the poll phase: every request whose body arrived in this turn is in the call.
        setImmediate(() => {
          this.enqueueScheduled = false;
          const batches = [...this.enqueueBatches.values()];
          this.enqueueBatches.clear();
          for (const b of batches) this.sendEnqueues(b);
        });
      }
    });
  }

  private sendEnqueues(batch: EnqueueBatch): void {
    const { keys, ids, args, waiters } = batch;
    // The 202 waits for confirmWrites too (REDIS_DURABILITY=replica: one WAIT for the whole call).
    const written = this.ctx.redis.bbEnqueueMany(keys.length, ...keys, ...args);
    const confirmed = this.ctx.confirming
      ? written.then(async (reply) => {
          await this.ctx.confirm();
          return reply;
        })
      : written;
    confirmed.then(
      (reply) => {
        for (let i = 0; i < waiters.length; i++) {
          const answer = reply[i];
          const waiter = waiters[i] as EnqueueBatch['waiters'][number];
          if (answer === 1) waiter.resolve({ kind: 'created', id: ids[i] as string });
          else if (answer === 'quota_tenant' || answer === 'quota_global') waiter.resolve({ kind: answer });
          else if (typeof answer === 'string' && answer.startsWith('replayed ')) {
            waiter.resolve({ kind: 'replayed', id: answer.slice(11), sameBody: answer[9] === '1' });
          } else waiter.reject(new Error(`unexpected enqueue reply ${String(answer)}`));
        }
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
      },
    );
  }

  /** Whether an Idempotency-Key of this tenant is held in this partition (a retry would be answered as a replay). */
  async idempotencyKeyHeld(p: PartitionId, tenant: string, key: string): Promise<boolean> {
    return (await this.ctx.redis.exists(this.ctx.keys.partitionKeys(p).idem(tenant, key))) === 1;
  }

  async get(id: string): Promise<RequestRecord | undefined> {
    const p = this.partitionOf(id);
    if (p === undefined) return undefined;
    const hash = (await this.ctx.redis.hgetall(this.ctx.keys.partitionKeys(p).req(id))) as Record<string, string>;
    return parseRecord(hash);
  }

  /**
   * The public request objects of `ids` (same order; undefined where a record is gone), reading only the fields the
   * object shows — not the body, which may be megabytes. One HMGET each, sent together (auto-pipelining, per node on a
   * Cluster): what a burst of answers to waiting connections reads (S7).
   */
  async objects(ids: readonly string[]): Promise<Array<RequestObject | undefined>> {
    return Promise.all(
      ids.map(async (id) => {
        const p = this.partitionOf(id);
        if (p === undefined) return undefined;
        const values = await this.ctx.redis.hmget(this.ctx.keys.partitionKeys(p).req(id), ...OBJECT_FIELDS);
        const hash: Record<string, string> = {};
        for (const [i, field] of OBJECT_FIELDS.entries()) {
          const v = values[i];
          if (v !== null && v !== undefined) hash[field] = v;
        }
        const record = parseRecord(hash);
        return record && toRequestObject(record);
      }),
    );
  }

  /**
   * The outcomes of `ids` (same order; undefined where a record is gone): three fields each, one HMGET each, sent
   * together (auto-pipelining). What a burst of answers to waiting connections reads (S7): the answer is the stored
   * response's body, nothing else of the record.
   */
  async outcomes(ids: readonly string[]): Promise<Array<RequestOutcome | undefined>> {
    return Promise.all(
      ids.map(async (id) => {
        const p = this.partitionOf(id);
        if (p === undefined) return undefined;
        const [status, response, error] = await this.ctx.redis.hmget(
          this.ctx.keys.partitionKeys(p).req(id),
          'status',
          'response',
          'error',
        );
        // Every record has a status (enqueue-many writes it): none means the record is gone.
        if (!status) return undefined;
        return { id, status: status as RequestStatus, response: response || undefined, error: error || undefined };
      }),
    );
  }

  /** Cancels a queued request of this tenant; `conflict` once it is batched or later. */
  async cancel(
    id: string,
    tenant: string,
  ): Promise<{ kind: 'cancelled'; outbox: string } | { kind: 'not_found' } | { kind: 'conflict'; status: string }> {
    const p = this.partitionOf(id);
    if (p === undefined) return { kind: 'not_found' };
    const k = this.ctx.keys.partitionKeys(p);
    const options = { tag: k.tag, tenant, now: Date.now(), retention: this.ctx.options.retentionMs, partition: p };
    const reply = await this.ctx.redis.bbCancel(k.req(id), JSON.stringify(options));
    const kind = String(reply[0]);
    if (kind === 'cancelled') return { kind, outbox: String(reply[1]) };
    if (kind === 'conflict') return { kind, status: String(reply[1]) };
    return { kind: 'not_found' };
  }

  /** Non-terminal requests per partition (for capacity checks), and for one tenant. */
  async openCounts(tenant: string): Promise<{ global: number[]; tenant: number[] }> {
    // One MGET per partition (both keys share its hash tag), not one pipeline over all partitions: on a Redis Cluster
    // a pipeline must stay on one node. Auto-pipelining still batches these per node.
    const replies = await Promise.all(
      this.ctx.keys.allPartitions().map((p) => {
        const k = this.ctx.keys.partitionKeys(p);
        return this.ctx.redis.mget(k.open, k.openTenant(tenant));
      }),
    );
    return {
      global: replies.map((r) => Number(r[0] ?? 0)),
      tenant: replies.map((r) => Number(r[1] ?? 0)),
    };
  }

  /** Requests per non-terminal state, summed over partitions. */
  async stateCounts(): Promise<Record<(typeof OPEN_STATUSES)[number], number>> {
    const out = { queued: 0, batched: 0, submitted: 0 };
    for (const p of this.ctx.keys.allPartitions()) {
      const h = (await this.ctx.redis.hgetall(this.ctx.keys.partitionKeys(p).counts)) as Record<string, string>;
      for (const s of ['queued', 'batched', 'submitted'] as const) out[s] += Number(h[s] ?? 0);
    }
    return out;
  }

  /** The tenants of some requests (same order; undefined where a record is gone), e.g. for per-request log lines. */
  async tenantsOf(p: PartitionId, ids: readonly string[]): Promise<Array<string | undefined>> {
    return this.field(p, ids, 'tenant');
  }

  /** The JSONL line bodies of some requests (same order; undefined where a record is gone). */
  async bodies(p: PartitionId, ids: readonly string[]): Promise<Array<string | undefined>> {
    return this.field(p, ids, 'body');
  }

  private async field(p: PartitionId, ids: readonly string[], name: string): Promise<Array<string | undefined>> {
    if (ids.length === 0) return [];
    const k = this.ctx.keys.partitionKeys(p);
    const pipeline = this.ctx.redis.pipeline();
    for (const id of ids) pipeline.hget(k.req(id), name);
    const replies = (await pipeline.exec()) ?? [];
    return replies.map((r) => (r[1] === null || r[1] === undefined ? undefined : String(r[1])));
  }

  /**
   * Applies routed results; each item is one request of `batchId`. Returns the outcome per item and the outbox entries
   * written (delivery jobs). Items for requests not submitted in this batch are 'stale' and change nothing.
   */
  async settle(
    p: PartitionId,
    batchId: string,
    items: Array<{
      id: string;
      kind: SettleKind;
      response?: unknown;
      /** `response` as JSON (text or UTF-8 bytes), when the caller has it: stored as it is. */
      responseJson?: string | Buffer;
      /**
       * `response.body` as JSON (UTF-8 bytes), when the caller has it (a large line's body as the provider wrote it):
       * stored as `{"status_code":<response.status_code>,"body":<these bytes>}`, its pieces written to the socket as
       * they are (wrapBody, spread-eval.ts: no copy in this process, and no wrapping in the script: Redis's one thread
       * is the scarcer).
       */
      responseBody?: Buffer;
      message?: string;
      group?: string;
      truncated?: boolean;
      lane?: string;
      bill?: BillItem | undefined;
    }>,
  ): Promise<{ outcomes: SettleOutcome[]; outbox: string[]; billed: Array<Billed | undefined> }> {
    const k = this.ctx.keys.partitionKeys(p);
    const { maxAttempts, retentionMs, ledgerDays } = this.ctx.options;
    const now = Date.now();
    const call = JSON.stringify({
      tag: k.tag,
      batchId,
      now,
      maxAttempts,
      retention: retentionMs,
      partition: p,
      ledger: { ...ledgerDay(now), keepDays: ledgerDays },
    });
    const slices: Array<Promise<string[]>> = [];
    for (let start = 0; start < items.length; start += SETTLE_SLICE) {
      const slice = items.slice(start, start + SETTLE_SLICE);
      const keys = slice.map((item) => k.req(item.id));
      const args: SpreadValue[] = [call];
      let spread = false;
      slice.forEach((item) => {
        const wrapped = wrapBody(item);
        if (wrapped) spread = true;
        // The item's options, then its response (see settle-many.lua).
        args.push(
          settleItemOptions(item),
          wrapped ?? item.responseJson ?? (item.response === undefined ? '' : JSON.stringify(item.response)),
        );
      });
      const redis = this.ctx.redis;
      slices.push(
        spread
          ? evalSpread(redis, 'settle-many', keys, args, (joined) =>
              redis.bbSettleMany(keys.length, ...keys, ...joined),
            )
          : redis.bbSettleMany(keys.length, ...keys, ...(args as Array<string | Buffer>)),
      );
    }
    const outbox: string[] = [];
    const outcomes: SettleOutcome[] = [];
    const billed: Array<Billed | undefined> = [];
    const replies = await Promise.all(slices);
    // Before any delivery job is relayed: an outcome told to a receiver must survive the master's loss.
    await this.ctx.confirm();
    for (const reply of replies) {
      for (let i = 0; i < reply.length; i += 3) {
        outcomes.push(String(reply[i]) as SettleOutcome);
        const member = reply[i + 1];
        if (member) outbox.push(String(member));
        const line = reply[i + 2] ? String(reply[i + 2]).split(' ') : undefined;
        billed.push(
          line
            ? {
                tenant: line[0] as string,
                lane: line[1] as string,
                usdNano: Number(line[2]),
                realtimeNano: Number(line[3]),
                priced: line[4] === '1',
              }
            : undefined,
        );
      }
    }
    return { outcomes, outbox, billed };
  }

  // --- delivery ----------------------------------------------------------------------------------------------------

  /**
   * The webhook body of an outcome (webhook-body.ts): rebuilt from its terminal record, and on the first attempt its
   * mark fixed on the record (`set-webhook-mark`) so that every later attempt checks it rebuilds the same bytes. A
   * record that has expired is not written again (it would have no TTL): the body is built and sent as it is.
   */
  async webhookBody(p: PartitionId, record: RequestRecord): Promise<WebhookBodyChoice> {
    const choice = webhookBodyFor(record);
    if (choice.mark === undefined) return choice;
    const key = this.ctx.keys.partitionKeys(p).req(record.id);
    // 1: ours is now the mark (the common case: first attempt); -1: no record. 0: another attempt fixed one since
    // the record was read: checked against that one.
    if ((await this.ctx.redis.bbSetWebhookMark(key, choice.mark)) !== 0) return choice;
    const fixed = await this.ctx.redis.hget(key, 'webhook_fp');
    return fixed === null ? choice : webhookBodyFor({ ...record, webhook_fp: fixed });
  }

  webhookId(id: string): string {
    return webhookIdFor(id);
  }

  /** A 2xx: answers true only for the first successful delivery (turnaround metric); redeliveries answer false. */
  async markDelivered(p: PartitionId, id: string): Promise<boolean> {
    const k = this.ctx.keys.partitionKeys(p);
    const options = JSON.stringify({ tag: k.tag, id, now: Date.now() });
    return (await this.ctx.redis.bbMarkDelivered(k.req(id), options)) === 1;
  }

  /**
   * The receiver answered 410 Gone: no further attempts. Recorded on the request (like `delivered_at` for a 2xx) so that
   * a delivery job re-run after its completion was lost does not send again; a redeliver still can.
   */
  async markGone(p: PartitionId, id: string, reason: 'gone' | 'aborted' = 'gone'): Promise<void> {
    const k = this.ctx.keys.partitionKeys(p);
    await this.ctx.redis.bbMarkGone(k.req(id), JSON.stringify({ tag: k.tag, id, now: Date.now(), reason }));
  }

  /** One attempt into the outcome's delivery log (newest first, `max` kept); its number, or -1 for a gone record. */
  async recordAttempt(p: PartitionId, id: string, attempt: DeliveryAttemptInput, max: number): Promise<number> {
    const k = this.ctx.keys.partitionKeys(p);
    const options = JSON.stringify({ tag: k.tag, id, max, retention: this.ctx.options.retentionMs });
    return this.ctx.redis.bbRecordAttempt(k.req(id), options, JSON.stringify(attempt));
  }

  /** The outcome's delivery log, oldest attempt first. */
  async deliveryLog(p: PartitionId, id: string): Promise<DeliveryAttempt[]> {
    const entries = (await this.ctx.redis.lrange(this.ctx.keys.partitionKeys(p).attempts(id), 0, -1)) as string[];
    return entries.map((e) => JSON.parse(e) as DeliveryAttempt).reverse();
  }

  /** Requests of the partition that finished in [sinceMs, untilMs], oldest first, `limit` from `offset`. */
  async finishedBetween(
    p: PartitionId,
    sinceMs: number,
    untilMs: number,
    limit: number,
    offset: number,
  ): Promise<string[]> {
    const key = this.ctx.keys.partitionKeys(p).finished;
    return (await this.ctx.redis.zrangebyscore(key, sinceMs, untilMs, 'LIMIT', offset, limit)) as string[];
  }

  /** What a replay needs to know of each request (same order; undefined where the record is gone). */
  async deliveryFacts(
    p: PartitionId,
    ids: readonly string[],
  ): Promise<
    Array<{ tenant: string; delivered: boolean; dead: boolean; gone: boolean; attempts: number } | undefined>
  > {
    const k = this.ctx.keys.partitionKeys(p);
    const pipeline = this.ctx.redis.pipeline();
    for (const id of ids) pipeline.hmget(k.req(id), 'tenant', 'delivered_at', 'dead', 'gone_at', 'delivery_attempts');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, value]) => {
      if (err) throw err;
      const [tenant, delivered, dead, gone, attempts] = value as Array<string | null>;
      if (!tenant) return undefined;
      return {
        tenant,
        delivered: Boolean(delivered),
        dead: dead === '1',
        gone: Boolean(gone),
        attempts: Number(attempts ?? 0),
      };
    });
  }

  /**
   * Finished requests whose outcome was neither delivered, gone nor dead-lettered, finished before `beforeMs`, oldest
   * first, `limit` of them from `offset` (a caller pages through the index; members it removed shift the offset).
   */
  async undeliveredBefore(p: PartitionId, beforeMs: number, limit = 200, offset = 0): Promise<string[]> {
    const key = this.ctx.keys.partitionKeys(p).undelivered;
    return (await this.ctx.redis.zrangebyscore(key, '-inf', beforeMs, 'LIMIT', offset, limit)) as string[];
  }

  /**
   * Whether the outcome of each request is still owed: false when its record is gone (expired) or its outcome was
   * delivered, refused for good (410) or dead-lettered. Reads four fields, not the record (bodies can be large).
   */
  async outcomesOwed(p: PartitionId, ids: readonly string[]): Promise<boolean[]> {
    const k = this.ctx.keys.partitionKeys(p);
    const pipeline = this.ctx.redis.pipeline();
    for (const id of ids) pipeline.hmget(k.req(id), 'id', 'delivered_at', 'gone_at', 'dead');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, value]) => {
      if (err) throw err;
      const [id, delivered, gone, dead] = value as Array<string | null>;
      return Boolean(id) && !delivered && !gone && dead !== '1';
    });
  }

  /** The JSON schema text (structured outputs, SPEC §14) of each request, undefined for those without one. */
  async schemas(p: PartitionId, ids: readonly string[]): Promise<Array<string | undefined>> {
    if (ids.length === 0) return [];
    const k = this.ctx.keys.partitionKeys(p);
    const out = new Array<string | undefined>(ids.length).fill(undefined);
    // One script call per slice (schemas-many.lua), not one HGET per request: most requests have none.
    for (let start = 0; start < ids.length; start += SETTLE_SLICE) {
      const keys = ids.slice(start, start + SETTLE_SLICE).map((id) => k.req(id));
      const reply = await this.ctx.redis.bbSchemasMany(keys.length, ...keys);
      for (let i = 0; i < reply.length; i += 2) out[start + Number(reply[i]) - 1] = String(reply[i + 1]);
    }
    return out;
  }

  /** Takes a request out of the undelivered index (its record expired, or its outcome is recorded after all). */
  async forgetUndelivered(p: PartitionId, id: string): Promise<void> {
    await this.ctx.redis.zrem(this.ctx.keys.partitionKeys(p).undelivered, id);
  }
}

/** The record fields `toRequestObject` reads. */
const OBJECT_FIELDS = [
  'id',
  'status',
  'model',
  'group',
  'client_ref',
  'created_at',
  'completed_at',
  'batch_id',
  'attempts',
  'truncated',
  'response',
  'error',
  'lane',
  'deadline_at',
  'deadline_met',
  'usage',
  'cost',
] as const;
