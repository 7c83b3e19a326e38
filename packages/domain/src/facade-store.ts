/**
 * The Batch API facade aggregate (SPEC §12): uploaded input files (chunked line lists), batches (one hash each) and
 * their lines, which are ordinary request records (`breq_<batch stem><line index>`, see `facadeLineId`). Every state
 * change goes through a `facade-*` script; this module only composes keys, arguments and reads.
 *
 * All of a tenant's files and batches live in one partition (`facadePartition`), so each script touches one hash tag
 * (Redis Cluster) and a listing reads one sorted set.
 */
import { facadeLineId, partitionOfFacadeId } from './ids.js';
import type { PartitionId } from './keys.js';
import type { StoreContext } from './store-context.js';

/** Lines per chunk list of an uploaded file at most, and the bytes after which a chunk is closed early. */
export const FACADE_CHUNK_LINES = 1_000;
export const FACADE_CHUNK_BYTES = 4 * 1024 * 1024;
/** How long chunks written by an upload live until the upload commits them (an upload cut short leaves them). */
const UPLOAD_CHUNK_TTL_MS = 3_600_000;

/** One checked line of an uploaded file as stored: what creating its request needs. */
export interface FacadeLine {
  /** The line's custom_id (the client reference). */
  customId: string;
  url: string;
  model: string;
  group: string;
  tokens: number;
  /** Embedding inputs (1 for other endpoints): the per-batch input budget counts them (SPEC §9). */
  inputs: number;
  /** The body sent upstream (JSON text). */
  body: string;
  /** The JSON schema's text every answer must follow (structured outputs, SPEC §14). */
  schema?: string | undefined;
}

/** The stored form of a line: a JSON header, a newline, the body (facade-enqueue splits it there). */
export function encodeFacadeLine(l: FacadeLine): string {
  const head = {
    c: l.customId,
    u: l.url,
    m: l.model,
    g: l.group,
    t: l.tokens,
    i: l.inputs,
    ...(l.schema ? { s: l.schema } : {}),
  };
  return `${JSON.stringify(head)}\n${l.body}`;
}

export interface FacadeFileRecord {
  id: string;
  tenant: string;
  filename: string;
  bytes: number;
  lines: number;
  chunks: number;
  /** The first line (1-based) of each url the file's lines use. */
  urls: Record<string, number>;
  /** Input tokens of the file's lines by model (the budget check of a batch created from it, SPEC §15). */
  models: Record<string, number>;
  created_at: number;
  enqueuing: number;
}

export interface FacadeBatchRecord {
  id: string;
  tenant: string;
  status: string;
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  created_at: number;
  expires_at: number;
  in_progress_at?: number | undefined;
  finalizing_at?: number | undefined;
  completed_at?: number | undefined;
  failed_at?: number | undefined;
  expired_at?: number | undefined;
  cancelling_at?: number | undefined;
  cancelled_at?: number | undefined;
  total: number;
  chunks: number;
  next_chunk: number;
  enq_lines: number;
  n_completed: number;
  n_failed: number;
  n_cancelled: number;
  ending: '' | 'cancel' | 'expire';
  end_cursor: number;
  errors: unknown;
  metadata: Record<string, string> | null;
  callback_url: string | undefined;
  output_file_id: string | undefined;
  error_file_id: string | undefined;
  output_deleted: boolean;
  errors_deleted: boolean;
}

/** What a line's request record holds for the result files. */
export interface FacadeLineResult {
  id: string;
  status: string | undefined;
  customId: string | undefined;
  /** JSON text `{status_code, body}` as settled, as its bytes (written out as read, never decoded). */
  response: Buffer | undefined;
  /** JSON text `{code, message}`. */
  error: string | undefined;
  completedAt: number | undefined;
}

const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));

export class FacadeStore {
  private readonly ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /** The partition of a facade file or batch id, if well-formed and present here. */
  partitionOf(id: string): PartitionId | undefined {
    const p = partitionOfFacadeId(id);
    return p !== undefined && p < this.ctx.keys.partitions ? p : undefined;
  }

  private k(p: PartitionId) {
    return this.ctx.keys.partitionKeys(p);
  }

  /** Writes chunk `n` of an upload in progress (raw data, invisible until `commitFile`; expires if never committed). */
  async writeChunk(p: PartitionId, fileId: string, n: number, lines: readonly string[]): Promise<void> {
    const key = this.k(p).facadeFileChunk(fileId, n);
    const pipeline = this.ctx.redis.pipeline();
    pipeline.del(key);
    pipeline.rpush(key, ...lines);
    pipeline.pexpire(key, UPLOAD_CHUNK_TTL_MS);
    for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
  }

  /** Drops the chunks of an upload that was refused or cut short. */
  async discardChunks(p: PartitionId, fileId: string, chunks: number): Promise<void> {
    const k = this.k(p);
    for (let n = 0; n < chunks; n += 500) {
      const keys = Array.from({ length: Math.min(500, chunks - n) }, (_, i) => k.facadeFileChunk(fileId, n + i));
      if (keys.length > 0) await this.ctx.redis.unlink(...keys);
    }
  }

  async commitFile(
    p: PartitionId,
    file: Omit<FacadeFileRecord, 'enqueuing' | 'created_at'>,
    now = Date.now(),
  ): Promise<void> {
    const k = this.k(p);
    await this.ctx.redis.bbFacadeFileCommit(
      k.facadeFile(file.id),
      JSON.stringify({
        tag: k.tag,
        ...file,
        urls: JSON.stringify(file.urls),
        models: JSON.stringify(file.models),
        now,
        retention: this.ctx.options.retentionMs,
      }),
    );
  }

  async getFile(id: string): Promise<FacadeFileRecord | undefined> {
    const p = this.partitionOf(id);
    if (p === undefined) return undefined;
    const h = (await this.ctx.redis.hgetall(this.k(p).facadeFile(id))) as Record<string, string>;
    if (!h.id) return undefined;
    return {
      id: h.id,
      tenant: h.tenant ?? '',
      filename: h.filename ?? '',
      bytes: num(h.bytes) ?? 0,
      lines: num(h.lines) ?? 0,
      chunks: num(h.chunks) ?? 0,
      urls: h.urls ? (JSON.parse(h.urls) as Record<string, number>) : {},
      models: h.models ? (JSON.parse(h.models) as Record<string, number>) : {},
      created_at: num(h.created_at) ?? 0,
      enqueuing: num(h.enqueuing) ?? 0,
    };
  }

  /** File ids of a tenant, newest first (or oldest first), after `after` (exclusive), `limit` of them plus one. */
  async listFileIds(p: PartitionId, tenant: string, limit: number, after?: string, order: 'asc' | 'desc' = 'desc') {
    return this.page(this.k(p).facadeFiles(tenant), limit, after, order);
  }

  async deleteFile(
    p: PartitionId,
    tenant: string,
    id: string,
    kind: 'input' | 'output' | 'errors',
    batchId?: string,
  ): Promise<'deleted' | 'not_found' | 'busy'> {
    const k = this.k(p);
    const key = kind === 'input' ? k.facadeFile(id) : k.facadeBatch(batchId ?? '');
    return (await this.ctx.redis.bbFacadeFileDelete(key, JSON.stringify({ tag: k.tag, id, tenant, kind }))) as
      | 'deleted'
      | 'not_found'
      | 'busy';
  }

  async createBatch(
    p: PartitionId,
    b: {
      id: string;
      tenant: string;
      fileId: string;
      endpoint: string;
      window: string;
      windowMs: number;
      metadata: Record<string, string> | null;
      callbackUrl: string | undefined;
      idempotencyKey: string | undefined;
      errors: unknown;
    },
    /** Quotas as enqueue-many applies them (0 or absent: none); `…Elsewhere`: open requests in other partitions. */
    limits: {
      tenantMax?: number | undefined;
      tenantElsewhere?: number;
      globalMax?: number;
      globalElsewhere?: number;
    } = {},
  ): Promise<
    | { kind: 'created'; outbox: string }
    | { kind: 'replayed'; id: string }
    | { kind: 'no_file' }
    | { kind: 'exists' }
    | { kind: 'quota_tenant' | 'quota_global'; open: number }
  > {
    const k = this.k(p);
    const reply = await this.ctx.redis.bbFacadeCreate(
      k.facadeBatch(b.id),
      JSON.stringify({
        tag: k.tag,
        id: b.id,
        tenant: b.tenant,
        fileId: b.fileId,
        endpoint: b.endpoint,
        window: b.window,
        windowMs: b.windowMs,
        now: Date.now(),
        metadata: b.metadata === null ? '' : JSON.stringify(b.metadata),
        callbackUrl: b.callbackUrl ?? '',
        idemKey: b.idempotencyKey ? `batch:${b.idempotencyKey}` : '',
        idemTtl: this.ctx.options.idempotencyTtlMs,
        errors: b.errors === undefined ? '' : JSON.stringify(b.errors),
        retention: this.ctx.options.retentionMs,
        partition: p,
        tenantLimit: limits.tenantMax ?? 0,
        tenantElsewhere: limits.tenantElsewhere ?? 0,
        globalLimit: limits.globalMax ?? 0,
        globalElsewhere: limits.globalElsewhere ?? 0,
      }),
    );
    const kind = String(reply[0]);
    if (kind === 'replayed') return { kind, id: String(reply[1]) };
    if (kind === 'quota_tenant' || kind === 'quota_global') return { kind, open: Number(reply[1]) };
    if (kind === 'created') return { kind, outbox: String(reply[1] ?? '') };
    return { kind: kind as 'no_file' | 'exists' };
  }

  async getBatch(id: string): Promise<FacadeBatchRecord | undefined> {
    const p = this.partitionOf(id);
    if (p === undefined) return undefined;
    const h = (await this.ctx.redis.hgetall(this.k(p).facadeBatch(id))) as Record<string, string>;
    return h.id ? parseBatch(h) : undefined;
  }

  async listBatchIds(p: PartitionId, tenant: string, limit: number, after?: string) {
    return this.page(this.k(p).facadeBatches(tenant), limit, after, 'desc');
  }

  async cancelBatch(id: string, tenant: string): Promise<'cancelling' | 'already' | 'conflict' | 'not_found'> {
    const p = this.partitionOf(id);
    if (p === undefined) return 'not_found';
    const k = this.k(p);
    const reply = await this.ctx.redis.bbFacadeCancel(
      k.facadeBatch(id),
      JSON.stringify({ tag: k.tag, tenant, now: Date.now() }),
    );
    return String(reply[0]) as 'cancelling' | 'already' | 'conflict' | 'not_found';
  }

  /** Enqueues chunk `n` of a batch (cursor-guarded); see facade-enqueue-1.lua for the replies. */
  async enqueueChunk(p: PartitionId, id: string, n: number): Promise<Array<string | number>> {
    const k = this.k(p);
    const o = { tag: k.tag, n, now: Date.now(), retention: this.ctx.options.retentionMs, partition: p };
    return this.ctx.redis.bbFacadeEnqueue(k.facadeBatch(id), JSON.stringify(o));
  }

  async startExpiry(p: PartitionId, id: string): Promise<boolean> {
    const k = this.k(p);
    return (
      (await this.ctx.redis.bbFacadeExpire(k.facadeBatch(id), JSON.stringify({ tag: k.tag, now: Date.now() }))) === 1
    );
  }

  /** One step of a batch's cancel or expiry pass; see facade-end-pass-1.lua for the replies. */
  async endPass(p: PartitionId, id: string, from: number, count: number): Promise<Array<string | number>> {
    const k = this.k(p);
    const o = { tag: k.tag, from, count, now: Date.now(), retention: this.ctx.options.retentionMs, partition: p };
    return this.ctx.redis.bbFacadeEndPass(k.facadeBatch(id), JSON.stringify(o));
  }

  /** Batches of a partition due for the driver (live, score ≤ now). */
  async dueBatches(p: PartitionId, now = Date.now(), limit = 20): Promise<string[]> {
    return (await this.ctx.redis.zrangebyscore(this.k(p).facadeLive, '-inf', now, 'LIMIT', 0, limit)) as string[];
  }

  /** Takes the driver's lease on a batch (one driver at a time); true when taken. */
  async lease(p: PartitionId, id: string, token: string, ms: number): Promise<boolean> {
    return (await this.ctx.redis.set(this.k(p).facadeLease(id), token, 'PX', ms, 'NX')) === 'OK';
  }

  async releaseLease(p: PartitionId, id: string, token: string): Promise<void> {
    const key = this.k(p).facadeLease(id);
    if ((await this.ctx.redis.get(key)) === token) await this.ctx.redis.del(key);
  }

  /**
   * What the result files need of lines [from, from + count) of a batch, in line order: one script call for the page
   * (facade-results), not one HMGET per line.
   */
  async lineResults(p: PartitionId, batchId: string, from: number, count: number): Promise<FacadeLineResult[]> {
    const k = this.k(p);
    const ids: string[] = new Array(count);
    for (let i = 0; i < count; i++) ids[i] = facadeLineId(batchId, from + i);
    const v = await this.ctx.redis.bbFacadeResultsBuffer(
      k.facadeBatch(batchId),
      JSON.stringify({ tag: k.tag }),
      ...ids,
    );
    const text = (b: Buffer | null | undefined) => (b ? b.toString('utf8') : undefined);
    const out: FacadeLineResult[] = new Array(count);
    for (let i = 0, j = 0; i < count; i++, j += 5) {
      out[i] = {
        id: ids[i] as string,
        status: text(v[j]),
        customId: text(v[j + 1]),
        response: v[j + 2] ?? undefined,
        error: text(v[j + 3]),
        completedAt: num(text(v[j + 4])),
      };
    }
    return out;
  }

  /** The custom_ids of lines of an input file's chunk (lines that never became requests, e.g. a failed create). */
  async chunkLines(p: PartitionId, fileId: string, n: number): Promise<string[]> {
    return (await this.ctx.redis.lrange(this.k(p).facadeFileChunk(fileId, n), 0, -1)) as string[];
  }

  /** A page of a sorted-set index, by score (newest first for desc), after a member; one extra to tell has_more. */
  private async page(key: string, limit: number, after: string | undefined, order: 'asc' | 'desc'): Promise<string[]> {
    let start = 0;
    if (after !== undefined) {
      const rank =
        order === 'desc' ? await this.ctx.redis.zrevrank(key, after) : await this.ctx.redis.zrank(key, after);
      if (rank === null) return [];
      start = rank + 1;
    }
    const stop = start + limit;
    const redis = this.ctx.redis;
    return (
      order === 'desc' ? await redis.zrevrange(key, start, stop) : await redis.zrange(key, String(start), String(stop))
    ) as string[];
  }

  /** Drops index members whose records expired (lists skip them; this keeps the index from growing forever). */
  async pruneIndex(p: PartitionId, tenant: string, kind: 'files' | 'batches', ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const k = this.k(p);
    await this.ctx.redis.zrem(kind === 'files' ? k.facadeFiles(tenant) : k.facadeBatches(tenant), ...ids);
  }
}

function parseBatch(h: Record<string, string>): FacadeBatchRecord {
  const json = <T>(v: string | undefined): T | null => (v ? (JSON.parse(v) as T) : null);
  return {
    id: h.id ?? '',
    tenant: h.tenant ?? '',
    status: h.status ?? 'validating',
    endpoint: h.endpoint ?? '',
    input_file_id: h.input_file_id ?? '',
    completion_window: h.completion_window ?? '',
    created_at: num(h.created_at) ?? 0,
    expires_at: num(h.expires_at) ?? 0,
    in_progress_at: num(h.in_progress_at),
    finalizing_at: num(h.finalizing_at),
    completed_at: num(h.completed_at),
    failed_at: num(h.failed_at),
    expired_at: num(h.expired_at),
    cancelling_at: num(h.cancelling_at),
    cancelled_at: num(h.cancelled_at),
    total: num(h.total) ?? 0,
    chunks: num(h.chunks) ?? 0,
    next_chunk: num(h.next_chunk) ?? 0,
    enq_lines: num(h.enq_lines) ?? 0,
    n_completed: num(h.n_completed) ?? 0,
    n_failed: num(h.n_failed) ?? 0,
    n_cancelled: num(h.n_cancelled) ?? 0,
    ending: (h.ending ?? '') as FacadeBatchRecord['ending'],
    end_cursor: num(h.end_cursor) ?? 0,
    errors: json(h.errors),
    metadata: json<Record<string, string>>(h.metadata),
    callback_url: h.callback_url || undefined,
    output_file_id: h.output_file_id || undefined,
    error_file_id: h.error_file_id || undefined,
    output_deleted: h.output_deleted === '1',
    errors_deleted: h.errors_deleted === '1',
  };
}
